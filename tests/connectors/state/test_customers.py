"""Customers' states: recorded, looked up in batches, never losing a known UUID."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import polars as pl
import pytest

from connectors.state.migrations import MIGRATIONS
from connectors.state.store import StateStore
from tests.connectors.state.helpers import FixedClock


def test_record_and_lookup(location: str) -> None:
    store = StateStore.open(location)
    store.customers.record("E1", "A", "created", "run1", "uuid-a", "h1")
    store.customers.record("E1", "B", "created", "run1", "uuid-b", "h2")
    store.customers.record("E2", "A", "created", "run1", "uuid-x", "h3")
    found = store.customers.lookup("E1", ["A", "B", "C"]).sort("external_id")
    assert found.select("external_id", "customer_id", "payload_hash").rows() == [
        ("A", "uuid-a", "h1"),
        ("B", "uuid-b", "h2"),
    ]
    assert store.customers.knows_entity("E2") and not store.customers.knows_entity("E3")
    store.close()


def test_results_survive_a_new_connection(location: str) -> None:
    store = StateStore.open(location)
    store.customers.record("E1", "A", "created", "run1", "uuid-a", "h1")
    # no close(): a run killed after this point must still have the result
    again = StateStore.open(location)
    assert again.customers.get("E1", "A").customer_id == "uuid-a"  # type: ignore[union-attr]
    again.close()
    store.close()


def test_a_failure_never_erases_the_known_uuid_or_hash(location: str) -> None:
    store = StateStore.open(location)
    store.customers.record("E1", "A", "created", "run1", "uuid-a", "h1")
    store.customers.record("E1", "A", "failed", "run2", error="HTTP 503")
    state = store.customers.get("E1", "A")
    assert state is not None
    assert (state.customer_id, state.payload_hash, state.status, state.error) == (
        "uuid-a", "h1", "failed", "HTTP 503",
    )  # fmt: skip
    store.close()


def test_batched_lookup_of_many(location: str) -> None:
    store = StateStore.open(location)
    for n in range(120):
        store.customers.record("E1", f"id{n}", "created", "run1", f"uuid{n}", "h")
    ids = [f"id{n}" for n in range(0, 12_000, 2)]  # more than one lookup batch
    assert store.customers.lookup("E1", ids).height == 60
    store.close()


def test_mappings_owners_and_deletion(location: str) -> None:
    store = StateStore.open(location)
    store.customers.record("E1", "A", "created", "r1", "uuid-a", "h1")
    store.customers.record("E1", "B", "created", "r1", "uuid-b", "h2")
    assert store.customers.mappings().select("external_id", "customer_id").rows() == [
        ("A", "uuid-a"), ("B", "uuid-b"),
    ]  # fmt: skip
    assert store.customers.owners_of("E1", ["uuid-a", "nope"]) == {"uuid-a": "A"}
    store.customers.forget("E1", "B", "deleted", "r2")
    assert store.customers.known_external_ids("E1").rows() == [("A", "uuid-a")]
    assert store.customers.lookup_any_entity(["B"]).select("status", "customer_id").rows() == [
        ("deleted", None)
    ]
    store.close()


def test_updated_at_comes_from_the_store_clock(location: str) -> None:
    clock = FixedClock()
    store = StateStore.open(location, clock=clock)
    store.customers.record("E1", "A", "created", "r1", "uuid-a", "h1")
    clock.advance(90)
    store.customers.record("E1", "B", "created", "r1", "uuid-b", "h2")
    stamps = store.customers.mappings().get_column("updated_at").to_list()
    assert stamps == ["2026-11-26T01:30:00.000Z", "2026-11-26T01:31:30.000Z"]
    store.close()


def test_a_customer_is_claimed_by_one_external_id_only(location: str) -> None:
    store = StateStore.open(location)
    store.customers.record("E1", "A", "failed", "run1", error="earlier")  # deferred-free row
    store.customers.record("E1", "Z", "created", "run1", "uuid-z", "hz", defer=True)
    assert store.customers.claim("E1", "A", "uuid-1", "adopted", "run1") is None
    # A second claim of the same customer is refused and changes nothing ...
    assert store.customers.claim("E1", "B", "uuid-1", "adopted", "run1") == "A"
    assert store.customers.get("E1", "B") is None
    # ... nor loses the writes deferred before it.
    assert store.customers.get("E1", "Z").customer_id == "uuid-z"  # type: ignore[union-attr]
    # The same UUID in another entity is another customer's business.
    assert store.customers.claim("E2", "B", "uuid-1", "adopted", "run1") is None
    # A plain record of a second owner is refused by the store itself, too.
    with pytest.raises(Exception, match=r"(?i)unique"):
        store.customers.record("E1", "C", "adopted", "run1", "uuid-1", "h")
    store.close()


def test_two_runs_claiming_at_once_one_wins(location: str) -> None:
    StateStore.open(location).close()
    owners: list[str | None] = []
    ready = threading.Barrier(8)

    def claim(n: int) -> None:
        store = StateStore.open(location)  # a connection of its own, as another process has
        ready.wait()
        owners.append(store.customers.claim("E1", f"X{n}", "uuid-1", "adopted", f"run{n}"))
        store.close()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert owners.count(None) == 1
    store = StateStore.open(location)
    assert store.customers.mappings().filter(pl.col("customer_id") == "uuid-1").height == 1
    store.close()


def test_a_store_mapping_one_customer_twice_is_mended_on_open(tmp_path: Path) -> None:
    # A store written before the unique index: the match-on race mapped one customer to 3 ids.
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(MIGRATIONS[0].statements[0])
    for external_id in ("A", "B", "C"):
        old.execute(
            "INSERT INTO customer_state (entity_id, external_id, customer_id, payload_hash,"
            " status, created_at, updated_at) VALUES ('E1', ?, 'uuid-1', 'h', 'adopted', 't', 't')",
            (external_id,),
        )
    old.execute(
        "INSERT INTO customer_state (entity_id, external_id, customer_id, status, created_at,"
        " updated_at) VALUES ('E1', 'D', 'uuid-2', 'created', 't', 't')"
    )
    old.commit()
    old.close()
    store = StateStore.open(str(path))
    states = {x: store.customers.get("E1", x) for x in "ABCD"}
    for external_id in "ABC":  # nobody's for sure: unmapped, and why, until matched again
        state = states[external_id]
        assert state is not None and state.customer_id is None and state.status == "failed"
        assert state.error is not None and "conflict" in state.error
    assert states["D"] is not None and states["D"].customer_id == "uuid-2"
    assert store.customers.claim("E1", "E", "uuid-2", "adopted", "run") == "D"  # index now on
    store.close()


def test_owners_are_found_by_index_with_no_index_of_customer_ids_alone(tmp_path: Path) -> None:
    # Migration 9 dropped the index of customer ids alone (each recorded create paid for it);
    # the lookups by customer id name the entity, and the owner index serves them.
    with StateStore.open(str(tmp_path / "s.db")) as store:
        names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert "customer_state_customer" not in names
        plan = store.db.execute(
            "EXPLAIN QUERY PLAN SELECT customer_id, external_id FROM customer_state"
            " WHERE entity_id = ? AND customer_id IN (?, ?)",
            ["e", "c-1", "c-2"],
        ).fetchall()
    assert any("USING INDEX customer_state_owner" in str(row) for row in plan), plan
