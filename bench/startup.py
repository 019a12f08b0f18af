"""Claim 5: the fixed cost of a run — interpreter, imports, state store, the embedded sandbox —
measured and cut: a 300-row unchanged nightly run, whole process, beside its parts, and beside
the same commands in an older checkout (``--compare DIR``, e.g. a ``git worktree`` of the commit
before the cuts).

    uv run python bench/startup.py [--repeat 5] [--compare ../custsync-before]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "data/salesforce_contacts.csv"
MAPPING = ROOT / "data/mappings/salesforce.toml"
MODULES = ("polars", "pandera.polars", "httpx", "tenacity", "typer", "rich.console", "prefect")


def timed(command: list[str], cwd: Path, repeat: int) -> float:
    """Median wall seconds of ``repeat`` runs of ``command``."""
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def commands(python: list[str], work: Path) -> dict[str, list[str]]:
    sync = [*python, "-m", "flows", "-q", "sync", str(SAMPLE), "--mapping", str(MAPPING),
            "--out", str(work / "out")]  # fmt: skip
    return {
        "python -c pass": [*python, "-c", "pass"],
        "import polars": [*python, "-c", "import polars"],
        "custsync --help": [*python, "-m", "flows", "--help"],
        "custsync validate (300 rows)": [*python, "-m", "flows", "-q", "validate", str(SAMPLE),
                                         "--mapping", str(MAPPING), "--out", str(work / "v")],
        "custsync sync, unchanged (300 rows)": sync,
    }  # fmt: skip


def measure_checkout(python: list[str], repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = commands(python, work)
        # The first sync creates the customers (embedded sandbox, local state): not measured.
        subprocess.run(runs["custsync sync, unchanged (300 rows)"], cwd=work, check=True,
                       capture_output=True)  # fmt: skip
        return {name: timed(command, work, repeat) for name, command in runs.items()}


def import_costs(python: list[str]) -> dict[str, float]:
    """Cumulative import seconds of each module, alone in a fresh interpreter."""
    costs = {}
    for module in MODULES:
        done = subprocess.run([*python, "-X", "importtime", "-c", f"import {module}"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        last = [line for line in done.stderr.splitlines() if line.endswith(f"| {module}")]
        costs[module] = int(last[-1].split("|")[1]) / 1e6 if last else 0.0
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="another checkout of custsync")
    args = parser.parse_args()
    ours = measure_checkout([sys.executable], args.repeat)
    columns = {"this checkout": ours}
    if args.compare:
        project = args.compare.resolve()
        uv = shutil.which("uv") or "uv"
        subprocess.run([uv, "sync", "--project", str(project)], check=True, capture_output=True)
        other = [str(project / ".venv/bin/python")]
        columns[f"{args.compare.name}"] = measure_checkout(other, args.repeat)
    print(f"machine: {os.cpu_count()} cores; median of {args.repeat} runs, whole process")
    print(f"{'':<38}" + "".join(f"{name:>18}" for name in columns))
    for name in ours:
        print(f"{name:<38}" + "".join(f"{c[name]:>17.2f}s" for c in columns.values()))
    print("\nimport cost alone (python -X importtime, cumulative):")
    for module, seconds in import_costs([sys.executable]).items():
        print(f"  {module:<16}{seconds:>6.2f}s")


if __name__ == "__main__":
    main()
