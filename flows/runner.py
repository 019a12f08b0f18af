"""How the steps of a run are executed: inline, or as Prefect tasks with artifacts.

The sync composes its steps once (flows/sync_run.py); a runner decides whether each step is a
plain call or a Prefect task, and where progress and the summary go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl

T = TypeVar("T")


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

    def publish(self, report: dict[str, Any], rejects: pl.DataFrame) -> None:
        """The run's summary (the CLI prints its own)."""


class PrefectRunner(InlineRunner):
    """Each step a Prefect task (thin, uncached); progress and summary as artifacts."""

    def __init__(self, progress: Callable[[int, int], None] | None = None) -> None:
        super().__init__(progress)
        self._progress_id: Any = None
        self._last_percent = -1.0

    def step(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        from prefect import task
        from prefect.cache_policies import NONE

        wrapped = task(fn, name=name, cache_policy=NONE, persist_result=False)
        return wrapped(*args)

    def progress(self, done: int, total: int) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        super().progress(done, total)
        percent = 100.0 * done / total if total else 100.0
        if self._progress_id is None:
            self._progress_id = create_progress_artifact(
                progress=percent, key="sync-progress", description="Rows sent to the Customer API"
            )
        elif percent - self._last_percent >= 1.0 or done == total:
            # One server call per percent, not per row.
            update_progress_artifact(self._progress_id, progress=percent)
        else:
            return
        self._last_percent = percent

    def publish(self, report: dict[str, Any], rejects: pl.DataFrame) -> None:
        from prefect.artifacts import create_markdown_artifact, create_table_artifact

        lines = ["# custsync sync", "", "| what | count |", "|---|---:|"]
        for key in ("rows_read", "rows_valid", "rows_rejected", "created", "updated",
                    "unchanged", "adopted", "deleted", "failed", "requests", "retries",
                    "rate_limited"):  # fmt: skip
            lines.append(f"| {key} | {report.get(key, 0):,} |")
        lines.append(f"| duration_s | {report.get('duration_s', 0)} |")
        lines += ["", f"Target: {report.get('target', '?')}; run {report.get('run_id', '?')}."]
        create_markdown_artifact("\n".join(lines), key="sync-summary", description="Sync summary")
        # Reasons and row numbers only: rejects carry no shopper values.
        table = rejects.head(500).to_dicts()
        if table:
            create_table_artifact(
                table, key="sync-rejects", description="Rejected rows (first 500)"
            )
