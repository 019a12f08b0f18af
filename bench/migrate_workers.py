"""Claim: ``custsync migrate`` spreads over workers: against a sandbox limited to 100 req/s the
shards of 1, 2 and 3 workers together hold the limit (and use most of it); against an
unlimited sandbox, throughput grows with the workers (this machine's 2 cores bound it).
With ``--kill``: a worker that dies mid-migration (kill -9 of it and every process under it,
a third of the way in) costs seconds, not minutes: the API's writes each second from the
first to the last, the longest stretch under 10 a second, and the share of the limit held.

A real ``prefect server start``, real process workers (``--limit 2`` each), PostgreSQL, the
sandbox on loopback; shards = 2 per worker.

    bash .ci/start-postgres   # or any PostgreSQL
    uv run python bench/migrate_workers.py --postgres postgresql://custsync@127.0.0.1:54329/postgres
    uv run python bench/migrate_workers.py --postgres ... --kill [--kill-rows 6000]
    uv run python bench/migrate_workers.py --postgres ... --kill --kill-at 0.02
      (killed as the first rows are written: the others' runs may still be starting)
    uv run python bench/migrate_workers.py --postgres ... --kill --warm-rows 3000
      (another entity migrated first, on the same store and API: the limit found before)
    uv run python bench/migrate_workers.py --postgres ... --kill --told
      (the migration is given the limit: --rate-limit 100)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.shared_budget import fresh_schema
from bench.sync_throughput import write_export
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess, kill_tree

ROOT = Path(__file__).parents[1]
AUTH = ("bench", "bench-key")
PREFECT = [sys.executable, "-m", "prefect"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(tmp: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home"),
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "VERIFONE_USER_UID": AUTH[0], "VERIFONE_API_KEY": AUTH[1]}  # fmt: skip
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=log, stderr=log)  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server, env
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("the Prefect server did not start")


def one_migration(
    env: dict[str, str], tmp: Path, postgres: str, workers: int, rows: int, limit: float | None
) -> dict[str, Any]:
    pool = f"bench-{workers}-{'l' if limit else 'u'}"
    faults = FaultSettings(rate_limit=limit) if limit else FaultSettings()
    with SandboxProcess(users={AUTH[0]: AUTH[1]}, faults=faults) as api:
        source = tmp / f"{pool}.csv"
        write_export(source, rows, pool)
        command = [*PREFECT, "worker", "start", "--pool", pool, "--limit", "2"]
        started_workers = []
        for _ in range(workers):
            started_workers.append(subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True))  # fmt: skip
        try:
            out = tmp / f"out-{pool}"
            started, started_epoch = time.perf_counter(), time.time()
            ran = subprocess.run(
                [sys.executable, "-m", "flows", "-q", "migrate", str(source), "--target", api.url,
                 "--entity-id", "bench", "--state", fresh_schema(postgres), "--shards",
                 str(2 * workers), "--work-pool", pool, "--out", str(out)],
                env=env, cwd=ROOT, capture_output=True, text=True,
            )  # fmt: skip
            wall = time.perf_counter() - started
            if ran.returncode != 0:
                raise SystemExit(ran.stderr[-2000:])
            report = json.loads((out / "report.json").read_text())
            stats = api.stats()
            stamps = created_stamps(api)
            window = max(max(stamps) - min(stamps), 1e-3)
        finally:
            for worker in started_workers:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(30)
    # The API's view: from its first create to its last, every shard together.
    return {"workers": workers, "limit": limit, "rows": rows, "wall_s": wall,
            "first_write_s": min(stamps) - started_epoch,
            "created": report["created"], "sending_s": window,
            "creates_per_s_sending": report["created"] / window,
            "rate_limited": report["rate_limited"], "requests": report["requests"],
            "stats": stats}  # fmt: skip


def killed_worker(
    env: dict[str, str], tmp: Path, postgres: str, rows: int, limit: float = 100.0,
    kill_at: float = 1 / 3, warm_rows: int = 0, told: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Three workers (two runs each), six shards, the limit not told; one worker and all under
    it killed once ``kill_at`` of the rows are created. ``warm_rows``: another entity's
    migration of that many rows first, on the same store and API (the limit found before);
    ``told``: the migrations are given the limit (``--rate-limit``)."""
    pool = "bench-killed"
    with SandboxProcess(users={AUTH[0]: AUTH[1]}, faults=FaultSettings(rate_limit=limit)) as api:
        source = tmp / f"{pool}.csv"
        write_export(source, rows, pool)
        command = [*PREFECT, "worker", "start", "--pool", pool, "--limit", "2"]
        workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
                   for _ in range(3)]  # fmt: skip
        state = fresh_schema(postgres)

        def migrate(export: Path, entity: str, out: Path) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-m", "flows", "-v", "migrate", str(export), "--target", api.url,
                 "--entity-id", entity, "--state", state, "--shards", "6",
                 "--work-pool", pool, "--out", str(out),
                 *(["--rate-limit", str(limit)] if told else [])],
                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip

        try:
            if warm_rows:
                warm = tmp / "warm.csv"
                write_export(warm, warm_rows, "warm")
                _, said = (first := migrate(warm, "warm", tmp / "out-warm")).communicate()
                if first.returncode != 0:
                    raise SystemExit(said[-3000:])
            out = tmp / f"out-{pool}"
            before = api.stats()["writes"]["total"]  # the warm-up's
            started = time.perf_counter()
            run = migrate(source, "bench", out)
            killed_at = None
            while run.poll() is None:
                written = api.stats()["writes"]["total"] - before
                if killed_at is None and written >= rows * kill_at:
                    kill_tree(workers[0].pid)
                    killed_at = time.perf_counter() - started
                time.sleep(0.2)
            _, stderr = run.communicate()
            wall = time.perf_counter() - started
            if os.environ.get("BENCH_MIGRATE_LOG"):  # the parent's own account, to look into
                Path(os.environ["BENCH_MIGRATE_LOG"]).write_text(stderr)
            if run.returncode != 0:
                raise SystemExit(stderr[-3000:])
            report = json.loads((out / "report.json").read_text())
            stamps = created_stamps(api)
        finally:
            for worker in workers[1:]:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(30)
    first = min(stamps)
    per_second = [0] * (int(max(stamps) - first) + 1)
    for stamp in stamps:
        per_second[int(stamp - first)] += 1
    stall = longest = 0
    for count in per_second:
        stall = stall + 1 if count < 10 else 0
        longest = max(longest, stall)
    return {"rows": rows, "customers": len(stamps), "wall_s": round(wall, 1),
            "killed_at_s": round(killed_at or 0, 1), "sending_s": len(per_second),
            "of_limit": round(len(stamps) / len(per_second) / limit, 3),
            "longest_under_10_per_s": longest, "max_per_s": max(per_second),
            "rate_limited": report["rate_limited"], "requests": report["requests"],
            "reconciliations": report.get("reconciliations"),
            "beat_gap": re.findall(r"longest heartbeat gap seen: [0-9.]+ s", stderr),
            "per_second": per_second}  # fmt: skip


def created_stamps(api: SandboxProcess) -> list[float]:
    """Every bench customer's ``created_at`` (epoch seconds)."""
    from datetime import datetime

    stamps: list[float] = []
    with httpx.Client(base_url=api.url, auth=AUTH, timeout=60) as client:
        for page in range(1, 10_000):
            batch = client.get("/v2/customer", params={
                "search": 'entity_id=="bench"', "page_size": 500, "page_number": page,
            }).json()  # fmt: skip
            stamps += [datetime.fromisoformat(c["created_at"]).timestamp() for c in batch]
            if len(batch) < 500:
                break
    return stamps


def creating_window(api: SandboxProcess) -> float:
    """Seconds from the sandbox's first customer created to its last (its ``created_at``)."""
    stamps = created_stamps(api)
    return max(max(stamps) - min(stamps), 1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--limited-rows", type=int, default=3000)
    parser.add_argument("--unlimited-rows", type=int, default=20000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--kill", action="store_true", help="the killed-worker run only")
    parser.add_argument("--kill-rows", type=int, default=6000)
    parser.add_argument(
        "--kill-at",
        type=float,
        default=1 / 3,
        help="the share of the rows created when the worker is killed",
    )
    parser.add_argument(
        "--warm-rows",
        type=int,
        default=0,
        help="another entity's migration of that many rows first (the limit "
        "found before, kept in the store)",
    )
    parser.add_argument("--told", action="store_true",
                        help="the migrations are given the limit (--rate-limit 100)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-migrate-") as scratch:
        tmp = Path(scratch)
        server, env = start_server(tmp)
        try:
            if args.kill:
                result = killed_worker(env, tmp, args.postgres, args.kill_rows,
                                       kill_at=args.kill_at, warm_rows=args.warm_rows,
                                       told=args.told)  # fmt: skip
                told = "told: --rate-limit 100" if args.told else "not told"
                print(f"machine: {os.cpu_count()} cores; 3 workers (--limit 2), 6 shards, "
                      f"sandbox 100/s ({told}); one worker killed -9 at "
                      f"{result['killed_at_s']} s")  # fmt: skip
                print(json.dumps({k: v for k, v in result.items() if k != "per_second"}))
                print(
                    "writes each second, first to last:", " ".join(map(str, result["per_second"]))
                )
                return
            results = []
            for limit, rows in ((100.0, args.limited_rows), (None, args.unlimited_rows)):
                for workers in (int(w) for w in args.workers.split(",")):
                    results.append(one_migration(env, tmp, args.postgres, workers, rows, limit))
                    print(json.dumps({k: v for k, v in results[-1].items() if k != "stats"}),
                          file=sys.stderr, flush=True)  # fmt: skip
        finally:
            server.terminate()
            server.wait(30)
    print(f"machine: {os.cpu_count()} cores; shards = 2 per worker, each worker --limit 2")
    print("creates/s: the sandbox's, from its first create to its last (all shards together)")
    print(f"{'sandbox':<14}{'workers':>8}{'rows':>8}{'wall s':>8}{'1st write s':>12}"
          f"{'sending s':>10}{'creates/s':>11}{'429 share':>11}{'of limit':>10}")  # fmt: skip
    for r in results:
        share = r["rate_limited"] / r["requests"] if r["requests"] else 0.0
        of_limit = f"{r['creates_per_s_sending'] / r['limit']:.1%}" if r["limit"] else "-"
        label = f"{r['limit']:.0f}/s" if r["limit"] else "unlimited"
        print(f"{label:<14}{r['workers']:>8}{r['rows']:>8,}{r['wall_s']:>8.1f}{r['first_write_s']:>12.1f}"
              f"{r['sending_s']:>10.1f}{r['creates_per_s_sending']:>11,.1f}{share:>11.2%}"
              f"{of_limit:>10}")  # fmt: skip


if __name__ == "__main__":
    main()
