"""Claim: against an API with no rate limit, custsync is not the bottleneck: a real
``custsync sync`` sends at least half the creates/s of a plain threaded stdlib client, in the
same run, against the same sandbox (unlimited, no latency, on loopback; client and sandbox
share this machine's cores).

Printed side by side: the plain client (``http.client``, keep-alive, one connection per
thread); custsync's API client alone (no state store, no planning); the whole ``custsync sync``
(creates over its sending phase, journal and state store included).

    uv run python bench/client_ceiling.py [--rows 20000] [--seconds 10] [--threads 16]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.sync_throughput import write_export
from connectors.api.answers import Answer
from connectors.api.client import CustomerApi
from connectors.api.pacing.concurrency import default_concurrency
from connectors.api.pacing.pacer import RequestPacer
from connectors.api.targets import Credentials
from sandbox.process import SandboxProcess

ROOT = Path(__file__).parents[1]
AUTH = ("bench", "bench-key")


def body(n: int, prefix: str) -> dict[str, object]:
    """What the sync sends for a row of bench.sync_throughput's export: the same work for the
    sandbox whichever client sends it."""
    return {"entity_id": "ceil", "email_address": f"{prefix}{n}@example.com",
            "billing": {"city": "London", "country_code": "GB", "first_name": "Ann",
                        "last_name": f"Lee{n}"}}  # fmt: skip


def plain_threaded(url: str, threads: int, seconds: float) -> float:
    """The hand-written script: threads, each a keep-alive http.client connection."""
    parts = urlsplit(url)
    token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    counter = itertools.count()
    done = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(slot: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.perf_counter() < deadline:
            payload = json.dumps(body(next(counter), "t"))
            connection.request("POST", parts.path + "/v2/customer", payload, headers)
            response = connection.getresponse()
            response.read()
            done[slot] += 200 <= response.status < 300
        connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.perf_counter() - started)


async def api_alone(url: str, seconds: float) -> float:
    concurrency = default_concurrency(None)
    counter = itertools.count()
    done = 0
    credentials = Credentials(user_uid=AUTH[0], api_key=AUTH[1])
    async with CustomerApi(url, credentials, pacer=RequestPacer(None),
                           concurrency=concurrency) as api:  # fmt: skip
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                result = await api.create(body(next(counter), "a"))
                done += result.answer is Answer.DONE

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def whole_sync(url: str, rows: int, tmp: Path) -> tuple[float, dict[str, object]]:
    # Its own entity: the API-alone run's customers are not this store's, and a sync refuses
    # to create twins beside customers its store does not know (issue 33).
    source = tmp / "ceiling.csv"
    write_export(source, rows, "C")
    env = {**os.environ, "VERIFONE_USER_UID": AUTH[0], "VERIFONE_API_KEY": AUTH[1]}
    out = tmp / "out"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "flows", "-q", "sync", str(source), "--target", url,
         "--entity-id", "ceil-sync", "--state", str(tmp / "state.db"), "--out", str(out)],
        check=True, env=env, cwd=ROOT,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report: dict[str, object] = json.loads((out / "report.json").read_text())
    created = float(report["created"])  # type: ignore[arg-type]
    # The steadier figure: the sandbox's share of the two cores moves creates/s from run to run.
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    report["cpu_us_per_create"] = cpu / created * 1e6
    return created / float(report["load_duration_s"]), report  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxProcess(db=f"{tmp}/sandbox.db", users=dict([AUTH])) as server,
    ):
        plain = plain_threaded(server.url, args.threads, args.seconds)
        alone = asyncio.run(api_alone(server.url, args.seconds))
        ours, report = whole_sync(server.url, args.rows, Path(tmp))
    print(f"machine: {os.cpu_count()} cores; unlimited sandbox on loopback, no latency")
    print(f"{'client':<44}{'creates/s':>10}{'vs plain':>10}")
    print(f"{f'plain http.client, {args.threads} threads':<44}{plain:>10.0f}{1:>10.2f}")
    print(f"{'custsync CustomerApi alone':<44}{alone:>10.0f}{alone / plain:>10.2f}")
    print(f"{'custsync sync (sending phase)':<44}{ours:>10.0f}{ours / plain:>10.2f}")
    print(f"custsync sync: {report['created']:,} created, {report['requests']:,} requests, "
          f"{report['load_duration_s']:.1f} s sending, "
          f"{report['cpu_us_per_create']:.0f} µs of CPU a create (whole process)")  # fmt: skip


if __name__ == "__main__":
    main()
