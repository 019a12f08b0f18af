"""The store's schema is versioned: migrations apply once, in order, in a transaction, when a
store opens, on both backends; stores of earlier releases upgrade and keep what they knew."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from connectors.errors import InputError
from connectors.state import db as state_db
from connectors.state.migrations import LATEST, MIGRATIONS, Migration
from connectors.state.store import StateStore
from engine.config import SyncConfig
from engine.sync import run_sync

STORES = Path(__file__).parent / "stores"
RELEASES = sorted(p.name for p in STORES.glob("release-*.db"))


def tables(store: StateStore) -> set[str]:
    if store.is_postgres:
        rows = store.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    else:
        rows = store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def test_a_new_store_has_every_migration_and_says_so(location: str) -> None:
    with StateStore.open(location) as store:
        assert store.db.schema_version() == LATEST == len(MIGRATIONS)
        assert {"customer_state", "sync_run", "entity_target", "crm_writeback",
                "api_budget_leases", "migration_shard", "migration_file",
                "schema_version"} <= tables(store)  # fmt: skip
    with StateStore.open(location) as again:  # opened again: nothing to do
        assert again.db.schema_version() == LATEST
        count = again.db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
    assert count == 1


def test_migrations_are_numbered_in_order_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_migration_that_fails_leaves_the_store_as_it_was(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    StateStore.open(location).close()
    broken = Migration(LATEST + 1, "broken", ("CREATE TABLE half_done (a TEXT)", "NOT SQL"))
    monkeypatch.setattr(state_db, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(state_db, "LATEST", LATEST + 1)
    with pytest.raises(Exception, match=r"(?i)syntax"):
        StateStore.open(location)
    monkeypatch.undo()
    with StateStore.open(location) as store:
        assert store.db.schema_version() == LATEST
        assert "half_done" not in tables(store)  # the whole migration rolled back


def test_a_store_of_a_newer_custsync_is_refused_in_one_line(location: str) -> None:
    with StateStore.open(location) as store:
        store.db.execute("UPDATE schema_version SET version = ?", (LATEST + 5,))
        store.db.commit()
    with pytest.raises(InputError, match=f"newer custsync.*{LATEST + 5}.*upgrade custsync"):
        StateStore.open(location)


def test_processes_opening_one_new_store_at_once_each_find_it_whole(location: str) -> None:
    errors: list[BaseException] = []
    versions: list[int] = []

    def open_it() -> None:
        try:
            with StateStore.open(location) as store:
                versions.append(store.db.schema_version())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and versions == [LATEST] * 6


@pytest.mark.parametrize("release", RELEASES)
def test_a_store_of_an_earlier_release_upgrades_and_an_unchanged_sync_sends_nothing(
    release: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / release
    shutil.copy(STORES / release, state)
    before = sqlite3.connect(state)
    # The embedded sandbox's pin names the folder the run was in (its .custsync/sandbox.db):
    # here, this test's folder stands for the one where the release ran.
    monkeypatch.chdir(tmp_path)
    if before.execute("SELECT 1 FROM sqlite_master WHERE name = 'entity_target'").fetchone():
        here = f"local sandbox {(tmp_path / '.custsync' / 'sandbox.db').resolve()}"
        before.execute("UPDATE entity_target SET target = ?", (here,))
        before.commit()
    known = before.execute(
        "SELECT external_id, customer_id, payload_hash FROM customer_state ORDER BY 1"
    ).fetchall()
    before.close()
    assert len(known) == 12 and all(customer_id for _, customer_id, _ in known)
    config = SyncConfig(sources=[str(STORES / "export.csv")], target="local", entity_id="E1",
                        state=str(state), out=tmp_path / "out")  # fmt: skip
    outcome = run_sync(config)
    report = outcome.report
    assert outcome.exit_code == 0, outcome.error
    assert (report.unchanged, report.created, report.updated, report.requests) == (12, 0, 0, 0)
    with StateStore.open(str(state)) as store:
        assert store.db.schema_version() == LATEST
        assert "api_budget" not in tables(store)  # 2026-12-02's lease table, dropped
        after = store.db.execute(
            "SELECT external_id, customer_id, payload_hash FROM customer_state ORDER BY 1"
        ).fetchall()
    assert after == known
