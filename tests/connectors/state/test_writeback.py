"""What the CRM was last given: only new, changed and cleared UUIDs are due, on both stores."""

from __future__ import annotations

from connectors.state.store import StateStore


def due(store: StateStore, full: bool = False) -> list[tuple[str, str, str | None]]:
    return list(store.writeback.due(["E1"], full).iter_rows())


def test_only_new_changed_or_cleared_uuids_are_due(location: str) -> None:
    store = StateStore.open(location)
    store.customers.record("E1", "A", "created", "r1", "uuid-a", "h")
    store.customers.record("E1", "B", "created", "r1", "uuid-b", "h")
    store.customers.record("E1", "C", "rejected", "r1", error="no name")  # no UUID: not due
    store.customers.record("E2", "Z", "created", "r1", "uuid-z", "h")  # another entity's
    assert due(store) == [("E1", "A", "uuid-a"), ("E1", "B", "uuid-b")]
    store.writeback.mark(store.writeback.due(["E1"]))
    assert due(store) == []  # an unchanged night: nothing for the CRM
    assert due(store, full=True) == [("E1", "A", "uuid-a"), ("E1", "B", "uuid-b")]

    store.customers.record("E1", "A", "created", "r2", "uuid-a2", "h")  # recreated: new UUID
    store.customers.forget("E1", "B", "deleted", "r2")  # deleted: the CRM's UUID to clear
    store.customers.record("E1", "D", "created", "r2", "uuid-d", "h")
    assert due(store) == [("E1", "A", "uuid-a2"), ("E1", "B", None), ("E1", "D", "uuid-d")]
    store.writeback.mark(store.writeback.due(["E1"]))
    assert due(store) == []
    assert due(store, full=True) == [("E1", "A", "uuid-a2"), ("E1", "D", "uuid-d")]
    assert store.writeback.due([]).height == 0
    store.close()
