"""One run at a time per state store, on both backends."""

from __future__ import annotations

import pytest

from connectors.errors import RunLockedError
from connectors.state.store import StateStore


def test_only_one_run_holds_the_store(location: str) -> None:
    first, second = StateStore.open(location), StateStore.open(location)
    first.lock.acquire("run-a")
    with pytest.raises(RunLockedError, match="wait for it to finish"):
        second.lock.acquire("run-b")
    first.lock.release()
    second.lock.acquire("run-b")  # free again
    second.lock.release()
    first.close()
    second.close()


def test_closing_the_store_releases_its_lock(location: str) -> None:
    first = StateStore.open(location)
    first.lock.acquire("run-a")
    first.close()
    second = StateStore.open(location)
    second.lock.acquire("run-b")
    second.close()
