"""What the CRM holds: per customer, the UUID the CRM last confirmed (through its API) or was
handed (in a ``crm-update`` file).

A nightly run writes back only what is new or changed since (a customer created, recreated
under a new UUID, or deleted), so the CRM's import touches the records that need it and no
other. A row is marked here only after the CRM confirmed it (or the file was written): a run
that dies between the two hands the same rows out again (an update setting a field to what it
already holds), never leaves one out (``engine/writeback.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from connectors.state.db import StateDb

COLUMNS = {"entity_id": pl.String, "external_id": pl.String, "customer_id": pl.String}
# New or changed UUIDs, and UUIDs the CRM holds for customers now deleted (to be cleared).
_CHANGED = (
    "(s.customer_id IS NOT NULL AND (w.customer_id IS NULL OR w.customer_id <> s.customer_id))"
    " OR (s.customer_id IS NULL AND w.customer_id IS NOT NULL)"
)


class CrmWriteback:
    """The ``crm_writeback`` table of one state store."""

    def __init__(self, db: StateDb) -> None:
        self._db = db

    def due(self, entities: Iterable[str], full: bool = False) -> pl.DataFrame:
        """entity_id, external_id, customer_id (null: clear it) of the customers of these
        entities whose UUID the CRM does not hold yet; ``full``: every customer with a UUID."""
        chosen = sorted(set(entities))
        if not chosen:
            return pl.DataFrame(schema=COLUMNS)
        marks = ", ".join("?" * len(chosen))
        which = "s.customer_id IS NOT NULL" if full else f"({_CHANGED})"
        cursor = self._db.execute(
            "SELECT s.entity_id, s.external_id, s.customer_id FROM customer_state s"
            " LEFT JOIN crm_writeback w"
            " ON w.entity_id = s.entity_id AND w.external_id = s.external_id"
            f" WHERE s.entity_id IN ({marks}) AND {which}"
            " ORDER BY s.entity_id, s.external_id",
            chosen,
        )
        return pl.DataFrame(cursor.fetchall(), schema=COLUMNS, orient="row")

    def entities(self) -> list[str]:
        """Every entity with a customer or a UUID the CRM was given (``custsync writeback``
        without ``--entity-id``)."""
        cursor = self._db.execute(
            "SELECT entity_id FROM customer_state UNION SELECT entity_id FROM crm_writeback"
        )
        return sorted(str(row[0]) for row in cursor.fetchall())

    def mark(self, written: pl.DataFrame) -> None:
        """Record what a written file gave the CRM (a null UUID: the CRM holds none now)."""
        now = self._db.now()
        given = written.filter(pl.col("customer_id").is_not_null())
        cleared = written.filter(pl.col("customer_id").is_null())
        self._db.write_many(
            "INSERT INTO crm_writeback (entity_id, external_id, customer_id, written_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (entity_id, external_id) DO UPDATE SET"
            " customer_id = excluded.customer_id, written_at = excluded.written_at",
            [(*row, now) for row in given.iter_rows()],
        )
        self._db.write_many(
            "DELETE FROM crm_writeback WHERE entity_id = ? AND external_id = ?",
            [(row[0], row[1]) for row in cleared.iter_rows()],
        )
