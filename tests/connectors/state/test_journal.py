"""The create journal: an intent recorded before the create is sent, cleared by its outcome."""

from __future__ import annotations

from connectors.state.journal import PendingCreate
from connectors.state.store import StateStore
from tests.connectors.state.helpers import FixedClock


def test_pending_journal(location: str) -> None:
    store = StateStore.open(location, clock=FixedClock())
    body = {"entity_id": "E1", "company_name": "Acme"}
    marked = store.journal.mark("E1", "A", "h1", body, "run1")
    # Ten minutes early: the API's clock may run behind ours.
    assert marked == PendingCreate("E1", "A", "h1", "2026-11-26T01:20:00.000Z", body)
    assert store.journal.pending() == [marked]
    assert store.customers.get("E1", "A").pending == marked  # type: ignore[union-attr]
    store.customers.record("E1", "A", "failed", "run1", error="unknown", keep_pending=True)
    assert store.journal.pending() == [marked]
    store.customers.record("E1", "A", "created", "run1", "uuid-a", "h1")
    assert store.journal.pending() == []
    assert store.customers.get("E1", "A").pending is None  # type: ignore[union-attr]
    store.close()


def test_pending_of_other_runs_oldest_first(location: str) -> None:
    clock = FixedClock()
    store = StateStore.open(location, clock=clock)
    store.journal.mark("E1", "late", "h", {"entity_id": "E1"}, "run1")
    clock.advance(-60)
    store.journal.mark("E1", "early", "h", {"entity_id": "E1"}, "run1")
    store.journal.mark("E1", "mine", "h", {"entity_id": "E1"}, "run2")
    assert [p.external_id for p in store.journal.pending()] == ["early", "mine", "late"]
    assert [p.external_id for p in store.journal.pending(not_run="run2")] == ["early", "late"]
    store.close()


def test_pending_of_one_entity_leaves_the_others_to_their_own_runs(location: str) -> None:
    store = StateStore.open(location, clock=FixedClock())
    store.journal.mark("E1", "a", "h", {"entity_id": "E1"}, "run1")
    store.journal.mark("E2", "b", "h", {"entity_id": "E2"}, "run2")
    assert [p.external_id for p in store.journal.pending(not_run="run3", entity="E1")] == ["a"]
    assert len(store.journal.pending(not_run="run3")) == 2
    store.close()
