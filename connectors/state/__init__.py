"""The state store: what custsync knows of every customer it synced, and of every run.

db.py           the connection and dialect (SQLite file or PostgreSQL URL), the clock
customers.py    per (entity, external id): UUID, payload hash, last status and error
journal.py      the write-ahead journal of creates in flight (``PendingCreate``)
run_lock.py     one run at a time per store
run_records.py  every run, with its report
"""

from __future__ import annotations

from connectors.state.customers import CustomerState, CustomerStates
from connectors.state.db import DEFAULT_STATE, Clock, StateDb, connect, state_exists, utc_now
from connectors.state.journal import CreateJournal, PendingCreate
from connectors.state.run_lock import RunLock
from connectors.state.run_records import RunRecords

__all__ = [
    "DEFAULT_STATE",
    "CustomerState",
    "PendingCreate",
    "StateStore",
    "state_exists",
]


class StateStore:
    """One connection to the state store, its concepts side by side."""

    def __init__(self, db: StateDb) -> None:
        self.db = db
        self.customers = CustomerStates(db)
        self.journal = CreateJournal(db)
        self.lock = RunLock(db)
        self.runs = RunRecords(db)

    @classmethod
    def open(cls, location: str, clock: Clock = utc_now) -> StateStore:
        """``postgresql://...`` -> PostgreSQL; anything else is a SQLite file path."""
        return cls(connect(location, clock))

    @property
    def location(self) -> str:
        """Where the store is (a PostgreSQL URL without its password)."""
        return self.db.location

    @property
    def is_postgres(self) -> bool:
        """True for a PostgreSQL store."""
        return self.db.is_postgres

    def close(self) -> None:
        """Release the run lock if held, and close the connection."""
        self.lock.release()
        self.db.close()
