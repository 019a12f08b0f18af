"""Claim: whatever the fault mix, every valid row ends up as exactly one customer, and the
mapping matches the server one to one. Prints, per mix: rows, duplicates (must be 0), missing,
requests, extra requests spent reconciling, runs needed, wall time beside the fault-free run.

    uv run python bench/exactly_once_faults.py [--rows 1000]
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

from bench.sync_throughput import write_export
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess

ROOT = Path(__file__).parents[1]
AUTH = ("bench", "bench-key")
MIXES = {
    "no faults": FaultSettings(),
    "5% lost responses": FaultSettings(lost_response_rate=0.05),
    "10% 5xx": FaultSettings(error_rate=0.10),
    "3% resets": FaultSettings(reset_rate=0.03),
    "all + 100 req/s limit": FaultSettings(
        lost_response_rate=0.05, error_rate=0.10, reset_rate=0.03, rate_limit=100
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    env = {**os.environ, "VERIFONE_USER_UID": AUTH[0], "VERIFONE_API_KEY": AUTH[1]}
    print(f"machine: {os.cpu_count()} cores; {args.rows:,} rows per mix, 16 in flight")
    print(f"{'mix':<24}{'rows':>6}{'dupes':>7}{'missing':>8}{'requests':>10}"
          f"{'reconcile':>10}{'runs':>6}{'wall s':>8}")  # fmt: skip
    for name, faults in MIXES.items():
        with (
            tempfile.TemporaryDirectory() as tmp,
            SandboxProcess(users={AUTH[0]: AUTH[1]}, faults=faults, seed=5) as server,
        ):
            source = Path(tmp) / "a.csv"
            write_export(source, args.rows, "F")
            started = time.perf_counter()
            requests = reconcile = runs = 0
            # A run whose rows still failed after retries is followed by another, as users would.
            for runs in range(1, 4):
                out = Path(tmp) / f"out{runs}"
                code = subprocess.run(
                    [sys.executable, "-m", "flows", "-q", "sync", str(source),
                     "--target", server.url, "--entity-id", "B", "--state", f"{tmp}/s.db",
                     "--out", str(out)],
                    env=env, cwd=ROOT, check=False,
                ).returncode  # fmt: skip
                report = json.loads((out / "report.json").read_text())
                requests += report["requests"]
                reconcile += report["reconcile_requests"]
                if code == 0:
                    break
            wall = time.perf_counter() - started
            server.set_faults(FaultSettings())
            query = {"search": 'entity_id=="B"', "page_size": 100000}
            customers = httpx.get(
                f"{server.url}/v2/customer", auth=AUTH, timeout=60, params=query
            ).json()
            with (out / "mappings.csv").open() as handle:
                mapped = {r["customer_id"] for r in csv.DictReader(handle)}
            names = [c["email_address"] for c in customers]
            dupes = len(names) - len(set(names))
            missing = args.rows - len(set(names))
            assert mapped == {c["id"] for c in customers}, "mapping differs from the server"
            print(f"{name:<24}{args.rows:>6}{dupes:>7}{missing:>8}{requests:>10}{reconcile:>10}"
                  f"{runs:>6}{wall:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
