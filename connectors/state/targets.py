"""Which API each entity's mappings belong to: a store filled against one target (a rehearsal
on the sandbox, say) must never pass its UUIDs off as another's (production): a run there
would find every customer "unchanged", send nothing, and hand the CRM UUIDs that do not exist.

The store is pinned per entity (not as a whole: one PostgreSQL store may serve a merchant's
EMEA and US entities, each on its own API), at the first run that writes. A run whose target
is not its entities' pin is refused before anything is sent (exit 2), naming both; told to
start afresh (``--new-target``), it forgets those entities' mappings first.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.errors import InputError
from connectors.state.db import StateDb


class TargetPins:
    """The ``entity_target`` table of one state store."""

    def __init__(self, db: StateDb) -> None:
        self._db = db

    def pinned(self, entity_id: str) -> str | None:
        """The target an entity's mappings belong to, if a run has written any."""
        row = self._db.execute(
            "SELECT target FROM entity_target WHERE entity_id = ?", (entity_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def check(self, entities: Iterable[str], target: str, shown_as: str) -> list[str]:
        """Refuse (InputError, exit 2) when an entity's mappings belong to another target;
        the entities pinned to none yet."""
        fresh = []
        for entity in sorted(set(entities)):
            pin = self.pinned(entity)
            if pin is None:
                fresh.append(entity)
            elif pin != target:
                raise InputError(
                    f"the state store's mappings of entity {entity} belong to {pin}, not "
                    f"{shown_as}: use another {{state}} for it, or pass {{new_target}} to forget "
                    "them and start afresh"
                )
        return fresh

    def pin(self, entities: Iterable[str], target: str) -> None:
        """Pin entities to ``target`` (those already pinned to it stay as they are)."""
        now = self._db.now()
        self._db.write_many(
            "INSERT INTO entity_target (entity_id, target, pinned_at) VALUES (?, ?, ?)"
            " ON CONFLICT (entity_id) DO NOTHING",
            [(entity, target, now) for entity in sorted(set(entities))],
        )

    def start_afresh(self, entities: Iterable[str], target: str) -> int:
        """``--new-target``: forget the mappings (and journal) of entities pinned to another
        target and pin them to this one; how many customers' states were dropped."""
        dropped = 0
        for entity in sorted(set(entities)):
            pin = self.pinned(entity)
            if pin is None or pin == target:
                continue
            cursor = self._db.execute("DELETE FROM customer_state WHERE entity_id = ?", (entity,))
            dropped += max(0, cursor.rowcount or 0)
            self._db.execute(
                "UPDATE entity_target SET target = ?, pinned_at = ? WHERE entity_id = ?",
                (target, self._db.now(), entity),
            )
            self._db.commit()
        return dropped
