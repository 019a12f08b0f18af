"""The one way into the state store: one connection, every table's concept side by side."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from connectors.state.budget import BudgetLeases
from connectors.state.customers import CustomerStates
from connectors.state.db import Clock, StateDb, connect, utc_now
from connectors.state.journal import CreateJournal
from connectors.state.run_lock import RunLock
from connectors.state.run_records import RunRecords
from connectors.state.shard_files import ShardFiles
from connectors.state.shard_runs import ShardRuns
from connectors.state.targets import TargetPins
from connectors.state.writeback import CrmWriteback

# Opens another connection to one store: a thread that writes on its own (a budget's beats, a
# shard's heartbeat) needs one, since a SQLite connection belongs to the thread that made it.
StoreOpener = Callable[[], "StateStore"]


class StateStore:
    """One connection to the state store, its concepts side by side. Opening a store brings
    its schema up to date (``migrations.py``)."""

    def __init__(self, db: StateDb, opener: StoreOpener) -> None:
        self.db = db
        self.opener = opener
        self.customers = CustomerStates(db)
        self.journal = CreateJournal(db)
        self.lock = RunLock(db)
        self.runs = RunRecords(db)
        self.targets = TargetPins(db)
        self.writeback = CrmWriteback(db)
        self.budget = BudgetLeases(db)
        self.shard_runs = ShardRuns(db)
        self.shard_files = ShardFiles(db)

    @classmethod
    def open(cls, location: str, clock: Clock = utc_now) -> StateStore:
        """``postgresql://...`` -> PostgreSQL; anything else is a SQLite file path."""
        return cls(connect(location, clock), opener(location, clock))

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

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def opener(location: str, clock: Clock = utc_now) -> StoreOpener:
    """What opens the store at ``location`` again, on whatever thread calls it (the location,
    a PostgreSQL password included, stays inside it)."""
    return partial(StateStore.open, location, clock)
