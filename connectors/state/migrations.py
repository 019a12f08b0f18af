"""The state store's schema, as numbered migrations applied once, in order, when a store opens.

A store records the last migration applied in ``schema_version`` (one row). Opening a store
applies every later migration, each in a transaction with its new version (SQLite's DDL is
transactional, and PostgreSQL's), under a lock that makes two processes opening one new store
take turns. A store newer than this custsync is refused, not guessed at.

Stores written before the schema had a version (custsync up to 2026-12-04) have no
``schema_version``: they are version 0. The first seven migrations are the tables those
releases created one by one with ``CREATE ... IF NOT EXISTS``, so they apply to such a store
whatever release wrote it. From migration 8 on, each is a change of its own: append one, never
edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SHARED_MAPPING = "conflict: the store mapped its customer to other external ids too; unmapped"


@dataclass(frozen=True)
class Migration:
    """One step of the schema: statements run in order, then ``data`` (a repair over rows)."""

    version: int
    name: str
    statements: tuple[str, ...]
    # Given the open connection's ``execute(statement, params)`` and the store's clock stamp.
    data: Callable[[Callable[..., Any], str], None] | None = None


def _unmap_shared_customers(execute: Callable[..., Any], now: str) -> None:
    """Stores written before one customer could map to one external id only (the match-on
    race) may map a customer to several: all those mappings are dropped, each row left
    ``failed`` with why, so the next run matches again and reports the conflict instead of
    keeping a guess."""
    execute(
        "UPDATE customer_state SET customer_id = NULL, payload_hash = NULL, status = 'failed',"
        " error = ?, updated_at = ? WHERE (entity_id, customer_id) IN (SELECT entity_id,"
        " customer_id FROM customer_state WHERE customer_id IS NOT NULL"
        " GROUP BY entity_id, customer_id HAVING COUNT(*) > 1)",
        (SHARED_MAPPING, now),
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "customers and runs",
        (
            """
            CREATE TABLE IF NOT EXISTS customer_state (
                entity_id     TEXT NOT NULL,
                external_id   TEXT NOT NULL,
                customer_id   TEXT,
                payload_hash  TEXT,
                status        TEXT NOT NULL,
                error         TEXT,
                pending_hash  TEXT,
                pending_since TEXT,
                pending_body  TEXT,
                run_id        TEXT,
                created_at    TEXT NOT NULL,
                updated_at    TEXT NOT NULL,
                PRIMARY KEY (entity_id, external_id)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS sync_run (
                run_id      TEXT PRIMARY KEY,
                command     TEXT NOT NULL,
                target      TEXT NOT NULL,
                started_at  TEXT NOT NULL,
                finished_at TEXT,
                status      TEXT NOT NULL,
                report      TEXT
            )
            """,
            "CREATE INDEX IF NOT EXISTS customer_state_pending ON customer_state (pending_since)",
            "CREATE INDEX IF NOT EXISTS customer_state_customer ON customer_state (customer_id)",
            # Rejected rows are looked up by external id alone (their entity may be what was wrong).
            "CREATE INDEX IF NOT EXISTS customer_state_external ON customer_state (external_id)",
        ),
    ),
    Migration(
        2,
        "one external id per customer of an entity",
        # Claiming a customer (an adoption, a reconciliation) and recording it are one
        # statement, whoever else claims it at the same moment.
        (
            "CREATE UNIQUE INDEX IF NOT EXISTS customer_state_owner"
            " ON customer_state (entity_id, customer_id) WHERE customer_id IS NOT NULL",
        ),
        data=_unmap_shared_customers,  # runs first: the index refuses the rows it repairs
    ),
    Migration(
        3,
        "the target each entity's mappings belong to",
        (
            """
            CREATE TABLE IF NOT EXISTS entity_target (
                entity_id  TEXT PRIMARY KEY,
                target     TEXT NOT NULL,
                pinned_at  TEXT NOT NULL
            )
            """,
        ),
    ),
    Migration(
        4,
        "what the CRM was last given",
        (
            """
            CREATE TABLE IF NOT EXISTS crm_writeback (
                entity_id   TEXT NOT NULL,
                external_id TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                written_at  TEXT NOT NULL,
                PRIMARY KEY (entity_id, external_id)
            )
            """,
        ),
    ),
    Migration(
        5,
        "leases on a target's API budget",
        (
            # The first version's table (no ``found``): leases live seconds, so it is dropped,
            # not migrated.
            "DROP TABLE IF EXISTS api_budget",
            """
            CREATE TABLE IF NOT EXISTS api_budget_leases (
                budget_key  TEXT NOT NULL,
                run_id      TEXT NOT NULL,
                heartbeat   DOUBLE PRECISION NOT NULL,
                admitted    DOUBLE PRECISION NOT NULL,
                wants       DOUBLE PRECISION,
                last_429    DOUBLE PRECISION,
                wall_until  DOUBLE PRECISION,
                found       DOUBLE PRECISION,
                found_at    DOUBLE PRECISION,
                PRIMARY KEY (budget_key, run_id)
            )
            """,
        ),
    ),
    Migration(
        6,
        "a migration's shards as their runs report them",
        (
            """
            CREATE TABLE IF NOT EXISTS migration_shard (
                migration_id TEXT NOT NULL,
                shard        TEXT NOT NULL,
                attempt      INTEGER NOT NULL,
                beats        INTEGER NOT NULL,
                rows_done    BIGINT NOT NULL,
                rows_total   BIGINT NOT NULL,
                status       TEXT NOT NULL,
                report       TEXT,
                reason       TEXT,
                PRIMARY KEY (migration_id, shard)
            )
            """,
        ),
    ),
    Migration(
        7,
        "a migration's shard artefacts",
        (
            """
            CREATE TABLE IF NOT EXISTS migration_file (
                migration_id TEXT NOT NULL,
                shard        TEXT NOT NULL,
                attempt      INTEGER NOT NULL,
                name         TEXT NOT NULL,
                part         INTEGER NOT NULL,
                data         BYTEA NOT NULL,
                PRIMARY KEY (migration_id, shard, attempt, name, part)
            )
            """,
        ),
    ),
    Migration(
        8,
        "the limit the runs of a target found, kept past their leases",
        (
            """
            CREATE TABLE IF NOT EXISTS api_budget_found (
                budget_key  TEXT PRIMARY KEY,
                found       DOUBLE PRECISION NOT NULL,
                found_at    DOUBLE PRECISION NOT NULL
            )
            """,
        ),
    ),
    Migration(
        9,
        "no index of customer ids alone",
        # Every lookup by customer id names the entity too, which the owner index (migration
        # 2) serves; keeping this one up cost each recorded create ~8 µs of the client's CPU
        # in SQLite, the most of any index: random UUIDs land all over its tree.
        ("DROP INDEX IF EXISTS customer_state_customer",),
    ),
    Migration(
        10,
        "whether a lease's finding of the limit is rough",
        # Rough findings were dated back by the seconds a confirmed one is probed gently (so
        # every run probed them quickly at once), which made them older than the finding they
        # replaced: a limit that fell was not taken up by the runs sharing it.
        ("ALTER TABLE api_budget_leases ADD COLUMN found_rough INTEGER",),
    ),
    Migration(
        11,
        "a migration's shard taken over by a live run of another",
        # Which shard it is (a live run that ends may run it in its own process, saving a
        # flow run's start), and which run took it, so the late flow run steps aside.
        (
            "ALTER TABLE migration_shard ADD COLUMN spec TEXT",
            "ALTER TABLE migration_shard ADD COLUMN taken_by TEXT",
        ),
    ),
    Migration(
        12,
        "the share each run of a known limit holds",
        # A run grows its share only into what the others hold no more: a lease's wants read
        # before a run sent anything let a newcomer take half while the first kept it all.
        ("ALTER TABLE api_budget_leases ADD COLUMN allotted DOUBLE PRECISION",),
    ),
)

LATEST = MIGRATIONS[-1].version
