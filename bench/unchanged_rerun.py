"""Claim 4: a nightly run over 1,000,000 known, unchanged customers sends zero requests and
finishes well under a minute (whole process, against a real sandbox on loopback).

The state store is seeded as a first sync would have left it (each row's payload hash and a
UUID, written with bulk SQL: creating 1M customers through a rate-limited API would take hours),
then ``custsync sync`` runs on the same export (every row valid: 1M known customers). Beside
it: the same run on an export where 1% of rows changed, and what a stateless script would
spend (one GET per customer, computed).

    uv run python bench/unchanged_rerun.py [--rows 1000000] [--no-changed]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import polars as pl

from bench.sync_throughput import write_export
from bench.validate_throughput import measure
from connectors.state.db import iso, utc_now
from connectors.state.store import StateStore
from engine.config import SyncConfig
from engine.source import open_source, validate_batch
from sandbox.process import SandboxProcess
from schemas.payload import with_payload_hash

ROOT = Path(__file__).parents[1]
AUTH = ("bench", "bench-key")
ENTITY = "bench"


def seed_state(export: Path, state: Path) -> int:
    """Every valid row of ``export`` recorded as created: its payload hash and a fresh UUID."""
    StateStore.open(str(state)).close()  # the schema
    config = SyncConfig(sources=[str(export)], entity_id=ENTITY)
    stamp = iso(utc_now())
    seeded = 0
    with open_source(config.source_spec()) as source, sqlite3.connect(state) as db:
        for batch in source.batches():
            planned = with_payload_hash(validate_batch(batch, source.census, source.spec).valid)
            rows = [
                (ENTITY, external_id, str(uuid.uuid4()), payload_hash, "created", stamp, stamp)
                for external_id, payload_hash in planned.select(
                    "external_id", "payload_hash"
                ).iter_rows()
            ]
            db.executemany(
                "INSERT INTO customer_state (entity_id, external_id, customer_id, payload_hash,"
                " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            seeded += len(rows)
    return seeded


def change_one_percent(export: Path, target: Path) -> int:
    frame = pl.read_csv(export, infer_schema=False)
    changed = pl.int_range(pl.len()) % 100 == 0
    frame = frame.with_columns(
        pl.when(changed).then(pl.col("billing.city") + " Nord").otherwise(pl.col("billing.city"))
    )
    frame.write_csv(target)
    return frame.select(changed.sum()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-changed", action="store_true", help="only the unchanged rerun")
    args = parser.parse_args()
    env = {"VERIFONE_USER_UID": AUTH[0], "VERIFONE_API_KEY": AUTH[1]}
    os.environ.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        export, state = Path(tmp) / "contacts.csv", Path(tmp) / "state.db"
        write_export(export, args.rows, "N")
        started = time.perf_counter()
        seeded = seed_state(export, state)
        took = time.perf_counter() - started
        print(f"machine: {os.cpu_count()} cores; {args.rows:,} rows, {seeded:,} valid customers "
              f"known to the state store (seeded in {took:.1f} s)")  # fmt: skip
        print(f"{'':<40}{'wall s':>8}{'requests':>10}{'peak RSS MiB':>14}")
        with SandboxProcess(users={AUTH[0]: AUTH[1]}) as server:

            def sync(source: Path, out: str) -> tuple[float, float, int]:
                before = server.stats()["requests"]
                wall, rss = measure([
                    sys.executable, "-m", "flows", "-q", "sync", str(source),
                    "--target", server.url, "--entity-id", ENTITY,
                    "--state", str(state), "--out", f"{tmp}/{out}",
                ])  # fmt: skip
                report = json.loads((Path(tmp) / out / "report.json").read_text())
                sent = report["updated"] + report["created"]
                assert report["unchanged"] + sent == seeded, report
                return wall, rss, server.stats()["requests"] - before

            wall, rss, requests = sync(export, "rerun")
            print(f"{'custsync sync, nothing changed':<40}{wall:>8.1f}{requests:>10,}{rss:>14,.0f}")
            if args.no_changed:
                return
            changed_export = Path(tmp) / "changed.csv"
            changed = change_one_percent(export, changed_export)
            wall, rss, requests = sync(changed_export, "changed")
            print(f"{f'custsync sync, {changed:,} rows changed':<40}{wall:>8.1f}{requests:>10,}"
                  f"{rss:>14,.0f}  (seeded UUIDs are not on the sandbox: 404, create)")  # fmt: skip
        hours = seeded / 100 / 3600
        print(f"{'stateless script (GET each, 100 req/s)':<40}{hours * 3600:>8,.0f}"
              f"{seeded:>10,}{'':>14}  (computed: {hours:.1f} h)")  # fmt: skip


if __name__ == "__main__":
    main()
