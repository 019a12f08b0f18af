"""One connection to the state store, its concepts side by side."""

from __future__ import annotations

from connectors.state.customers import CustomerState, CustomerStates
from connectors.state.db import Clock, StateDb, connect, utc_now
from connectors.state.journal import CreateJournal, PendingCreate
from connectors.state.run_lock import RunLock
from connectors.state.run_records import RunRecords
from connectors.state.targets import TargetPins
from connectors.state.writeback import CrmWriteback

__all__ = ["CustomerState", "PendingCreate", "StateStore"]


class StateStore:
    """One connection to the state store, its concepts side by side."""

    def __init__(self, db: StateDb) -> None:
        self.db = db
        self.customers = CustomerStates(db)
        self.journal = CreateJournal(db)
        self.lock = RunLock(db)
        self.runs = RunRecords(db)
        self.targets = TargetPins(db)
        self.writeback = CrmWriteback(db)

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
