"""Lookups of many ids read as Arrow from a real SQLite file: the same rows, values and nulls
as a plain ``sqlite3`` query gives, whatever the order of nulls and text in a column."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl

from connectors.state.customers import ARROW_MIN_IDS, STATE_COLUMNS
from connectors.state.store import StateStore

COLUMNS = "entity_id, external_id, customer_id, payload_hash, status, pending_since"


def seeded(path: Path, count: int) -> None:
    """``count`` customers of E1 and of E2; the first 3,000 of each with every column filled,
    then nulls where the driver has already typed a column by text, then text again."""
    StateStore.open(str(path)).close()
    rows = []
    for entity in ("E1", "E2"):
        for n in range(count):
            never_created = n >= 3_000 and n % 7 == 0
            journalled = n >= 3_000 and n % 11 == 0
            rows.append((
                entity, f"id{n}",
                None if never_created else f"{entity}-uuid-{n}",
                None if never_created else f"hash-{n}",
                "failed" if never_created else "created",
                "2026-12-04T01:00:00Z" if journalled else None,
                "2026-12-04T00:00:00Z", "2026-12-04T00:00:00Z",
            ))  # fmt: skip
    with sqlite3.connect(path) as db:
        db.executemany(
            f"INSERT INTO customer_state ({COLUMNS}, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def plainly(path: Path, ids: list[str], entity: str | None) -> pl.DataFrame:
    """The reference: the same lookup through sqlite3, one id at a time."""
    found = []
    with sqlite3.connect(path) as db:
        for external_id in dict.fromkeys(ids):
            found += db.execute(
                f"SELECT {COLUMNS} FROM customer_state WHERE external_id = ?"
                + (" AND entity_id = ?" if entity else ""),
                (external_id, entity) if entity else (external_id,),
            ).fetchall()
    return pl.DataFrame(found, schema=STATE_COLUMNS, orient="row")


def test_a_lookup_of_many_ids_reads_what_sqlite_holds_nulls_included(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    seeded(path, 6_000)
    # Known and unknown, some named twice (a run's rejected rows repeat ids), past the threshold.
    ids = [f"id{n}" for n in range(0, 9_000, 3)] + [f"id{n}" for n in range(0, 900, 9)]
    assert len(ids) >= ARROW_MIN_IDS
    store = StateStore.open(str(path))
    try:
        for entity in ("E1", None):
            found = (
                store.customers.lookup(entity, ids)
                if entity
                else store.customers.lookup_any_entity(ids)
            )
            expected = plainly(path, ids, entity)
            key = ["entity_id", "external_id"]
            assert found.schema == expected.schema
            assert found.sort(key).equals(expected.sort(key))
            assert found.get_column("customer_id").null_count() > 0
            assert found.get_column("pending_since").null_count() < found.height
    finally:
        store.close()


def test_a_lookup_sees_what_the_run_wrote_a_moment_before(tmp_path: Path) -> None:
    # The loader's writes are deferred (committed within 0.2 s or at the step's end); the
    # Arrow reader is a second connection and sees only what is committed.
    path = tmp_path / "state.db"
    store = StateStore.open(str(path))
    try:
        for n in range(ARROW_MIN_IDS):
            store.customers.record("E1", f"id{n}", "created", "r1", f"u{n}", "h", defer=True)
        found = store.customers.lookup("E1", [f"id{n}" for n in range(ARROW_MIN_IDS)])
        assert found.height == ARROW_MIN_IDS
        assert found.get_column("customer_id").is_not_null().all()
    finally:
        store.close()


def test_a_lookup_of_no_known_id_is_an_empty_frame_of_the_schema(tmp_path: Path) -> None:
    store = StateStore.open(str(tmp_path / "state.db"))
    try:
        found = store.customers.lookup("E1", [f"x{n}" for n in range(ARROW_MIN_IDS)])
        assert found.height == 0 and found.schema == pl.Schema(STATE_COLUMNS)
    finally:
        store.close()
