"""A migration's shards in the store: attempts, beats, ends; a replaced attempt is ignored."""

from __future__ import annotations

from connectors.state.store import StateStore


def test_a_shard_beats_then_ends_and_only_its_latest_attempt_is_heard(location: str) -> None:
    store = StateStore.open(location)
    runs = store.shard_runs
    runs.submit("m1", "E1 1/2", 1)
    assert runs.beat("m1", "E1 1/2", 1, 10, 100)
    assert runs.beat("m1", "E1 1/2", 1, 40, 100)
    seen = runs.read("m1")["E1 1/2"]
    assert (seen.attempt, seen.beats, seen.rows_done, seen.rows_total, seen.status) == (
        1, 2, 40, 100, "running")  # fmt: skip
    runs.submit("m1", "E1 1/2", 2)  # the first attempt's worker is gone
    # ...or not quite: what it says now is not heard, and it is told it was replaced
    assert not runs.beat("m1", "E1 1/2", 1, 99, 100)
    runs.finish("m1", "E1 1/2", 1, "ok", {"created": 99}, None)
    seen = runs.read("m1")["E1 1/2"]
    assert (seen.attempt, seen.beats, seen.status, seen.report) == (2, 0, "submitted", None)
    runs.finish("m1", "E1 1/2", 2, "failed", {"created": 3}, "3 rows failed")
    seen = runs.read("m1")["E1 1/2"]
    assert (seen.status, seen.report, seen.reason) == ("failed", {"created": 3}, "3 rows failed")
    runs.beat("m1", "E1 1/2", 2, 5, 5)  # a beat after the end does not revive it
    assert runs.read("m1")["E1 1/2"].status == "failed"
    assert runs.read("m2") == {}
    store.close()
