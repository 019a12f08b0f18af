"""The state store's connection and dialect: the one place that knows ``postgresql://``.

SQLite by default (one file, WAL), PostgreSQL via a ``postgresql://`` URL for several workers;
the same schema and SQL on both (``?`` placeholders, rewritten for psycopg). Every write commits
at once: a run cut short keeps all it did.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from connectors.errors import InputError
from connectors.private_files import owner_only_file
from connectors.state.migrations import LATEST, MIGRATIONS, Migration

if TYPE_CHECKING:
    from connectors.state.arrow_reads import ArrowReader

DEFAULT_STATE = ".custsync/state.db"
DEFER_S = 0.2
SCHEMA_LOCK_KEY = 0x637573747363686D  # "custschm"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# TCP keepalives both ways (libpq's at connect, the server's per session): a peer gone silent
# is noticed in about 11 s.
SERVER_KEEPALIVES = {"tcp_keepalives_idle": 5, "tcp_keepalives_interval": 2,
                     "tcp_keepalives_count": 3, "tcp_user_timeout": 11000}  # fmt: skip
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})  # libpq's, in a URL's query
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"

Clock = Callable[[], datetime]


def is_integrity_error(exc: BaseException) -> bool:
    """A unique constraint refused the write (SQLite or PostgreSQL)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    return type(exc).__name__ in ("UniqueViolation", "IntegrityError")


def utc_now() -> datetime:
    """The wall clock, in UTC (the default clock of a store)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-11-26T01:30:00.123Z``: the API's own format, so it sorts with the API's stamps."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_postgres_url(location: str) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL; anything else is a SQLite path."""
    return location.startswith(POSTGRES_SCHEMES)


def state_exists(location: str) -> bool:
    """Whether a store is there to read (a PostgreSQL URL is taken to be)."""
    return is_postgres_url(location) or location == ":memory:" or Path(location).exists()


def mask_url(url: str) -> str:
    """A database URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def public_location(location: str) -> str:
    """A store's location as a flow run may keep it: a PostgreSQL URL without its password
    (in the user info, or a ``password``/``sslpassword`` parameter); libpq's own
    ``PGPASSWORD`` or ``~/.pgpass`` can still supply one where the run happens."""
    if not is_postgres_url(location):
        return location
    parts = urlsplit(location)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if ":" not in userinfo and not any(key in SECRET_PARAMETERS for key, _ in pairs):
        return location  # as it was written: nothing to leave out
    netloc = f"{userinfo.split(':', 1)[0]}@{hosts}" if at else hosts
    kept = [(key, value) for key, value in pairs if key not in SECRET_PARAMETERS]
    # %20, not +: libpq reads a URI's query percent-decoded, and a + as a plus.
    query = urlencode(kept, quote_via=quote)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class StateDb:
    """One connection, its dialect, and the store's clock."""

    def __init__(self, connection: Any, location: str, postgres: bool, clock: Clock) -> None:
        self.connection = connection
        self.location = location
        self.is_postgres = postgres
        self.clock = clock
        self._deferred_since: float | None = None
        # Deferred writes, held here until written together (see ``write``).
        self._deferred: list[tuple[str, Sequence[Any]]] = []
        self._arrow: ArrowReader | None = None
        try:
            self.upgrade()
        except BaseException:
            connection.close()  # refused or failed: nothing else will close it
            raise

    def upgrade(self) -> None:
        """Apply the migrations this store has not had yet (``migrations.py``), each in a
        transaction with its version, under a lock: another process opening the same store
        this moment waits, then finds it done. A store already current costs one query."""
        version = self.schema_version()
        if version == LATEST:
            self.commit()  # PostgreSQL: end the read's transaction
            return
        if version > LATEST:
            self.commit()
            raise InputError(
                f"the state store {self.location} was written by a newer custsync (schema "
                f"version {version}; this one knows up to {LATEST}): upgrade custsync to use it"
            )
        for migration in MIGRATIONS:
            if migration.version > version:
                self._apply(migration)

    def _apply(self, migration: Migration) -> None:
        if self.is_postgres:
            self.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK_KEY,))
        else:
            self.connection.execute("BEGIN IMMEDIATE")
        try:
            if self.schema_version() >= migration.version:  # another process applied it
                self.commit()
                return
            if migration.data is not None:
                migration.data(self.execute, self.now())
            for statement in migration.statements:
                self.execute(statement)
            self.execute(VERSION_TABLE)
            self.execute("DELETE FROM schema_version")
            self.execute("INSERT INTO schema_version (version) VALUES (?)", (migration.version,))
            self.commit()
        except BaseException:
            self.connection.rollback()
            raise

    def schema_version(self) -> int:
        """The last migration this store has had (0: none, a store from before versions)."""
        if self.is_postgres:
            found = self.execute("SELECT to_regclass('schema_version')").fetchone()[0]
        else:
            found = self.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
        if not found:
            return 0
        row = self.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def now(self) -> str:
        """The store's clock, as an ISO stamp."""
        return iso(self.clock())

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement written with ``?`` placeholders (deferred writes first, committed:
        what is read includes them)."""
        if self._deferred:
            self._write(self._write_deferred)
        return self._execute(statement, params)

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        if self.is_postgres:
            statement = statement.replace("?", "%s")
        return self.connection.execute(statement, params)

    def commit(self) -> None:
        """Commit the open transaction (deferred writes included)."""
        if self._deferred:
            self._write_deferred()
        self.connection.commit()
        self._deferred_since = None

    def flush(self) -> None:
        """Commit deferred writes, if any (a step's end: nothing is held open meanwhile)."""
        if self._deferred_since is not None:
            self.commit()

    def write(self, statement: str, params: Sequence[Any], *, defer: bool = False) -> None:
        """Run and commit one write, waiting out another process's brief SQLite lock.

        ``defer``: held in memory, and written in one short transaction with the next write
        that is not deferred, at the next read, at ``flush()``, or once the oldest is
        ``DEFER_S`` old, whichever comes first. For writes a crash may lose without harm (an
        outcome whose journal entry stays: the next run reconciles it). A commit per row was
        a fifth of a create's time on the client; and a transaction held open between them
        kept SQLite's write lock from every other connection (a shared budget's heartbeat
        waited seconds for it)."""
        if defer:
            now = time.monotonic()
            if self._deferred_since is None:
                self._deferred_since = now
            self._deferred.append((statement, params))
            if now - self._deferred_since >= DEFER_S:
                self._write(self._write_deferred)
            return

        def one() -> None:
            self._write_deferred()
            self._execute(statement, params)

        self._write(one)

    def write_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one write for each row of parameters, all in one commit."""

        def run() -> None:
            self._write_deferred()
            self._execute_many(statement, rows)

        self._write(run)

    def _execute_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.is_postgres:
            with self.connection.cursor() as cursor:
                cursor.executemany(statement.replace("?", "%s"), rows)
        else:
            self.connection.executemany(statement, rows)

    def _write_deferred(self) -> None:
        """The deferred writes, in order, each run of one statement as one ``executemany``
        (kept until committed: a write refused by a lock is run again)."""
        held, start = self._deferred, 0
        for end in range(1, len(held) + 1):
            if end == len(held) or held[end][0] != held[start][0]:
                self._execute_many(held[start][0], [params for _, params in held[start:end]])
                start = end
        self._deferred = []

    def _write(self, run: Callable[[], Any]) -> None:
        """``run`` (deferred writes first, if it takes them) and a commit, waiting out
        another process's lock."""
        for attempt in range(5):
            deferred = list(self._deferred)
            try:
                run()
                self.connection.commit()
                self._deferred_since = None
                return
            except sqlite3.OperationalError as exc:
                # busy_timeout covers most waits; a lock held longer still should not lose work.
                self.connection.rollback()
                self._deferred = deferred  # rolled back: written again with the retry
                if "locked" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))

    def arrow_reader(self) -> ArrowReader | None:
        """A reader of large results as Arrow (a SQLite file), or None (PostgreSQL, memory).
        It sees what is committed: deferred writes are committed first."""
        if self.is_postgres or self.location == ":memory:":
            return None
        if self._arrow is None:
            from connectors.state.arrow_reads import ArrowReader

            self._arrow = ArrowReader(self.location)
        self.flush()
        return self._arrow

    def close(self) -> None:
        """Commit and close."""
        self.commit()
        if self._arrow is not None:
            self._arrow.close()
        self.connection.close()


def connect(location: str, clock: Clock = utc_now) -> StateDb:
    """``postgresql://...`` -> PostgreSQL; anything else is a SQLite file path (or :memory:)."""
    if is_postgres_url(location):
        import psycopg

        try:
            connection = psycopg.connect(
                location, connect_timeout=10, keepalives=1, keepalives_idle=5,
                keepalives_interval=2, keepalives_count=3,
            )  # fmt: skip
            # The server's side of the same: a run whose machine dies (not its process: a
            # process that dies closes its socket) holds its shard's and entity's locks until
            # the server notices, by default after two hours of silence. Settable per session.
            for setting, value in SERVER_KEEPALIVES.items():
                connection.execute(f"SET {setting} = {value}")
            connection.commit()
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreachable"
            raise InputError(f"cannot open the PostgreSQL state store: {first}") from None
        except psycopg.Error:
            # A malformed URL: psycopg's message quotes it, password and all.
            raise InputError(f"not a usable PostgreSQL URL: {mask_url(location)}") from None
        return StateDb(connection, mask_url(location), True, clock)
    return _sqlite(location, clock)


def _sqlite(location: str, clock: Clock) -> StateDb:
    path = Path(location)
    if path.is_dir():
        raise InputError(f"the state store {location} is a folder; give a file (or a URL)")
    if location != ":memory:":
        try:
            owner_only_file(path)
        except OSError as exc:
            raise InputError(f"cannot create the state store {location}: {exc.strerror}") from None
    try:
        connection = sqlite3.connect(path, timeout=30)
        _wal(connection)
        connection.execute("PRAGMA synchronous=NORMAL")
        # Another process holding the lock briefly makes us wait, not fail (30 s).
        connection.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache instead of 2: batched lookups of a million-customer store
        # hit the B-tree all over (bench/RESULTS.md).
        connection.execute("PRAGMA cache_size=-65536")
    except sqlite3.Error as exc:
        raise InputError(f"cannot open the state store {location}: {exc}") from None
    return StateDb(connection, str(path), False, clock)


def _wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL, waiting out another process that opens the same new file this moment
    (two runs of different entities starting together): the switch is refused, not queued,
    while that one holds it."""
    for attempt in range(20):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.1 * (attempt + 1))
