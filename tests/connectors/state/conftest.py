"""The state store on both backends: SQLite file and PostgreSQL (CUSTSYNC_TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("CUSTSYNC_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store's location on each backend."""
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


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
