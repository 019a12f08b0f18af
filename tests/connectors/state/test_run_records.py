"""Every run recorded, with how it ended and its report."""

from __future__ import annotations

import json

from connectors.state.store import StateStore
from tests.connectors.state.helpers import FixedClock


def test_runs_are_recorded_with_their_report(location: str) -> None:
    clock = FixedClock()
    store = StateStore.open(location, clock=clock)
    store.runs.begin("r1", "sync", "local")
    clock.advance(5)
    store.runs.finish("r1", "ok", {"created": 1})
    store.runs.begin("r2", "backfill-3ds", "emea")
    (first, second) = store.runs.all()
    assert (first["run_id"], first["status"]) == ("r1", "ok")
    assert json.loads(first["report"]) == {"created": 1}
    assert (first["started_at"], first["finished_at"]) == (
        "2026-11-26T01:30:00.000Z", "2026-11-26T01:30:05.000Z",
    )  # fmt: skip
    assert (second["command"], second["status"], second["finished_at"]) == (
        "backfill-3ds", "running", None,
    )  # fmt: skip
    store.close()


def test_the_last_runs_come_oldest_first_and_one_is_found_by_id(location: str) -> None:
    clock = FixedClock()
    store = StateStore.open(location, clock=clock)
    for n in range(5):
        store.runs.begin(f"r{n}", "sync", "local")
        store.runs.finish(f"r{n}", "ok", {"created": n})
        clock.advance(60)
    store.runs.begin("r5", "sync", "local")  # still running
    assert [r["run_id"] for r in store.runs.last(3)] == ["r3", "r4", "r5"]
    assert store.runs.last(3)[0]["report"] == {"created": 3}  # parsed
    assert store.runs.last(3)[-1]["report"] is None
    found = store.runs.get("r1")
    assert found is not None and found["report"] == {"created": 1}
    assert store.runs.get("nope") is None
    store.close()
