"""The 3DS backfill streams its export as a sync does, and reads the customers it judges with
one search per 100 ids: peak RSS, wall time and requests of ``backfill-3ds --dry-run`` over 1M,
3M and 10M export rows (a few thousand of them known customers, fetched from a real sandbox
limited to --api-rate requests/s), beside the same command in an older checkout that read the
export whole and fetched each customer by GET (``--compare DIR``).

The known customers are created by a real ``custsync sync`` of the export's first rows; the
backfill then reads the whole export, finds those customers, fetches and judges them. Each
command runs as its own process (wall clock, child's ru_maxrss).

    uv run python bench/backfill_scale.py [--rows 1000000] [--known 5000] [--copies 3,10]
        [--api-rate 100] [--compare ../custsync-before]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import polars as pl

from bench.exports import scale_csv, write_salesforce_csv
from bench.validate_throughput import measure
from sandbox.process import SandboxProcess

ROOT = Path(__file__).parents[1]
MAPPING = ROOT / "data/mappings/salesforce.toml"
AUTH = ("bench", "bench-key")
ENTITY = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--known", type=int, default=5_000, help="rows synced first")
    parser.add_argument("--copies", default="3", help="larger exports, in copies of --rows")
    parser.add_argument("--api-rate", type=float, default=100.0, help="sandbox limit, req/s")
    parser.add_argument("--compare", type=Path, help="an older checkout of custsync")
    args = parser.parse_args()
    os.environ.update({"VERIFONE_USER_UID": AUTH[0], "VERIFONE_API_KEY": AUTH[1]})
    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(users={AUTH[0]: AUTH[1]}) as server:
        work = Path(tmp)
        raw, head, state = work / "raw.csv", work / "head.csv", work / "state.db"
        write_salesforce_csv(raw, args.rows)
        # Every export, 1 copy or more, has the same first copy (ids suffixed "-0"), whose
        # first rows are the known customers.
        base = work / "contacts.csv"
        scale_csv(raw, base, 1)
        pl.read_csv(base, n_rows=args.known, infer_schema=False).write_csv(head)
        common = ["--mapping", str(MAPPING), "--target", server.url, "--entity-id", ENTITY,
                  "--state", str(state)]  # fmt: skip
        seed_wall, _ = measure([sys.executable, "-m", "flows", "-q", "sync", str(head), *common,
                                "--out", f"{tmp}/seed"])  # fmt: skip
        seeded = json.loads((work / "seed/report.json").read_text())["created"]
        faults = {"rate_limit": args.api_rate}
        server.admin("POST", "/_sandbox/faults", faults).raise_for_status()
        common += ["--rate-limit", str(args.api_rate)]
        print(f"machine: {os.cpu_count()} cores; {seeded:,} known customers (synced in "
              f"{seed_wall:.1f} s); sandbox on loopback at {args.api_rate:g} req/s")  # fmt: skip
        print(f"{'':<28}{'rows':>12}{'known':>8}{'requests':>10}{'wall s':>9}"
              f"{'peak RSS MiB':>14}")  # fmt: skip

        def backfill(label: str, export: Path, rows: int, checkout: Path) -> None:
            out = work / f"out-{label.split()[0]}-{rows}"
            python = sys.executable if checkout == ROOT else str(checkout / ".venv/bin/python")
            command = [python, "-m", "flows", "-q", "backfill-3ds", str(export), *common,
                       "--out", str(out), "--dry-run"]  # fmt: skip
            before = server.stats()["requests"]
            wall, rss = measure(command, cwd=checkout)
            requests = server.stats()["requests"] - before
            known = json.loads((out / "report.json").read_text())["customers_fetched"]
            print(f"{label:<28}{rows:>12,}{known:>8,}{requests:>10,}{wall:>9.1f}{rss:>14,.0f}")

        exports = [(base, args.rows)]
        for copies in (int(c) for c in args.copies.split(",") if c):
            big = work / f"contacts-x{copies}.csv"
            scale_csv(raw, big, copies)
            exports.append((big, args.rows * copies))
        for export, rows in exports:
            backfill("backfill-3ds (streamed)", export, rows, ROOT)
        if args.compare:
            backfill("backfill-3ds (before)", base, args.rows, args.compare.resolve())


if __name__ == "__main__":
    main()
