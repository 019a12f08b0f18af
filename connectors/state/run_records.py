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

    def last(self, count: int) -> list[dict[str, Any]]:
        """The ``count`` latest runs, oldest first, each report parsed (None while running)."""
        cursor = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM sync_run ORDER BY started_at DESC, run_id DESC"
            " LIMIT ?",
            (count,),
        )
        return [_parsed(row) for row in reversed(cursor.fetchall())]

    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run, its report parsed; None when the store has no such run."""
        cursor = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM sync_run WHERE run_id = ?", (run_id,)
        )
        row = cursor.fetchone()
        return None if row is None else _parsed(row)


def _parsed(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(_COLUMNS, row, strict=True))
    record["report"] = json.loads(record["report"]) if record["report"] else None
    return record
