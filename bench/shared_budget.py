"""Claim: runs that share a target share one budget through their state store: three
``custsync sync`` processes (three entities) on one PostgreSQL store stay within the API's
limit together and use >= 90% of it, limit known (``--rate-limit`` is the total) or not;
beside the same three processes each on a store of its own (nothing shared).

Also measured: what a shared bucket costs per request (one transaction on the store, as a
database-backed bucket such as PyrateLimiter's makes for every acquire) against the lease's
one beat every half second per run.

    bash .ci/start-postgres   # or any PostgreSQL
    uv run python bench/shared_budget.py --postgres postgresql://custsync@127.0.0.1:54329/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.sync_throughput import write_export
from connectors.state.budget import Lease
from connectors.state.store import StateStore
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess

ROOT = Path(__file__).parents[1]
AUTH = ("bench", "bench-key")
LIMIT = 100.0


def fresh_schema(url: str) -> str:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    return f"{url}?options=-csearch_path%3D{schema}"


Outcome = tuple[float, list[dict[str, object]], dict[str, object]]


def three_runs(
    server: SandboxProcess, tmp: Path, states: list[str], rows: int, known: bool
) -> Outcome:
    env = {**os.environ, "VERIFONE_USER_UID": AUTH[0], "VERIFONE_API_KEY": AUTH[1]}
    before = server.stats()
    runs = []
    started = time.perf_counter()
    for n, state in enumerate(states):
        name = f"e{n}-{uuid.uuid4().hex[:4]}"
        source = tmp / f"{name}.csv"
        write_export(source, rows, name)
        extra = ["--rate-limit", str(LIMIT)] if known else []
        runs.append((tmp / name, subprocess.Popen(
            [sys.executable, "-m", "flows", "-q", "sync", str(source), "--target", server.url,
             "--entity-id", name, "--state", state, "--out", str(tmp / name), *extra],
            env=env, cwd=ROOT,
        )))  # fmt: skip
    for _, process in runs:
        process.wait()
    wall = time.perf_counter() - started
    after = server.stats()
    reports = [json.loads((out / "report.json").read_text()) for out, _ in runs]
    delta = {
        "writes": after["writes"]["total"] - before["writes"]["total"],
        "requests": after["requests"] - before["requests"],
        "rate_limited": after["rate_limited"] - before["rate_limited"],
    }
    return wall, reports, delta


def round_trips(location: str, count: int = 500) -> tuple[float, float]:
    """Milliseconds per transaction of a per-request shared bucket (an UPDATE ... RETURNING
    of one row) and of one lease beat."""
    store = StateStore.open(location)
    db = store.db
    db.execute("CREATE TABLE IF NOT EXISTS bench_bucket (k TEXT PRIMARY KEY, tokens REAL)")
    db.execute("INSERT INTO bench_bucket VALUES ('t', 1e9) ON CONFLICT (k) DO NOTHING")
    db.commit()
    started = time.perf_counter()
    for _ in range(count):
        db.execute("UPDATE bench_bucket SET tokens = tokens - 1 WHERE k = 't' RETURNING tokens")
        db.commit()
    bucket_ms = (time.perf_counter() - started) / count * 1000
    leases = store.budget
    started = time.perf_counter()
    for n in range(count):
        leases.beat("bench", Lease("run", time.time(), 33.0, None, None, None))
        del n
    beat_ms = (time.perf_counter() - started) / count * 1000
    store.close()
    return bucket_ms, beat_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case (the spread)")
    parser.add_argument("--cases", default="known-shared,known-own,unknown-shared,unknown-own",
                        help="comma-separated: {known,unknown}-{shared,own}")  # fmt: skip
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    faults = FaultSettings(rate_limit=LIMIT, burst=10, latency_ms=40)
    print(f"machine: {os.cpu_count()} cores; sandbox: token bucket {LIMIT:.0f} req/s, burst 10, "
          f"40 ms latency; 3 processes x {args.rows:,} rows")  # fmt: skip
    print(f"{'stores':<30}{'limit':<9}{'wall s':>8}{'writes/s':>10}{'of limit':>10}"
          f"{'429 share':>11}  per process creates/s")  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxProcess(db=f"{tmp}/sandbox.db", users=dict([AUTH]), faults=faults) as server,
    ):
        for case in cases:
            known, shared = case.startswith("known"), case.endswith("shared")
            for _ in range(args.repeat):
                shared_state = fresh_schema(args.postgres)
                states = [shared_state] * 3 if shared else [
                    f"{tmp}/own-{n}-{uuid.uuid4().hex[:4]}.db" for n in range(3)]  # fmt: skip
                wall, reports, delta = three_runs(server, Path(tmp), states, args.rows, known)
                rate = float(delta["writes"]) / wall  # type: ignore[arg-type]
                share_429 = float(delta["rate_limited"]) / float(delta["requests"])  # type: ignore[arg-type]
                sending = [float(r["created"]) / float(r["load_duration_s"])  # type: ignore[arg-type]
                           for r in reports]  # fmt: skip
                each = ", ".join(f"{x:.1f}" for x in sending) + f" (sum {sum(sending):.1f})"
                label = "one PostgreSQL store" if shared else "a SQLite store each"
                limit = "known" if known else "unknown"
                print(f"{label:<30}{limit:<9}{wall:>8.1f}{rate:>10.1f}{rate / LIMIT:>10.1%}"
                      f"{share_429:>11.2%}  {each}", flush=True)  # fmt: skip
    for name, location in (("PostgreSQL", fresh_schema(args.postgres)),
                           ("SQLite", f"{tempfile.mkdtemp()}/rt.db")):  # fmt: skip
        bucket_ms, beat_ms = round_trips(location)
        print(f"{name}: a shared bucket's transaction per request {bucket_ms:.2f} ms "
              f"(x 100 req/s = {bucket_ms * 100 / 1000:.0%} of a connection's time, every "
              f"request waiting for one); a lease beat {beat_ms:.2f} ms, twice a second "
              "per run")  # fmt: skip


if __name__ == "__main__":
    main()
