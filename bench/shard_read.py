"""Claim: a migration's shard reads the export once. One shard of ``--shards`` of a 1M-row
Salesforce-style CSV, as a dry run (read, census, validate, plan; nothing sent), whole child
process: wall seconds and CPU seconds, here and, with ``--compare DIR``, in another checkout
(a ``git worktree`` of the commit before the change), side by side in one run.

    uv run python bench/shard_read.py [--rows 1000000] [--shards 6] [--repeat 3] [--compare DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.exports import write_salesforce_csv

ROOT = Path(__file__).parents[1]
MAPPING = ROOT / "data/mappings/salesforce.toml"

CHILD = """
import sys
from pathlib import Path
from engine.config import ShardAssignment, SyncConfig
from engine.sync import run_sync
from schemas.shards import Shard
export, tmp, shards, mapping = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
config = SyncConfig(sources=[export], mapping=Path(mapping), dry_run=True, entity_id="shop",
                    state=f"{tmp}/state.db", out=Path(tmp) / "out")
shard = Shard(shards // 2, shards, "shop")
outcome = run_sync(config, assignment=ShardAssignment(shard=shard, migration_id="bench",
                                                      attempt=1))
print(outcome.report.as_json()["rows_read"])
"""


def one_shard(checkout: Path, export: Path, shards: int) -> tuple[float, float, int]:
    """Wall and CPU seconds of one shard's dry run in ``checkout``, and the rows it read."""
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [str(checkout / ".venv/bin/python"), "-c", CHILD, str(export), tmp, str(shards),
             str(MAPPING)],
            cwd=checkout, check=True, capture_output=True, text=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, int(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another checkout of custsync")
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT}
    if args.compare:
        checkouts[args.compare.name] = args.compare.resolve()
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export.csv"
        write_salesforce_csv(export, args.rows)
        for _ in range(args.repeat):  # interleaved: both see the same machine
            for name, checkout in checkouts.items():
                results[name].append(one_shard(checkout, export, args.shards))
    print(f"one shard of {args.shards}, {args.rows:,}-row CSV, dry run, whole process "
          f"(median of {args.repeat})")  # fmt: skip
    print(f"{'checkout':<28}{'rows':>10}{'wall s':>9}{'CPU s':>9}")
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{name:<28}{runs[0][2]:>10,}{wall:>9.2f}{cpu:>9.2f}")
    print(json.dumps({n: [[round(w, 2), round(c, 2)] for w, c, _ in r]
                      for n, r in results.items()}))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
