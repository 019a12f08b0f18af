"""A record of every run: when, what, against which target, how it ended, with its report."""

from __future__ import annotations

import json
from typing import Any

from connectors.state.db import StateDb

_COLUMNS = ("run_id", "command", "target", "started_at", "finished_at", "status", "report")


class RunRecords:
    """The ``sync_run`` table."""

    def __init__(self, db: StateDb) -> None:
        self._db = db

    def begin(self, run_id: str, command: str, target: str) -> None:
        """Record the start of a run."""
        self._db.write(
            "INSERT INTO sync_run (run_id, command, target, started_at, status)"
            " VALUES (?, ?, ?, ?, 'running')",
            (run_id, command, target, self._db.now()),
        )

    def finish(self, run_id: str, status: str, report: dict[str, Any]) -> None:
        """Record how a run ended, with its report."""
        self._db.write(
            "UPDATE sync_run SET finished_at = ?, status = ?, report = ? WHERE run_id = ?",
            (self._db.now(), status, json.dumps(report), run_id),
        )

    def all(self) -> list[dict[str, Any]]:
        """Every recorded run, oldest first."""
        cursor = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM sync_run ORDER BY started_at")
        return [dict(zip(_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
