"""What the state store knows of each customer: per (entity, external id), the UUID, a hash of
the last payload the API accepted, the last status and error, and timestamps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from connectors.state.db import StateDb, is_integrity_error
from connectors.state.journal import PendingCreate, pending_from_columns

STATE_COLUMNS = {
    "entity_id": pl.String,
    "external_id": pl.String,
    "customer_id": pl.String,
    "payload_hash": pl.String,
    "status": pl.String,
    "pending_since": pl.String,
}
LOOKUP_BATCH = 5_000
# From this many ids on, a SQLite store is read as Arrow (arrow_reads.py), over twice as fast
# for a million; below it, a few IN queries cost less than the second connection's join.
ARROW_MIN_IDS = 2_000
# Every text column through COALESCE: the Arrow reader types a column by its first values.
_JOINED = (
    "SELECT s.entity_id, s.external_id, COALESCE(s.customer_id, '') AS customer_id,"
    " COALESCE(s.payload_hash, '') AS payload_hash, s.status,"
    " COALESCE(CAST(s.pending_since AS TEXT), '') AS pending_since"
    " FROM probe p JOIN customer_state s ON s.external_id = p.external_id"
)
_ONE = (
    "SELECT entity_id, external_id, customer_id, payload_hash, status, error,"
    " pending_hash, pending_since, pending_body FROM customer_state"
)


@dataclass(frozen=True)
class CustomerState:
    """What the store holds for one customer; ``pending`` is a create in flight, if any."""

    entity_id: str
    external_id: str
    customer_id: str | None
    payload_hash: str | None
    status: str
    error: str | None
    pending: PendingCreate | None


def _state(row: tuple[Any, ...]) -> CustomerState:
    entity_id, external_id, customer_id, payload_hash, status, error, *journal = row
    pending = pending_from_columns(entity_id, external_id, *journal)
    return CustomerState(entity_id, external_id, customer_id, payload_hash, status, error, pending)


class CustomerStates:
    """Reads and records customers' states; every write commits at once."""

    def __init__(self, db: StateDb) -> None:
        self._db = db

    def lookup(self, entity_id: str, external_ids: Iterable[str]) -> pl.DataFrame:
        """State of the given customers of one entity, looked up in batches (no query per row)."""
        return self._lookup(list(external_ids), entity_id)

    def knows_entity(self, entity_id: str) -> bool:
        """Whether the store holds anything of this entity (a first run's lookups, skipped)."""
        row = self._db.execute(
            "SELECT 1 FROM customer_state WHERE entity_id = ? LIMIT 1", (entity_id,)
        ).fetchone()
        return row is not None

    def made_any(self, entity_id: str) -> bool:
        """Whether this store holds a customer of the entity, or a create sent for one."""
        row = self._db.execute(
            "SELECT 1 FROM customer_state WHERE entity_id = ?"
            " AND (customer_id IS NOT NULL OR pending_since IS NOT NULL) LIMIT 1",
            (entity_id,),
        ).fetchone()
        return row is not None

    def lookup_any_entity(self, external_ids: Iterable[str]) -> pl.DataFrame:
        """Like ``lookup``, across every entity (for rows whose entity was not valid)."""
        return self._lookup(list(external_ids), None)

    def _lookup(self, ids: list[str], entity_id: str | None) -> pl.DataFrame:
        reader = self._db.arrow_reader() if len(ids) >= ARROW_MIN_IDS else None
        if reader is not None:
            return reader.join_ids(
                ids, _JOINED + (" WHERE s.entity_id = ?" if entity_id is not None else ""),
                [] if entity_id is None else [entity_id], STATE_COLUMNS,
            )  # fmt: skip
        condition, params = ("entity_id = ? AND ", [entity_id]) if entity_id else ("", [])
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            marks = ", ".join("?" * len(batch))
            cursor = self._db.execute(
                "SELECT entity_id, external_id, customer_id, payload_hash, status, pending_since"
                f" FROM customer_state WHERE {condition}external_id IN ({marks})",
                [*params, *batch],
            )
            rows.extend(cursor.fetchall())
        return pl.DataFrame(rows, schema=STATE_COLUMNS, orient="row")

    def get(self, entity_id: str, external_id: str) -> CustomerState | None:
        """One customer's state, or None."""
        row = self._db.execute(
            f"{_ONE} WHERE entity_id = ? AND external_id = ?", (entity_id, external_id)
        ).fetchone()
        return None if row is None else _state(row)

    def record(
        self,
        entity_id: str,
        external_id: str,
        status: str,
        run_id: str,
        customer_id: str | None = None,
        payload_hash: str | None = None,
        error: str | None = None,
        keep_pending: bool = False,
        defer: bool = False,
    ) -> None:
        """Record a result. A known UUID or hash is never overwritten with nothing; the create
        journalled for the customer is cleared unless ``keep_pending`` (its outcome is still
        unknown). ``defer`` (the loader's, whose steps flush at their end): committed with the next
        journal entry or within ``DEFER_S`` (db.py)."""
        stamps = (self._db.now(),) * 2
        keep = (
            "customer_state.pending_hash",
            "customer_state.pending_since",
            "customer_state.pending_body",
        )
        pending_hash, pending_since, pending_body = keep if keep_pending else ("NULL",) * 3
        self._db.write(
            "INSERT INTO customer_state (entity_id, external_id, customer_id, payload_hash, status,"
            " error, run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (entity_id, external_id) DO UPDATE SET"
            " customer_id = COALESCE(excluded.customer_id, customer_state.customer_id),"
            " payload_hash = COALESCE(excluded.payload_hash, customer_state.payload_hash),"
            " status = excluded.status, error = excluded.error, run_id = excluded.run_id,"
            f" pending_hash = {pending_hash}, pending_since = {pending_since},"
            f" pending_body = {pending_body},"
            " updated_at = excluded.updated_at",
            (
                entity_id,
                external_id,
                customer_id,
                payload_hash,
                str(status),
                error,
                run_id,
                *stamps,
            ),
            # If a deferred one is lost, the journal entry it clears stays, and is reconciled.
            defer=defer,
        )

    def claim(
        self, entity_id: str, external_id: str, customer_id: str, status: str, run_id: str
    ) -> str | None:
        """Map ``customer_id`` to ``external_id`` now, unless another external id of the entity
        holds it: then nothing changes and that one is returned. One committed statement under
        the store's unique index (db.py), so two claims of one customer never both succeed,
        from this run or any other on the store."""
        self._db.commit()  # deferred writes first: a refused claim rolls back nothing else
        now = self._db.now()
        try:
            self._db.execute(
                "INSERT INTO customer_state (entity_id, external_id, customer_id, status, run_id,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (entity_id, external_id) DO UPDATE SET"
                " customer_id = excluded.customer_id, status = excluded.status, error = NULL,"
                " run_id = excluded.run_id, updated_at = excluded.updated_at",
                (entity_id, external_id, customer_id, str(status), run_id, now, now),
            )
            self._db.commit()
            return None
        except Exception as exc:
            self._db.connection.rollback()
            if not is_integrity_error(exc):
                raise
        owner = self.owners_of(entity_id, [customer_id]).get(customer_id)
        return owner or "another external id"

    def forget(self, entity_id: str, external_id: str, status: str, run_id: str) -> None:
        """The customer is gone from the API (deleted): drop its UUID and hash, keep the row."""
        self._db.write(
            "UPDATE customer_state SET customer_id = NULL, payload_hash = NULL, status = ?,"
            " error = NULL, run_id = ?, updated_at = ? WHERE entity_id = ? AND external_id = ?",
            (status, run_id, self._db.now(), entity_id, external_id),
        )

    def owners_of(self, entity_id: str, customer_ids: list[str]) -> dict[str, str]:
        """customer_id -> external_id for those of ``customer_ids`` the store maps."""
        marks = ", ".join("?" * len(customer_ids))
        cursor = self._db.execute(
            "SELECT customer_id, external_id FROM customer_state"
            f" WHERE entity_id = ? AND customer_id IN ({marks})",
            [entity_id, *customer_ids],
        )
        return dict(cursor.fetchall())

    def mappings(self) -> pl.DataFrame:
        """Every known customer: entity_id, external_id, customer_id, status, updated_at."""
        cursor = self._db.execute(
            "SELECT entity_id, external_id, customer_id, status, updated_at FROM customer_state"
            " ORDER BY entity_id, external_id"
        )
        names = ("entity_id", "external_id", "customer_id", "status", "updated_at")
        schema = dict.fromkeys(names, pl.String)
        return pl.DataFrame(cursor.fetchall(), schema=schema, orient="row")

    def known_external_ids(self, entity_id: str) -> pl.DataFrame:
        """external_id and customer_id of every customer of an entity that exists in the API."""
        cursor = self._db.execute(
            "SELECT external_id, customer_id FROM customer_state"
            " WHERE entity_id = ? AND customer_id IS NOT NULL",
            (entity_id,),
        )
        schema = {"external_id": pl.String, "customer_id": pl.String}
        return pl.DataFrame(cursor.fetchall(), schema=schema, orient="row")
