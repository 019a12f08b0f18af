"""The shards of a migration, as their runs report them: a heartbeat and progress while they
run, the report (or the reason) when they end.

The migration's parent registers each attempt of a shard before it submits it; the shard's run
beats every few seconds from a thread of its own (``engine/shard_heartbeat.py``). Writes name
their attempt, so a run the parent gave up on (a worker that froze rather than died) can never
overwrite the attempt that replaced it. The parent sees a shard stop by its beats no longer
counting up: it compares counts, not clocks, so machines whose clocks differ agree.

An attempt waiting for a worker (its flow run not started) may be *taken* by a live run of the
same migration that has ended its own shard: it runs the shard in its process at once, instead
of a new flow-run process 6-11 s later (``bench/RESULTS.md``). The row then names its taker;
the attempt's writes name theirs (``""``: the attempt's own flow run), so the late flow run
finds the attempt no longer its own and steps aside, as a run given up does.
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
    taken_by: str | None = None  # the live run that took this attempt over, if one did


@dataclass(frozen=True)
class WaitingShard:
    """An attempt no run has begun, and the shard it is (as ``submit`` stored it)."""

    shard: str
    attempt: int
    spec: dict[str, Any]


class ShardRuns:
    """The ``migration_shard`` table of one state store."""

    def __init__(self, db: StateDb) -> None:
        self._db = db

    def submit(
        self, migration_id: str, shard: str, attempt: int, spec: dict[str, Any] | None = None
    ) -> None:
        """A new attempt of a shard: what it reports from now on counts, and nothing else.
        ``spec``: the shard itself, for a live run that may take the attempt over."""
        text = json.dumps(spec) if spec is not None else None
        self._db.write(
            "INSERT INTO migration_shard (migration_id, shard, attempt, beats, rows_done,"
            " rows_total, status, spec) VALUES (?, ?, ?, 0, 0, 0, 'submitted', ?)"
            " ON CONFLICT (migration_id, shard) DO UPDATE SET attempt = excluded.attempt,"
            " beats = 0, rows_done = 0, rows_total = 0, status = 'submitted', report = NULL,"
            " reason = NULL, spec = excluded.spec, taken_by = NULL",
            (migration_id, shard, attempt, text),
        )

    def beat(
        self, migration_id: str, shard: str, attempt: int, done: int, total: int, taker: str = ""
    ) -> bool:
        """The shard's run is alive, ``done`` rows of ``total``; False when this attempt is
        no longer this run's: its parent gave it up and submitted another, or a live run
        took it over before this one began (``taker``: who beats, ``""`` its own flow run)."""
        self._db.write(
            "UPDATE migration_shard SET beats = beats + 1, rows_done = ?, rows_total = ?,"
            " status = 'running' WHERE migration_id = ? AND shard = ? AND attempt = ?"
            " AND status IN ('submitted', 'running') AND COALESCE(taken_by, '') = ?",
            (done, total, migration_id, shard, attempt, taker),
        )
        row = self._db.execute(
            "SELECT attempt, COALESCE(taken_by, '') FROM migration_shard"
            " WHERE migration_id = ? AND shard = ?",
            (migration_id, shard),
        ).fetchone()
        self._db.commit()  # PostgreSQL: no transaction held open between beats
        return row is None or (int(row[0]) == attempt and row[1] == taker)

    def waiting(self, migration_id: str) -> list[WaitingShard]:
        """The migration's attempts that no run has begun (a flow run waiting for a worker's
        slot, or taken by a worker that died starting it), by shard name."""
        rows = self._db.execute(
            "SELECT shard, attempt, spec FROM migration_shard WHERE migration_id = ?"
            " AND status = 'submitted' AND beats = 0 AND taken_by IS NULL"
            " AND spec IS NOT NULL ORDER BY shard",
            (migration_id,),
        ).fetchall()
        self._db.commit()
        return [
            WaitingShard(shard, int(attempt), json.loads(spec)) for shard, attempt, spec in rows
        ]

    def take(self, migration_id: str, shard: str, attempt: int, taker: str) -> bool:
        """Take an attempt no run has begun, for ``taker`` to run; False if another run (its
        own flow run, or another taker) began it first. One statement: two takers, or a
        taker and the flow run's first beat, never both have it."""
        self._db.write(
            "UPDATE migration_shard SET taken_by = ? WHERE migration_id = ? AND shard = ?"
            " AND attempt = ? AND status = 'submitted' AND beats = 0 AND taken_by IS NULL",
            (taker, migration_id, shard, attempt),
        )
        row = self._db.execute(
            "SELECT attempt, taken_by FROM migration_shard WHERE migration_id = ? AND shard = ?",
            (migration_id, shard),
        ).fetchone()
        self._db.commit()
        return row is not None and int(row[0]) == attempt and row[1] == taker

    def finish(
        self,
        migration_id: str,
        shard: str,
        attempt: int,
        status: str,
        report: dict[str, Any] | None,
        reason: str | None,
        taker: str = "",
    ) -> None:
        """The shard's run ended: ``ok`` with its report, ``failed`` with its reason (and its
        report, if it got that far), or ``locked`` (another run held the shard)."""
        text = json.dumps(report, default=str) if report is not None else None
        self._db.write(
            "UPDATE migration_shard SET beats = beats + 1, status = ?, report = ?, reason = ?"
            " WHERE migration_id = ? AND shard = ? AND attempt = ?"
            " AND COALESCE(taken_by, '') = ?",
            (status, text, reason, migration_id, shard, attempt, taker),
        )

    def read(self, migration_id: str) -> dict[str, ShardRun]:
        """Every shard of the migration, by name."""
        rows = self._db.execute(
            "SELECT shard, attempt, beats, rows_done, rows_total, status, report, reason,"
            " taken_by FROM migration_shard WHERE migration_id = ?",
            (migration_id,),
        ).fetchall()
        self._db.commit()  # PostgreSQL: a long-lived reader must not hold a snapshot open
        runs = {}
        for shard, attempt, beats, done, total, status, report, reason, taken_by in rows:
            loaded = json.loads(report) if report else None
            runs[shard] = ShardRun(shard, int(attempt), int(beats), int(done), int(total),
                                   status, loaded, reason, taken_by)  # fmt: skip
        return runs
