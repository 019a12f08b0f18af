"""The shards of a migration, as their runs report them: a heartbeat and progress while they
run, the report (or the reason) when they end.

The migration's parent registers each attempt of a shard before it submits it; the shard's run
beats every few seconds from a thread of its own (``engine/shard_heartbeat.py``). Writes name
their attempt, so a run the parent gave up on (a worker that froze rather than died) can never
overwrite the attempt that replaced it. The parent sees a shard stop by its beats no longer
counting up: it compares counts, not clocks, so machines whose clocks differ agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from connectors.state.db import StateDb


@dataclass(frozen=True)
class ShardRun:
    """The latest attempt of one shard, as last reported."""

    shard: str
    attempt: int
    beats: int
    rows_done: int
    rows_total: int
    status: str  # submitted, running, ok, failed, locked
    report: dict[str, Any] | None
    reason: str | None


class ShardRuns:
    """The ``migration_shard`` table of one state store."""

    def __init__(self, db: StateDb) -> None:
        self._db = db

    def submit(self, migration_id: str, shard: str, attempt: int) -> None:
        """A new attempt of a shard: what it reports from now on counts, and nothing else."""
        self._db.write(
            "INSERT INTO migration_shard (migration_id, shard, attempt, beats, rows_done,"
            " rows_total, status) VALUES (?, ?, ?, 0, 0, 0, 'submitted')"
            " ON CONFLICT (migration_id, shard) DO UPDATE SET attempt = excluded.attempt,"
            " beats = 0, rows_done = 0, rows_total = 0, status = 'submitted', report = NULL,"
            " reason = NULL",
            (migration_id, shard, attempt),
        )

    def beat(self, migration_id: str, shard: str, attempt: int, done: int, total: int) -> bool:
        """The shard's run is alive, ``done`` rows of ``total``; False when this attempt is
        no longer the shard's (its parent gave it up and submitted another)."""
        self._db.write(
            "UPDATE migration_shard SET beats = beats + 1, rows_done = ?, rows_total = ?,"
            " status = 'running' WHERE migration_id = ? AND shard = ? AND attempt = ?"
            " AND status IN ('submitted', 'running')",
            (done, total, migration_id, shard, attempt),
        )
        row = self._db.execute(
            "SELECT attempt FROM migration_shard WHERE migration_id = ? AND shard = ?",
            (migration_id, shard),
        ).fetchone()
        return row is None or int(row[0]) == attempt

    def finish(
        self,
        migration_id: str,
        shard: str,
        attempt: int,
        status: str,
        report: dict[str, Any] | None,
        reason: str | None,
    ) -> None:
        """The shard's run ended: ``ok`` with its report, ``failed`` with its reason (and its
        report, if it got that far), or ``locked`` (another run held the shard)."""
        text = json.dumps(report, default=str) if report is not None else None
        self._db.write(
            "UPDATE migration_shard SET beats = beats + 1, status = ?, report = ?, reason = ?"
            " WHERE migration_id = ? AND shard = ? AND attempt = ?",
            (status, text, reason, migration_id, shard, attempt),
        )

    def read(self, migration_id: str) -> dict[str, ShardRun]:
        """Every shard of the migration, by name."""
        rows = self._db.execute(
            "SELECT shard, attempt, beats, rows_done, rows_total, status, report, reason"
            " FROM migration_shard WHERE migration_id = ?",
            (migration_id,),
        ).fetchall()
        self._db.commit()  # PostgreSQL: a long-lived reader must not hold a snapshot open
        runs = {}
        for shard, attempt, beats, done, total, status, report, reason in rows:
            loaded = json.loads(report) if report else None
            runs[shard] = ShardRun(shard, int(attempt), int(beats), int(done), int(total),
                                   status, loaded, reason)  # fmt: skip
        return runs
