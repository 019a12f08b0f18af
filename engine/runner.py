"""How the steps of a run are executed: the engine composes its steps once; a runner decides
whether each is a plain call or a Prefect task (``flows/prefect_runner.py``), and where
progress and the summary go."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import polars as pl

from schemas.report import SyncReport

T = TypeVar("T")


class StepRunner(Protocol):
    """What the engine asks of whoever runs it."""

    def step(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """Run one step."""
        ...

    def progress(self, done: int, total: int) -> None:
        """Rows done so far, of the total."""
        ...

    def publish(self, report: SyncReport, rejects: pl.DataFrame, out_dir: str = "") -> None:
        """A finished sync's summary (``rejects``: its first, those not sent first)."""
        ...


class InlineRunner:
    """Steps are plain calls; progress goes to an optional callback (the CLI's progress bar)."""

    def __init__(self, progress: Callable[[int, int], None] | None = None) -> None:
        self._progress = progress

    def step(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """Run one step."""
        return fn(*args)

    def progress(self, done: int, total: int) -> None:
        """Rows sent so far, of the total to send."""
        if self._progress is not None:
            self._progress(done, total)

    def publish(self, report: SyncReport, rejects: pl.DataFrame, out_dir: str = "") -> None:
        """The run's summary (the CLI prints its own)."""
