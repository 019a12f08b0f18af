"""What a flow run shows in Prefect's UI: a progress artifact, and a finished run's summary
and first rejects."""

from __future__ import annotations

from typing import Any


class ProgressArtifact:
    """A Prefect progress artifact of the current flow run, made at the first update and
    updated at most once a percent (not per row)."""

    def __init__(self, key: str, description: str) -> None:
        self._key, self._description = key, description
        self._id: Any = None
        self._percent = -1.0

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total``."""
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        percent = 100.0 * done / total if total else 100.0
        if self._id is None:
            self._id = create_progress_artifact(
                progress=percent, key=self._key, description=self._description
            )
        elif percent - self._percent >= 1.0 or (percent == 100.0 and self._percent < 100.0):
            update_progress_artifact(self._id, progress=percent)
        else:
            return
        self._percent = percent


def publish_summary(markdown: str, table: list[dict[str, Any]]) -> None:
    """A finished run's summary (markdown) and its first rejects (a table, if any) as
    artifacts of the current flow run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(markdown, key="sync-summary", description="Sync summary")
    if table:
        create_table_artifact(table, key="sync-rejects", description="Rejected rows (first 500)")
