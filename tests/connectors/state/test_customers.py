"""Customers' states: recorded, looked up in batches, never losing a known UUID."""

from __future__ import annotations

from connectors.state.store import StateStore
from tests.connectors.state.conftest import FixedClock


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
