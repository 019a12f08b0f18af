"""Every run recorded, with how it ended and its report."""

from __future__ import annotations

import json

from connectors.state.store import StateStore
from tests.connectors.state.conftest import FixedClock


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
