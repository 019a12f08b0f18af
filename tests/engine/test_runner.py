"""The inline runner: steps are plain calls, progress goes to the console's callback."""

from __future__ import annotations

import polars as pl

from engine.runner import InlineRunner
from schemas.report import SyncReport


def test_steps_are_calls_and_progress_is_passed_on() -> None:
    seen: list[tuple[int, int]] = []
    runner = InlineRunner(lambda done, total: seen.append((done, total)))
    assert runner.step("add", lambda a, b: a + b, 2, 3) == 5
    runner.progress(1, 4)
    runner.publish(SyncReport(), pl.DataFrame())  # the console prints its own summary
    assert seen == [(1, 4)]
    InlineRunner().progress(1, 1)  # no callback: nothing to do
