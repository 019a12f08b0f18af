"""One run at a time per entity of a state store, on both backends."""

from __future__ import annotations

from pathlib import Path

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


def test_runs_of_different_entities_proceed_side_by_side(location: str) -> None:
    a, b, a_again = (StateStore.open(location) for _ in range(3))
    a.lock.acquire("run-a", "entity-a")
    b.lock.acquire("run-b", "entity-b")  # another entity: not held up
    with pytest.raises(RunLockedError, match="entity-a"):
        a_again.lock.acquire("run-a2", "entity-a")
    for store in (a, b, a_again):
        store.close()


def test_a_run_of_every_entity_excludes_and_is_excluded_by_entity_runs(location: str) -> None:
    one, every = StateStore.open(location), StateStore.open(location)
    one.lock.acquire("run-one", "entity-a")
    with pytest.raises(RunLockedError):
        every.lock.acquire("run-every")  # no single entity: the whole store
    one.lock.release()
    every.lock.acquire("run-every")
    with pytest.raises(RunLockedError):
        one.lock.acquire("run-one", "entity-b")
    one.close()
    every.close()


def test_two_stores_on_one_server_do_not_hold_each_other_up(location: str, tmp_path: Path) -> None:
    other = str(tmp_path / "other.db")
    if location.startswith("postgresql"):
        import psycopg

        base, _, schema = location.partition("search_path%3D")
        other = f"{base}search_path%3D{schema}_b"
        with psycopg.connect(base.split("?")[0], autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}_b")
    try:
        first, second = StateStore.open(location), StateStore.open(other)
        first.lock.acquire("run-a")
        second.lock.acquire("run-b")  # the same lock keys, another store
        first.close()
        second.close()
    finally:
        if location.startswith("postgresql"):
            with psycopg.connect(base.split("?")[0], autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {schema}_b CASCADE")
