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


def test_a_waiting_replacement_is_taken_by_one_live_run_and_its_flow_run_is_refused(
    location: str,
) -> None:
    store = StateStore.open(location)
    runs = store.shard_runs
    spec = {"index": 1, "count": 2, "entity": "E1", "orphans": False}
    runs.submit("m1", "E1 1/2", 1, {**spec, "index": 0})
    runs.submit("m1", "E1 2/2", 1, spec)
    runs.submit("m1", "E1 3/3", 1, {**spec, "index": 2, "count": 3})
    assert [w.shard for w in runs.waiting("m1")] == ["E1 1/2", "E1 2/2", "E1 3/3"]
    for name in ("E1 1/2", "E1 2/2", "E1 3/3"):
        assert runs.beat("m1", name, 1, 0, 0)  # begun: not waiting
    assert runs.waiting("m1") == []
    runs.submit("m1", "E1 2/2", 2, spec)  # its worker died: given up, submitted again
    runs.submit("m1", "E1 3/3", 2, {**spec, "index": 2, "count": 3})
    assert runs.beat("m1", "E1 3/3", 2, 0, 0)  # ...and this one's flow run began at once
    [waiting] = runs.waiting("m1")
    assert (waiting.shard, waiting.attempt, waiting.spec) == ("E1 2/2", 2, spec)
    assert not runs.take("m1", "E1 3/3", 2, "E1 1/2 a1 x")  # begun: not for the taking
    assert runs.take("m1", "E1 2/2", 2, "E1 1/2 a1 x")
    assert not runs.take("m1", "E1 2/2", 2, "E1 3/3 a2 y")  # one taker only
    assert runs.waiting("m1") == []
    # The attempt's own flow run, starting late, is told it is not its own, and not heard.
    assert not runs.beat("m1", "E1 2/2", 2, 7, 7)
    runs.finish("m1", "E1 2/2", 2, "failed", None, "should not land")
    seen = runs.read("m1")["E1 2/2"]
    assert (seen.beats, seen.status, seen.taken_by) == (0, "submitted", "E1 1/2 a1 x")
    assert runs.beat("m1", "E1 2/2", 2, 5, 60, "E1 1/2 a1 x")
    runs.finish("m1", "E1 2/2", 2, "ok", {"created": 60}, None, "E1 1/2 a1 x")
    seen = runs.read("m1")["E1 2/2"]
    assert (seen.beats, seen.status, seen.report) == (2, "ok", {"created": 60})
    runs.submit("m1", "E1 2/2", 3, spec)  # a new attempt is nobody's until taken
    assert runs.read("m1")["E1 2/2"].taken_by is None
    store.close()
