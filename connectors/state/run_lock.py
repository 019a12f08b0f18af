"""One run at a time per entity of a state store: a plan made while another run writes the same
entity's customers would be stale. Runs of different entities proceed side by side.

A run of one entity holds the store *shared* and its entity *exclusively*; a run whose rows
name their own entities (no single ``--entity-id``) holds the whole store exclusively. A shard
of a migration (``custsync migrate``) holds its entity *shared* and its shard exclusively: the
shards of one entity run side by side (no id is in two), never beside a sync of that entity.

SQLite: flocks on ``<db>.lock`` and ``<db>.<entity digest>.lock`` (released by the OS even if
we are killed). PostgreSQL: session advisory locks (released when the connection ends).
"""

from __future__ import annotations

import hashlib
import os
from typing import IO

from connectors.errors import RunLockedError
from connectors.state.db import StateDb

# Advisory locks are the server's, not the database's: the keys name the store (database and
# schema), so two stores on one server never hold each other up.
STORE_LOCK_SPACE = 0x63757374  # "cust"
ENTITY_LOCK_SPACE = 0x656E7479  # "enty"
SHARD_LOCK_SPACE = 0x73686172  # "shar"


def _entity_digest(entity: str) -> bytes:
    return hashlib.sha256(entity.encode()).digest()


def _int4(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big", signed=True)


def _refused(what: str, location: str) -> RunLockedError:
    return RunLockedError(
        f"{what} is using the state store {location}; wait for it to finish "
        "(runs of the same entity never overlap)"
    )


class RunLock:
    """The store's run locks, for one run."""

    def __init__(self, db: StateDb) -> None:
        self._db = db
        self._handles: list[IO[str]] = []
        self._pg_unlock: list[tuple[str, tuple[int, ...]]] = []

    def acquire(self, run_id: str, entity: str | None = None, shard: str | None = None) -> None:
        """Hold the store for this run's entity (None: for every entity), or for one shard of
        it (``shard`` names it, e.g. ``3/8``); RunLockedError (exit 2) when another run holds
        it."""
        if shard is not None and entity is None:
            raise ValueError("a shard is a shard of one entity")
        try:
            if self._db.is_postgres:
                self._acquire_postgres(entity, shard)
            elif self._db.location != ":memory:":
                self._acquire_files(run_id, entity, shard)
        except RunLockedError:
            self.release()
            raise

    def _acquire_postgres(self, entity: str | None, shard: str | None) -> None:
        location = self._db.location
        database, schema = self._db.execute(
            "SELECT current_database(), current_schema()"
        ).fetchone()
        store = f"{database}\n{schema}"
        store_key = (STORE_LOCK_SPACE, _int4(store))
        if entity is None:
            self._pg_lock("pg_try_advisory_lock", "pg_advisory_unlock", store_key)
            return
        self._pg_lock("pg_try_advisory_lock_shared", "pg_advisory_unlock_shared", store_key)
        entity_key = (ENTITY_LOCK_SPACE, _int4(f"{store}\n{entity}"))
        mode = "_shared" if shard is not None else ""
        try:
            self._pg_lock(f"pg_try_advisory_lock{mode}", f"pg_advisory_unlock{mode}", entity_key)
            if shard is not None:
                shard_key = (SHARD_LOCK_SPACE, _int4(f"{store}\n{entity}\n{shard}"))
                self._pg_lock("pg_try_advisory_lock", "pg_advisory_unlock", shard_key)
        except RunLockedError:
            what = f"shard {shard} of entity {entity}" if shard else f"entity {entity}"
            raise _refused(f"another custsync run of {what}", location) from None

    def _pg_lock(self, take: str, give: str, keys: tuple[int, ...]) -> None:
        placeholders = ", ".join("?" for _ in keys)
        held = self._db.execute(f"SELECT {take}({placeholders})", keys).fetchone()
        self._db.commit()
        if not held[0]:
            raise _refused("another custsync run", self._db.location)
        self._pg_unlock.append((give, keys))

    def _acquire_files(self, run_id: str, entity: str | None, shard: str | None) -> None:
        import fcntl

        location = self._db.location
        store = self._open(f"{location}.lock")
        mode = fcntl.LOCK_EX if entity is None else fcntl.LOCK_SH
        try:
            fcntl.flock(store, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            store.seek(0)
            owner = store.read().strip() or "another run"
            store.close()
            raise _refused(owner, location) from None
        self._handles.append(store)
        if entity is None:
            self._claim(store, run_id)
            return
        self._hold_file(run_id, entity, shard is None, f"entity {entity}")
        if shard is not None:
            self._hold_file(run_id, f"{entity}\n{shard}", True, f"shard {shard} of entity {entity}")

    def _hold_file(self, run_id: str, key: str, exclusive: bool, what: str) -> None:
        import fcntl

        mine = self._open(f"{self._db.location}.{_entity_digest(key).hex()[:16]}.lock")
        try:
            fcntl.flock(mine, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            mine.seek(0)
            owner = mine.read().strip() or "another run"
            mine.close()
            raise _refused(f"{owner} of {what}", self._db.location) from None
        self._handles.append(mine)
        if exclusive:
            self._claim(mine, run_id)

    @staticmethod
    def _open(path: str) -> IO[str]:
        descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        return os.fdopen(descriptor, "r+")

    @staticmethod
    def _claim(handle: IO[str], run_id: str) -> None:
        handle.seek(0)
        handle.truncate()
        handle.write(f"run {run_id} (pid {os.getpid()})")
        handle.flush()

    def release(self) -> None:
        """Release what this run holds (also released when the process ends)."""
        while self._pg_unlock:
            give, keys = self._pg_unlock.pop()
            placeholders = ", ".join("?" for _ in keys)
            self._db.execute(f"SELECT {give}({placeholders})", keys)
            self._db.commit()
        while self._handles:
            self._handles.pop().close()
