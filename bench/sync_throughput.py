"""Claims: (1) syncing 5,000 rows into a sandbox limited to 100 requests/s with 40 ms latency
uses the limit well, beside a plain sequential httpx loop; (2) an unchanged rerun of 20,000 rows
sends no request and takes seconds.

    uv run python bench/sync_throughput.py [--rows 5000] [--rerun-rows 20000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess

ROOT = Path(__file__).parents[1]
AUTH = ("bench", "bench-key")
HEADER = ["external_id", "email_address", "billing.first_name", "billing.last_name",
          "billing.city", "billing.country_code"]  # fmt: skip


def write_export(path: Path, rows: int, prefix: str) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow(
                [f"{prefix}{n}", f"{prefix}{n}@example.com", "Ann", f"Lee{n}", "London", "GB"]
            )


def run_custsync(
    server: SandboxProcess, source: Path, state: Path, out: Path, *extra: str, entity: str = "bench"
) -> tuple[float, dict]:
    env = {**os.environ, "VERIFONE_USER_UID": AUTH[0], "VERIFONE_API_KEY": AUTH[1]}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flows", "-q", "sync", str(source), "--target", server.url,
         "--entity-id", entity, "--state", str(state), "--out", str(out), *extra],
        check=True, env=env, cwd=ROOT,
    )  # fmt: skip
    wall = time.perf_counter() - started
    return wall, json.loads((out / "report.json").read_text())


def sequential_loop(server: SandboxProcess, rows: int, seconds: float) -> float:
    """The hand-written script: one POST after another, for ``seconds``; returns writes/s."""
    done = 0
    started = time.perf_counter()
    with httpx.Client(base_url=server.url, auth=AUTH) as client:
        while time.perf_counter() - started < seconds and done < rows:
            response = client.post("/v2/customer", json={
                "entity_id": "seq", "email_address": f"s{done}@example.com",
                "billing": {"first_name": "Ann", "last_name": f"Lee{done}"},
            })  # fmt: skip
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--rerun-rows", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--latency-ms", type=float, default=40)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; sandbox limit {args.rate:.0f} req/s (burst = 1 s), "
          f"latency {args.latency_ms:.0f} ms")  # fmt: skip
    faults = FaultSettings(rate_limit=args.rate, latency_ms=args.latency_ms)
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxProcess(db=f"{tmp}/sandbox.db", users={AUTH[0]: AUTH[1]}, faults=faults) as server,
    ):
        tmp_path = Path(tmp)
        source = tmp_path / "load.csv"
        write_export(source, args.rows, "L")
        wall, report = run_custsync(server, source, tmp_path / "s1.db", tmp_path / "o1",
                                    "--rate-limit", str(args.rate))  # fmt: skip
        # Writes/s over the load phase (reading, validating and planning excluded).
        load_s = report["load_duration_s"]
        ours = report["created"] / load_s
        sequential = sequential_loop(server, args.rows, seconds=20)
        print(f"{'':<34}{'writes/s':>10}{'of limit':>10}{'429s':>7}")
        print(f"{'custsync sync --rate-limit':<34}{ours:>10.1f}{ours / args.rate:>10.1%}"
              f"{report['rate_limited']:>7}")  # fmt: skip
        share = sequential / args.rate
        print(f"{'sequential httpx loop':<34}{sequential:>10.1f}{share:>10.1%}{'-':>7}")
        print(f"custsync: {report['created']:,} created in {load_s:.1f} s of sending, "
              f"{report['duration_s']:.1f} s of run, {wall:.1f} s wall with start-up; "
              f"{report['requests']:,} requests")  # fmt: skip

        server.set_faults(FaultSettings())  # the rerun claim is about our side only
        big = tmp_path / "big.csv"
        write_export(big, args.rerun_rows, "R")
        # A store of its own, so an entity of its own: the load's customers are not its twins.
        run_custsync(server, big, tmp_path / "s2.db", tmp_path / "o2", entity="rerun")
        before = server.stats()["requests"]
        wall, report = run_custsync(
            server, big, tmp_path / "s2.db", tmp_path / "o3", entity="rerun"
        )
        sent = server.stats()["requests"] - before
        print(f"unchanged rerun of {args.rerun_rows:,} rows: {wall:.1f} s wall, "
              f"{report['unchanged']:,} unchanged, {sent} requests reached the API")  # fmt: skip


if __name__ == "__main__":
    main()
