"""The state store on both backends: SQLite file and PostgreSQL (CUSTSYNC_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.state_store import StateStore
from schemas.errors import InputError

POSTGRES_URL = os.environ.get("CUSTSYNC_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "state.db")
        return
    if not POSTGRES_URL:
        pytest.skip("set CUSTSYNC_TEST_POSTGRES_URL (.ci/run starts a server) for PostgreSQL")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    # Each test in a schema of its own: same server, no cross-talk.
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


def test_record_and_lookup(location: str) -> None:
    store = StateStore.open(location)
    store.record("E1", "A", "created", "run1", "uuid-a", "h1")
    store.record("E1", "B", "created", "run1", "uuid-b", "h2")
    store.record("E2", "A", "created", "run1", "uuid-x", "h3")
    found = store.lookup("E1", ["A", "B", "C"]).sort("external_id")
    assert found.select("external_id", "customer_id", "payload_hash").rows() == [
        ("A", "uuid-a", "h1"),
        ("B", "uuid-b", "h2"),
    ]
    store.close()


def test_results_survive_a_new_connection(location: str) -> None:
    store = StateStore.open(location)
    store.record("E1", "A", "created", "run1", "uuid-a", "h1")
    # no close(): a run killed after this point must still have the result
    again = StateStore.open(location)
    assert again.get("E1", "A").customer_id == "uuid-a"  # type: ignore[union-attr]
    again.close()
    store.close()


def test_a_failure_never_erases_the_known_uuid_or_hash(location: str) -> None:
    store = StateStore.open(location)
    store.record("E1", "A", "created", "run1", "uuid-a", "h1")
    store.record("E1", "A", "failed", "run2", error="HTTP 503")
    state = store.get("E1", "A")
    assert state is not None
    assert (state.customer_id, state.payload_hash, state.status, state.error) == (
        "uuid-a", "h1", "failed", "HTTP 503",
    )  # fmt: skip
    store.close()


def test_pending_journal(location: str) -> None:
    store = StateStore.open(location)
    since = store.mark_pending("E1", "A", "h1", {"entity_id": "E1", "company_name": "Acme"}, "run1")
    pending = store.pending()
    assert [(p.external_id, p.pending_hash, p.pending_since) for p in pending] == [
        ("A", "h1", since)
    ]
    assert '"company_name": "Acme"' in (pending[0].pending_body or "")
    store.record("E1", "A", "failed", "run1", error="unknown", keep_pending=True)
    assert store.pending()[0].pending_since == since
    store.record("E1", "A", "created", "run1", "uuid-a", "h1")
    assert store.pending() == []
    store.close()


def test_batched_lookup_of_many(location: str) -> None:
    store = StateStore.open(location)
    for n in range(120):
        store.record("E1", f"id{n}", "created", "run1", f"uuid{n}", "h")
    ids = [f"id{n}" for n in range(0, 12_000, 2)]  # more than one lookup batch
    assert store.lookup("E1", ids).height == 60
    store.close()


def test_runs_and_mappings(location: str) -> None:
    store = StateStore.open(location)
    store.begin_run("r1", "sync", "local")
    store.record("E1", "A", "created", "r1", "uuid-a", "h1")
    store.finish_run("r1", "ok", {"created": 1})
    assert [(r["run_id"], r["status"]) for r in store.runs()] == [("r1", "ok")]
    assert store.mappings().select("external_id", "customer_id").rows() == [("A", "uuid-a")]
    assert store.owners_of("E1", ["uuid-a", "nope"]) == {"uuid-a": "A"}
    store.close()


def test_unreachable_postgres_is_an_input_error() -> None:
    with pytest.raises(InputError, match="PostgreSQL"):
        StateStore.open("postgresql://nobody:secret@127.0.0.1:1/none")


def test_password_never_appears_in_the_location() -> None:
    from connectors.state_store import _mask_url

    assert _mask_url("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"


def test_only_one_run_holds_the_store(location: str) -> None:
    from connectors.state_store import RunLockedError

    first, second = StateStore.open(location), StateStore.open(location)
    first.lock_runs("run-a")
    with pytest.raises(RunLockedError, match="wait for it to finish"):
        second.lock_runs("run-b")
    first.unlock_runs()
    second.lock_runs("run-b")  # free again
    second.unlock_runs()
    first.close()
    second.close()
