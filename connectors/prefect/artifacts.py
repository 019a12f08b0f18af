"""What a flow run shows in Prefect's UI: a progress artifact, and a finished run's summary
and first rejects."""

from __future__ import annotations

import time
from typing import Any

from schemas.run_summary import table_cell


class ProgressArtifact:
    """A Prefect progress artifact of the current flow run, made at the first update and
    updated at most once a percent (not per row)."""

    def __init__(self, key: str, description: str) -> None:
        self._key, self._description = key, description
        self._id: Any = None
        self._percent = -1.0
        self._started = time.monotonic()

    def described(self, done: int, total: int) -> str:
        """``Rows sent to the Customer API: 1,200 of 3,000, 98 rows/s``: what a percentage
        alone does not say."""
        rate = done / max(time.monotonic() - self._started, 1e-6)
        return f"{self._description}: {done:,} of {total:,}, {rate:,.0f} rows/s"

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total``."""
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        percent = 100.0 * done / total if total else 100.0
        if self._id is None:
            self._id = create_progress_artifact(
                progress=percent, key=self._key, description=self.described(done, total)
            )
        elif percent - self._percent >= 1.0 or (percent == 100.0 and self._percent < 100.0):
            update_progress_artifact(self._id, progress=percent,
                                     description=self.described(done, total))  # fmt: skip
        else:
            return
        self._percent = percent


def publish_summary(markdown: str, table: list[dict[str, Any]]) -> None:
    """A finished run's summary (markdown) and its first rejects (a table, if any) as
    artifacts of the current flow run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(markdown, key="sync-summary", description="Sync summary")
    if table:
        what = (
            "rejects.csv's first 500 lines, rows not sent or failed first: each a row "
            "rejected (not sent), a value left out (the customer sent) or a row failed"
        )
        cells = [{k: table_cell(v) for k, v in row.items()} for row in table]
        create_table_artifact(cells, key="sync-rejects", description=what)
