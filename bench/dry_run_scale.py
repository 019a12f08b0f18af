"""Claim 3: a sync streams — a dry run (read, validate, plan against the state store) of 1M rows
beside a plain-Python csv loop doing the same checks, and peak RSS flat from 1M to 10M rows.

Each command runs as a user runs it from a shell (``uv run custsync sync ... --dry-run``, its
summary printed; the plain loop through ``uv run`` too), timed wall-clock from start to exit:
start-up, the census and writing plan.csv and rejects.csv included; peak RSS is the child's
ru_maxrss. The 10M-row export is ten suffixed copies of the 1M one (bench/exports.py).

    uv run python bench/dry_run_scale.py [--rows 1000000] [--copies 3,10] [--library-baseline]

The plain loop is issue 16's: csv.DictReader with every rule a regex, one row at a time
(``baseline_validate.py --emails regex``); ``--library-baseline`` adds the same loop calling
email-validator on each address (the loop bench/validate_throughput.py compares with).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.exports import scale_csv, write_salesforce_csv
from bench.validate_throughput import measure

ROOT = Path(__file__).parents[1]
MAPPING = ROOT / "data/mappings/salesforce.toml"


# As a user runs them from a shell: through uv, custsync's summary printed (to /dev/null
# here); the plain loop through uv too. Without uv on PATH, the venv's interpreter.
UV = shutil.which("uv")
RUN = [UV, "run", "--project", str(ROOT), "--quiet"] if UV else [sys.executable, "-m"]


def dry_run(export: Path, out: Path) -> tuple[float, float]:
    custsync = ["custsync"] if UV else ["flows"]
    return measure([
        *RUN, *custsync, "sync", str(export), "--dry-run",
        "--mapping", str(MAPPING), "--state", str(out / "state.db"), "--out", str(out),
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--copies", default="3,10", help="larger exports, in copies of --rows")
    parser.add_argument(
        "--library-baseline", action="store_true", help="also the loop with email-validator"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "contacts.csv"
        started = time.perf_counter()
        write_salesforce_csv(base, args.rows)
        print(f"machine: {os.cpu_count()} cores; export: {args.rows:,} rows, "
              f"{base.stat().st_size / 1e6:.0f} MB (generated in "
              f"{time.perf_counter() - started:.1f} s)")  # fmt: skip
        print(f"{'':<34}{'rows':>12}{'wall s':>9}{'rows/s':>10}{'peak RSS MiB':>14}")
        rows_1 = args.rows
        python = [*RUN[:-1], "python"] if UV else [sys.executable]
        baseline = [*python, str(ROOT / "bench/baseline_validate.py"), str(base),
                    f"{tmp}/base"]  # fmt: skip
        print(f"as a user runs them: {' '.join(RUN[:2] if UV else RUN)} ...")
        ours = dry_run(base, Path(tmp) / "ours")
        plain = measure([*baseline, "--emails", "regex"])
        runs = [("custsync sync --dry-run", ours), ("plain loop, rules as regexes", plain)]
        if args.library_baseline:
            runs.append(("plain loop, email-validator", measure(baseline)))
        for name, (wall, rss) in runs:
            print(f"{name:<34}{rows_1:>12,}{wall:>9.1f}{rows_1 / wall:>10,.0f}{rss:>14,.0f}")
        print(f"custsync is {plain[0] / ours[0]:.2f}x the plain loop's speed")
        for copies in (int(c) for c in args.copies.split(",") if c):
            big = Path(tmp) / f"contacts-x{copies}.csv"
            scale_csv(base, big, copies)
            wall, rss = dry_run(big, Path(tmp) / f"ours-x{copies}")
            rows = rows_1 * copies
            print(f"{'custsync sync --dry-run':<34}{rows:>12,}{wall:>9.1f}{rows / wall:>10,.0f}"
                  f"{rss:>14,.0f}")  # fmt: skip
            big.unlink()


if __name__ == "__main__":
    main()
