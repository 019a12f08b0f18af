"""Claim: validating 1,000,000 rows of a Salesforce-style export (whole process) is >= 3x faster
than a plain-Python csv.DictReader script doing the same checks, with peak RSS under 2 GiB.

Both run as child processes on the same generated file, side by side, timed wall-clock from
process start to exit; peak RSS is the child's ru_maxrss.

    uv run python bench/validate_throughput.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.exports import write_salesforce_csv

ROOT = Path(__file__).parents[1]


def measure(command: list[str], cwd: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    started = time.perf_counter()
    # A fresh interpreter per measurement: ru_maxrss of RUSAGE_CHILDREN is the max over children,
    # so each command runs under its own intermediate shell-less Python that reports its child.
    probe = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *command],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return time.perf_counter() - started, int(done.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "contacts.csv"
        started = time.perf_counter()
        write_salesforce_csv(export, args.rows)
        size_mb = export.stat().st_size / 1e6
        print(f"machine: {os.cpu_count()} cores; export: {args.rows:,} rows, {size_mb:.0f} MB "
              f"(generated in {time.perf_counter() - started:.1f} s)")  # fmt: skip
        ours = measure([
            sys.executable, "-m", "flows", "-q", "validate", str(export),
            "--mapping", str(ROOT / "data/mappings/salesforce.toml"), "--out", f"{tmp}/ours",
        ])  # fmt: skip
        baseline = measure(
            [sys.executable, str(ROOT / "bench/baseline_validate.py"), str(export), f"{tmp}/base"]
        )
    print(f"{'':<28}{'wall s':>9}{'rows/s':>12}{'peak RSS MiB':>14}")
    for name, (wall, rss) in (("custsync validate", ours), ("csv.DictReader baseline", baseline)):
        print(f"{name:<28}{wall:>9.1f}{args.rows / wall:>12,.0f}{rss:>14,.0f}")
    speedup = baseline[0] / ours[0]
    verdict = "ok" if speedup >= 3 and ours[1] < 2048 else "BELOW TARGET"
    print(
        f"speed-up {speedup:.1f}x (target >= 3x), peak RSS {ours[1]:,.0f} MiB (< 2048): {verdict}"
    )


if __name__ == "__main__":
    main()
