"""One run at a time per state store: a plan made while another run writes would be stale.

SQLite: an exclusive flock on ``<db>.lock`` (released by the OS even if we are killed).
PostgreSQL: a session advisory lock (released when the connection ends).
"""

from __future__ import annotations

import os
from typing import IO

from connectors.errors import RunLockedError
from connectors.state.db import StateDb

RUN_LOCK_KEY = 0x637573746D73796E  # "custmsyn": one advisory lock per PostgreSQL store


class RunLock:
    """The store's run lock, held by at most one run."""

    def __init__(self, db: StateDb) -> None:
        self._db = db
        self._handle: IO[str] | None = None
        self._held = False

    def acquire(self, run_id: str) -> None:
        """Hold the store for this run; RunLockedError (exit 2) when another run holds it."""
        if self._db.is_postgres:
            held = self._db.execute("SELECT pg_try_advisory_lock(?)", (RUN_LOCK_KEY,)).fetchone()
            self._db.commit()
            if not held[0]:
                raise RunLockedError(
                    f"another custsync run is using the state store {self._db.location}; "
                    "wait for it to finish (runs of the same state never overlap)"
                )
            self._held = True
            return
        if self._db.location == ":memory:":
            return
        import fcntl

        descriptor = os.open(f"{self._db.location}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        handle = os.fdopen(descriptor, "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another run"
            handle.close()
            raise RunLockedError(
                f"{owner} is using the state store {self._db.location}; wait for it to finish "
                "(runs of the same state never overlap)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"run {run_id} (pid {os.getpid()})")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Release the lock if this run holds it (also released when the process ends)."""
        if self._held:
            self._db.execute("SELECT pg_advisory_unlock(?)", (RUN_LOCK_KEY,))
            self._db.commit()
            self._held = False
        if self._handle is not None:
            self._handle.close()
            self._handle = None
