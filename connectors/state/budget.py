"""Leases on a target's API budget: what each live run uses, wants, and last learned.

Every run that sends to a target writes its lease about twice a second (one small upsert and
one read, not a round trip per request) and reads its peers'. A lease not renewed for
``lease_s`` (``connectors/tuning.py``) is dead: a run killed mid-flight frees its share within
seconds, with nothing to clean up (stale rows are swept by the next beat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.state.db import StateDb
from connectors.tuning import DEFAULTS, BudgetTuning


@dataclass(frozen=True)
class Lease:
    """One run's lease (times are epoch seconds)."""

    run_id: str
    heartbeat: float
    admitted: float  # requests a second the API admitted over its last second
    wants: float | None  # the pace it could use; None: more than it has
    last_429: float | None
    wall_until: float | None
    # Unknown limit: what all the runs together got through a second when this run last drew
    # a 429 (the target's limit, as found), when, and whether it is rough (not yet confirmed
    # by a second finding near it: probed quickly, not gently; shared_budget.py: found_pace).
    found: float | None = None
    found_at: float | None = None
    found_rough: bool = False
    allotted: float | None = None  # known limit: the share it paces at now (None: not told)


class BudgetLeases:
    """The ``api_budget_leases`` table of one state store."""

    def __init__(self, db: StateDb, tuning: BudgetTuning = DEFAULTS.budget) -> None:
        self._db = db
        self._tuning = tuning

    def beat(self, budget_key: str, lease: Lease) -> list[Lease]:
        """Renew this run's lease; every live lease of the target (this one included)."""
        self._db.execute(
            "INSERT INTO api_budget_leases (budget_key, run_id, heartbeat, admitted, wants,"
            " last_429, wall_until, found, found_at, found_rough, allotted)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (budget_key, run_id) DO UPDATE SET heartbeat = excluded.heartbeat,"
            " admitted = excluded.admitted, wants = excluded.wants,"
            " last_429 = excluded.last_429, wall_until = excluded.wall_until,"
            " found = excluded.found, found_at = excluded.found_at,"
            " found_rough = excluded.found_rough, allotted = excluded.allotted",
            (budget_key, lease.run_id, lease.heartbeat, lease.admitted, lease.wants,
             lease.last_429, lease.wall_until, lease.found, lease.found_at,
             int(lease.found_rough), lease.allotted),
        )  # fmt: skip
        self._db.execute(
            "DELETE FROM api_budget_leases WHERE heartbeat < ?",
            (lease.heartbeat - self._tuning.sweep_s,),
        )
        rows = self._db.execute(
            "SELECT run_id, heartbeat, admitted, wants, last_429, wall_until, found, found_at,"
            " found_rough, allotted FROM api_budget_leases"
            " WHERE budget_key = ? AND heartbeat >= ? ORDER BY run_id",
            (budget_key, lease.heartbeat - self._tuning.lease_s),
        ).fetchall()
        self._db.commit()
        return [_lease(row) for row in rows]

    def keep_found(self, budget_key: str, found: float, found_at: float) -> None:
        """Keep the target's newest finding past the leases (a run that starts when every
        other has ended, a shard's replacement, the next night, starts from it)."""
        self._db.write(
            "INSERT INTO api_budget_found (budget_key, found, found_at) VALUES (?, ?, ?)"
            " ON CONFLICT (budget_key) DO UPDATE SET found = excluded.found,"
            " found_at = excluded.found_at WHERE excluded.found_at > api_budget_found.found_at",
            (budget_key, found, found_at),
        )

    def kept_found(self, budget_key: str) -> tuple[float, float] | None:
        """The target's newest finding: (requests a second, when, epoch), if any."""
        row = self._db.execute(
            "SELECT found, found_at FROM api_budget_found WHERE budget_key = ?", (budget_key,)
        ).fetchone()
        self._db.commit()
        return None if row is None else (float(row[0]), float(row[1]))

    def release(self, budget_key: str, run_id: str) -> None:
        """Give the share back at once (a run that ends normally)."""
        self._db.write(
            "DELETE FROM api_budget_leases WHERE budget_key = ? AND run_id = ?",
            (budget_key, run_id),
        )


def _lease(row: tuple[Any, ...]) -> Lease:
    run_id, heartbeat, admitted, wants, last_429, wall_until, found, found_at, rough, held = row
    return Lease(run_id, heartbeat, admitted, wants, last_429, wall_until, found, found_at,
                 bool(rough), None if held is None else float(held))  # fmt: skip
