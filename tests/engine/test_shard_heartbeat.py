"""A shard's heartbeat: it beats from its own thread while the run works, then says how it ended."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from connectors.errors import ShardReplacedError
from connectors.state.store import StateStore, opener
from engine.runner import InlineRunner
from engine.shard_heartbeat import BeatingRunner, ShardHeartbeat


@pytest.fixture
def state(tmp_path: Path) -> str:
    """A store in which migration m1 submitted the first attempt of its shard E1 1/1."""
    location = str(tmp_path / "state.db")
    with StateStore.open(location) as store:
        store.shard_runs.submit("m1", "E1 1/1", 1)
    return location


def test_beats_count_up_with_the_progress_even_while_the_run_is_busy(state: str) -> None:
    runs = StateStore.open(state).shard_runs
    seen: list[tuple[int, int]] = []
    with ShardHeartbeat(opener(state), "m1", "E1 1/1", 1, beat_s=0.05) as heartbeat:
        runner = BeatingRunner(
            InlineRunner(lambda done, total: seen.append((done, total))), heartbeat
        )
        runner.progress(3, 10)
        time.sleep(0.5)  # busy (a census, a rate limit's wall): no progress, still beating
        beating = runs.read("m1")["E1 1/1"]
        assert beating.beats >= 4 and (beating.rows_done, beating.rows_total) == (3, 10)
        assert runner.step("double", lambda x: 2 * x, 21) == 42
        heartbeat.finish("ok", {"created": 10}, None)
    ended = runs.read("m1")["E1 1/1"]
    assert (ended.status, ended.report) == ("ok", {"created": 10}) and seen == [(3, 10)]
    time.sleep(0.2)
    assert runs.read("m1")["E1 1/1"].beats == ended.beats  # no beat after the end


def test_an_attempt_given_up_before_it_started_steps_aside_at_its_first_beat(state: str) -> None:
    runs = StateStore.open(state).shard_runs
    runs.submit("m1", "E1 1/1", 2)  # its start was late: the parent submitted another
    heartbeat = ShardHeartbeat(opener(state), "m1", "E1 1/1", 1, beat_s=0.05)
    with pytest.raises(ShardReplacedError, match="E1 1/1 attempt 1: given up by its migration"):
        heartbeat.__enter__()
    assert runs.read("m1")["E1 1/1"].attempt == 2


def test_an_attempt_replaced_while_it_runs_stops_at_its_next_step_or_progress(state: str) -> None:
    runs = StateStore.open(state).shard_runs
    with ShardHeartbeat(opener(state), "m1", "E1 1/1", 1, beat_s=0.05) as heartbeat:
        runner = BeatingRunner(InlineRunner(), heartbeat)
        assert runner.step("double", lambda x: 2 * x, 21) == 42
        runs.submit("m1", "E1 1/1", 2)  # given up: its beats were late (a frozen machine)
        deadline = time.monotonic() + 5
        while not heartbeat.replaced.is_set():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(ShardReplacedError):
            runner.step("double", lambda x: 2 * x, 21)
        with pytest.raises(ShardReplacedError):
            runner.progress(1, 10)
        heartbeat.finish("failed", None, "replaced")
    seen = runs.read("m1")["E1 1/1"]
    assert (seen.attempt, seen.beats, seen.status) == (2, 0, "submitted")  # untouched
