"""Leases on a target's API budget, on both backends: live ones seen, lapsed ones not."""

from __future__ import annotations

from connectors.state.budget import Lease
from connectors.state.store import StateStore
from connectors.tuning import DEFAULTS


def lease(run_id: str, at: float, admitted: float = 10.0, wants: float | None = None) -> Lease:
    return Lease(run_id, at, admitted, wants, None, None)


def test_a_beat_renews_the_lease_and_sees_the_live_ones_of_its_target(location: str) -> None:
    store = StateStore.open(location)
    leases = store.budget
    leases.beat("target-a", lease("run-1", 1000.0))
    leases.beat("target-b", lease("run-x", 1000.0))  # another target: another budget
    seen = leases.beat("target-a", lease("run-2", 1001.0, wants=5.0))
    assert [(s.run_id, s.wants) for s in seen] == [("run-1", None), ("run-2", 5.0)]
    again = leases.beat("target-a", lease("run-1", 1001.5, admitted=42.0))
    assert [s.admitted for s in again] == [42.0, 10.0]  # renewed in place
    store.close()


def test_a_lease_not_renewed_lapses_and_a_released_one_is_gone_at_once(location: str) -> None:
    store = StateStore.open(location)
    leases = store.budget
    leases.beat("t", lease("killed", 1000.0))
    leases.beat("t", lease("stopped", 1000.0))
    leases.release("t", "stopped")
    seen = leases.beat("t", lease("alive", 1000.0 + DEFAULTS.budget.lease_s + 0.1))
    assert [s.run_id for s in seen] == ["alive"]
    store.close()
