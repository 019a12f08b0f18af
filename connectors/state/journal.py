"""The write-ahead journal of creates: a create is journalled, durably, *before* it is sent.

The API has no idempotency key, so a crash or a lost response must never leave a customer we
do not know we may have created: what was sent and since when stay in the customer's row until
its outcome is known (``CustomerStates.record`` clears them), and the next run reconciles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from connectors.state.db import StateDb, iso

# Margin for the API's clock running behind ours when searching created_at >= intent.
CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class PendingCreate:
    """A create sent (or about to be) whose outcome is not yet known."""

    entity_id: str
    external_id: str
    payload_hash: str
    since: str  # ISO stamp, taken early by CLOCK_SKEW
    body: dict[str, Any]


def pending_from_columns(
    entity_id: str, external_id: str, payload_hash: str | None, since: str | None, body: str | None
) -> PendingCreate | None:
    """The journal entry held in a customer row's three pending columns, if any."""
    if since is None or body is None:
        return None
    return PendingCreate(entity_id, external_id, payload_hash or "", since, json.loads(body))


class CreateJournal:
    """Journals creates in the customer rows of the store."""

    def __init__(self, db: StateDb) -> None:
        self._db = db

    def mark(
        self, entity_id: str, external_id: str, payload_hash: str, body: dict[str, Any], run_id: str
    ) -> PendingCreate:
        """Journal a create about to be sent (what, and since when).

        The stamp is taken early by CLOCK_SKEW: the API's clock may run behind ours, and a
        reconciliation searching ``created_at >= since`` must not miss the customer."""
        return self.mark_many([(entity_id, external_id, payload_hash, body)], run_id)[0]

    def mark_many(
        self, creates: list[tuple[str, str, str, dict[str, Any]]], run_id: str
    ) -> list[PendingCreate]:
        """Journal several creates about to be sent, in one commit (a commit per create was
        a tenth of a create's time on the client, and a round trip each on PostgreSQL). One
        journalled but never sent costs its reconciliation a search, never a duplicate."""
        since = iso(self._db.clock() - CLOCK_SKEW)
        entries = [PendingCreate(e, x, h, since, body) for e, x, h, body in creates]
        rows = [(p.entity_id, p.external_id, p.payload_hash, since, json.dumps(p.body), run_id,
                 since, since) for p in entries]  # fmt: skip
        self._db.write_many(
            "INSERT INTO customer_state (entity_id, external_id, status, pending_hash,"
            " pending_since, pending_body, run_id, created_at, updated_at)"
            " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (entity_id, external_id) DO UPDATE SET"
            " pending_hash = excluded.pending_hash, pending_since = excluded.pending_since,"
            " pending_body = excluded.pending_body, run_id = excluded.run_id,"
            " updated_at = excluded.updated_at",
            rows,
        )
        return entries

    def pending(self, not_run: str | None = None, entity: str | None = None) -> list[PendingCreate]:
        """Creates whose outcome is unknown (sent, no answer recorded), oldest first; with
        ``not_run``, only those that run has not touched; with ``entity``, that entity's only
        (another entity's run may be sending its own right now)."""
        cursor = self._db.execute(
            "SELECT entity_id, external_id, pending_hash, pending_since, pending_body"
            " FROM customer_state WHERE pending_since IS NOT NULL"
            " AND (run_id IS NULL OR run_id <> ?) AND (? = '' OR entity_id = ?)"
            " ORDER BY pending_since",
            (not_run or "", entity or "", entity or ""),
        )
        entries = (pending_from_columns(*row) for row in cursor.fetchall())
        return [entry for entry in entries if entry is not None]

    def withdraw(self, entries: list[tuple[str, str]]) -> None:
        """Creates journalled but known never to have been made (not sent, or refused with
        a 401): their bodies (shopper data) go at once; a row that held nothing else goes
        with them."""
        if not entries:
            return
        self._db.write_many(
            "DELETE FROM customer_state WHERE entity_id = ? AND external_id = ?"
            " AND status = 'pending' AND customer_id IS NULL",
            entries,
        )
        self._db.write_many(
            "UPDATE customer_state SET pending_hash = NULL, pending_since = NULL,"
            " pending_body = NULL WHERE entity_id = ? AND external_id = ?",
            entries,
        )
