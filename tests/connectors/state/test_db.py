"""The connection and dialect: where a store is, and errors that never carry a password."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from connectors.errors import InputError
from connectors.state.db import is_postgres_url, mask_url, public_location, state_exists
from connectors.state.store import StateStore


def test_unreachable_postgres_is_an_input_error() -> None:
    with pytest.raises(InputError, match="PostgreSQL") as info:
        StateStore.open("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)


def test_a_malformed_postgres_url_is_one_line_without_its_password() -> None:
    with pytest.raises(InputError) as info:
        StateStore.open("postgresql://u:s3cret@h:notaport/db?bogus_option=1")
    assert "s3cret" not in str(info.value)


def test_password_never_appears_in_the_location() -> None:
    assert mask_url("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("postgresql://h/db") == "postgresql://h/db"


def test_which_locations_are_postgres_and_which_exist(tmp_path: Path) -> None:
    assert is_postgres_url("postgresql://h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url(str(tmp_path / "postgresql.db"))
    assert not state_exists(str(tmp_path / "absent.db"))
    StateStore.open(str(tmp_path / "made.db")).close()
    assert state_exists(str(tmp_path / "made.db")) and state_exists("postgresql://h/db")


def test_a_new_store_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    location = tmp_path / "private" / "state.db"
    store = StateStore.open(str(location))
    store.journal.mark("E1", "A", "h", {"entity_id": "E1", "email_address": "a@example.com"}, "r")
    store.lock.acquire("r")
    modes = {p.name: p.stat().st_mode & 0o777 for p in location.parent.iterdir()}
    store.close()
    assert (location.parent.stat().st_mode & 0o777) == 0o700
    assert modes["state.db"] == 0o600 and modes["state.db.lock"] == 0o600
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("state.db-"))


def test_a_public_location_holds_no_password_and_keeps_everything_else() -> None:
    assert public_location("postgresql://u:s3cret@h:5432/db") == "postgresql://u@h:5432/db"
    assert public_location("postgres://u:s3cret@h1:5432,h2:5433/db?sslmode=verify-full&"
                           "password=s3cret&sslpassword=k3y&options=-csearch_path%3Dx") == (
        "postgres://u@h1:5432,h2:5433/db?sslmode=verify-full&options=-csearch_path%3Dx"
    )  # fmt: skip
    assert public_location("postgresql://h/db") == "postgresql://h/db"
    assert public_location("postgresql://u@h/db?options=-c%20x%3dy") == (
        "postgresql://u@h/db?options=-c%20x%3dy"  # untouched: nothing to leave out
    )
    assert public_location("postgresql://u:p@h/db?options=-c%20x%3Dy") == (
        "postgresql://u@h/db?options=-c%20x%3Dy"  # a space stays %20 (libpq reads + as +)
    )
    assert public_location("/var/lib/custsync/state.db") == "/var/lib/custsync/state.db"


def test_a_postgres_session_tells_the_server_to_notice_a_dead_machine_in_seconds() -> None:
    # A run's machine that dies (power, network) keeps its shard's lock until the server
    # notices: by default after two hours; these settings make it seconds.
    from tests.helpers import POSTGRES_URL

    if not POSTGRES_URL:
        pytest.skip("set CUSTSYNC_TEST_POSTGRES_URL (.ci/run starts a server) for PostgreSQL")
    from connectors.state.db import SERVER_KEEPALIVES, connect

    db = connect(POSTGRES_URL)
    try:
        shown = {name: db.execute(f"SHOW {name}").fetchone()[0] for name in SERVER_KEEPALIVES}
    finally:
        db.connection.close()
    assert shown == {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2",
                     "tcp_keepalives_count": "3", "tcp_user_timeout": "11000"}  # fmt: skip


def test_a_run_recording_outcomes_never_keeps_another_connection_from_writing(
    tmp_path: Path,
) -> None:
    """A loader records an outcome every millisecond (deferred writes), while a shared
    budget's heartbeat writes on a connection of its own once every 0.1 s: each heartbeat gets
    SQLite's write lock in moments. (A transaction held open between deferred writes starved
    the heartbeat for seconds at a time: SQLite's busy handler sleeps ever longer between
    tries, and the lock was free only for microseconds between commits.)"""
    location = str(tmp_path / "state.db")
    waits: list[float] = []
    stop = threading.Event()

    def heartbeat() -> None:
        with StateStore.open(location) as other:
            while not stop.is_set():
                started = time.monotonic()
                other.db.write("DELETE FROM customer_state WHERE external_id = ?", ("beat",))
                waits.append(time.monotonic() - started)
                time.sleep(0.1)

    with StateStore.open(location) as store:
        beating = threading.Thread(target=heartbeat)
        beating.start()
        try:
            until, n = time.monotonic() + 3.0, 0
            while time.monotonic() < until:
                store.customers.record("E", f"X{n}", "created", "run", f"id-{n}", defer=True)
                n += 1
                time.sleep(0.001)
        finally:
            stop.set()
            beating.join()
        store.db.flush()
        assert store.customers.get("E", f"X{n - 1}") is not None  # every outcome kept
    assert len(waits) >= 10
    assert max(waits) < 1.0, f"a heartbeat waited {max(waits):.1f} s for the lock"
