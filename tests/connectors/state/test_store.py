"""The store's concepts side by side on one connection; closing releases the lock."""

from __future__ import annotations

import subprocess
import sys

from connectors.state.store import StateStore


def test_one_connection_serves_every_concept(location: str) -> None:
    store = StateStore.open(location)
    assert store.customers is not None and store.journal is not None and store.runs is not None
    assert store.is_postgres == location.startswith("postgresql://")
    assert "@" not in store.location or ":***@" in store.location or "custsync@" in store.location
    store.close()


def test_the_default_location_is_known_without_importing_polars() -> None:
    code = "import sys, connectors.state.db as db; print(db.DEFAULT_STATE, 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == [".custsync/state.db", "False"], out.stderr
