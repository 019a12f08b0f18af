"""The sandbox's customers, kept in SQLite so a restarted sandbox still has them."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.rsql import Node
from sandbox.search import (
    REGEX_BUDGET_S,
    SearchError,
    column_sql,
    compile_condition,
    phone_digits,
    regex_budget,
    regex_search,
)
from sandbox.validation import CustomerRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS customer (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    entity_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,  -- unix milliseconds
    updated_at INTEGER NOT NULL,
    body       TEXT NOT NULL      -- the accepted CustomerRequest, JSON
);
CREATE INDEX IF NOT EXISTS customer_entity ON customer (entity_id);
CREATE INDEX IF NOT EXISTS customer_created ON customer (created_at);
CREATE INDEX IF NOT EXISTS customer_email ON customer (json_extract(body, '$.email_address'));
"""


def format_timestamp(ms: int) -> str:
    """Unix milliseconds -> ``2026-11-26T01:30:00.123Z``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wall_clock_ms() -> int:
    """The default clock: unix milliseconds now."""
    return time.time_ns() // 1_000_000


class CustomerStore:
    """Customers by UUID; every write is committed before the method returns."""

    def __init__(self, path: str | Path, clock: Callable[[], int] = wall_clock_ms) -> None:
        if str(path) != ":memory:":
            # Shopper data: the folder and the file readable by their owner alone (SQLite
            # gives its -wal and -shm files the database file's permissions).
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        # One connection, used from the server's event loop thread only.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._db.create_function("regex_search", 2, regex_search, deterministic=True)
        self._db.create_function("phone_digits", 1, phone_digits, deterministic=True)
        self._clock = clock

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def count(self) -> int:
        """How many customers are stored."""
        return int(self._db.execute("SELECT count(*) FROM customer").fetchone()[0])

    def create(self, record: CustomerRecord) -> dict[str, Any]:
        """Store a new customer; return its CustomerResponse."""
        customer_id = str(uuid.uuid4())
        now = self._clock()
        with self._db:
            self._db.execute(
                "INSERT INTO customer (id, entity_id, created_at, updated_at, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (customer_id, record["entity_id"], now, now, json.dumps(record)),
            )
        return _response(customer_id, record, now, now)

    def get(self, customer_id: str) -> dict[str, Any] | None:
        """The CustomerResponse of one customer, or None."""
        row = self._db.execute(
            "SELECT id, body, created_at, updated_at FROM customer WHERE id = ?", (customer_id,)
        ).fetchone()
        return None if row is None else _response(row[0], json.loads(row[1]), row[2], row[3])

    def replace(self, customer_id: str, record: CustomerRecord) -> dict[str, Any] | None:
        """Replace a whole record (``created_at`` kept, ``updated_at`` moves); None if unknown."""
        with self._db:
            row = self._db.execute(
                "SELECT created_at, updated_at FROM customer WHERE id = ?", (customer_id,)
            ).fetchone()
            if row is None:
                return None
            created_at, previous = row
            updated_at = max(self._clock(), previous + 1)
            self._db.execute(
                "UPDATE customer SET entity_id = ?, updated_at = ?, body = ? WHERE id = ?",
                (record["entity_id"], updated_at, json.dumps(record), customer_id),
            )
        return _response(customer_id, record, created_at, updated_at)

    def delete(self, customer_id: str) -> bool:
        """Remove a customer; False when there was none."""
        with self._db:
            cursor = self._db.execute("DELETE FROM customer WHERE id = ?", (customer_id,))
        return cursor.rowcount > 0

    def search(
        self,
        query: Node,
        order_criteria: str,
        descending: bool,
        page_number: int,
        page_size: int,
    ) -> list[dict[str, Any]]:
        """One page of the customers matching ``query`` (may raise SearchError)."""
        condition, params = compile_condition(query)
        direction = "DESC" if descending else "ASC"
        sql = (
            "SELECT id, body, created_at, updated_at FROM customer"
            f" WHERE {condition}"
            f" ORDER BY {column_sql(order_criteria)} {direction}, seq {direction}"
            " LIMIT ? OFFSET ?"
        )
        try:
            with regex_budget():
                rows = self._db.execute(
                    sql, [*params, page_size, (page_number - 1) * page_size]
                ).fetchall()
        except sqlite3.OperationalError as exc:
            if "user-defined function" not in str(exc):
                raise
            raise SearchError(
                f"=regex= took over {REGEX_BUDGET_S:g} s; use a simpler pattern"
            ) from None
        return [_response(r[0], json.loads(r[1]), r[2], r[3]) for r in rows]


def _response(
    customer_id: str, record: CustomerRecord, created: int, updated: int
) -> dict[str, Any]:
    return {
        "id": customer_id,
        **record,
        "created_at": format_timestamp(created),
        "updated_at": format_timestamp(updated),
    }
