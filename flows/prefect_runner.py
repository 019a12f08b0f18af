"""The engine's steps as Prefect tasks, its progress and summary as Prefect artifacts."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from connectors.errors import CustsyncError
from connectors.prefect.artifacts import ProgressArtifact, publish_summary
from engine.outcome import RunOutcome
from engine.runner import InlineRunner
from schemas.report import SyncReport
from schemas.run_summary import summary_markdown

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

T = TypeVar("T")


@dataclass(frozen=True)
class Console:
    """The CLI's console, for a flow run it starts in its own process: the progress bar and
    the line naming the target. Callables cannot be flow parameters (a run's parameters are
    stored), so they come in by a context variable; the outcome goes back as the flow's
    result."""

    progress: Callable[[int, int], None] | None = None
    on_start: Callable[[str], None] | None = None


# Set by the CLI around its call of a flow; deployments' runs have none.
CONSOLE: ContextVar[Console | None] = ContextVar("custsync_console", default=None)


def failed_in_one_line(error: Exception, outcome: Any = None) -> State[Any]:
    """A run that custsync stopped (a missing Secret block, a bad export, rows failed): one
    error line in the run's logs and its Failed state, not Prefect's traceback. The state
    carries the run's outcome, if it got one, or the error."""
    from prefect.logging import get_run_logger
    from prefect.states import Failed

    get_run_logger().error("custsync: %s", error)
    said_once()
    return Failed(message=f"custsync: {error}", data=error if outcome is None else outcome)


class _SaidOnce(logging.Filter):
    """Keeps a custsync error to its one line in a run's log.

    - Drops the record of a custsync error that Prefect's engine logs with its traceback when
      a worker's run ends Failed ("Engine execution exited with unexpected exception": the
      engine re-raises a Failed state's error).
    - Shortens the engine's last line, "Finished in state Failed('custsync: ...')", which
      said the line again: the state keeps its message (the UI and alerts show it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, CustsyncError):
            return False
        if isinstance(record.msg, str) and _FINISHED_BY_US.match(record.msg):
            record.msg, record.args = "Finished in state Failed (why: the line above)", ()
        return True


_FINISHED_BY_US = re.compile(r"Finished in state Failed\(['\"]custsync: ")


def said_once() -> None:
    """Keep a custsync error to its one line in the flow runs' logs (idempotent)."""
    logger = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, _SaidOnce) for f in logger.filters):
        logger.addFilter(_SaidOnce())


def outcome_of(state: State[Any]) -> RunOutcome[Any]:
    """What a flow run the CLI started came to: its outcome (Completed or Failed), or the
    error that stopped it before it had one, raised here."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    if not isinstance(result, RunOutcome):  # pragma: no cover - Prefect lost the result
        raise RuntimeError(f"the flow run ended {state.type.value} without an outcome")
    return result


class PrefectRunner(InlineRunner):
    """Each step a Prefect task (thin, uncached); progress and summary as artifacts."""

    def __init__(self, progress: Callable[[int, int], None] | None = None) -> None:
        super().__init__(progress)
        self._artifact: ProgressArtifact | None = None

    def step(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """Run one step as a Prefect task."""
        from prefect import task
        from prefect.cache_policies import NONE

        wrapped = task(name=name, cache_policy=NONE, persist_result=False)(fn)
        result: T = wrapped(*args)
        return result

    def progress(self, done: int, total: int) -> None:
        """The progress artifact, updated once per percent (not per row)."""
        super().progress(done, total)
        if self._artifact is None:
            self._artifact = ProgressArtifact("sync-progress", "Rows sent to the Customer API")
        self._artifact.update(done, total)

    def publish(self, report: SyncReport, rejects: pl.DataFrame, out_dir: str = "") -> None:
        """The summary (markdown) and the first rejects (a table: reasons and row numbers
        only, rejects carry no shopper values) as artifacts."""
        from prefect.logging import get_run_logger

        text = summary_markdown(report, out_dir, rejects.to_dicts())
        publish_summary(text, rejects.head(500).to_dicts())
        # The run's logs say what it did, and where its files are, without opening artifacts.
        counts = ", ".join(f"{label} {value}" for label, value in report.summary_rows())
        get_run_logger().info("custsync: %s; artefacts in %s", counts, out_dir)
