"""Large reads of a SQLite state store as Arrow, straight into polars.

Looking up a million customers through ``sqlite3`` built six million Python objects only to
turn them back into columns: most of an unchanged night's time (bench/RESULTS.md).
ADBC's SQLite driver hands the rows over as Arrow (no pyarrow needed: polars takes its stream
through the Arrow PyCapsule interface), and the ids to look up go in the same way, as a
temporary table joined on the primary key: the work stays proportional to the ids asked for,
never to the store.

A second connection of the same file: it sees what the store's own connection has committed
(WAL), so callers flush deferred writes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

PROBE_TABLE = "custsync_probe_ids"


class ArrowReader:
    """A read connection of one SQLite file, for lookups by many ids at once."""

    def __init__(self, path: str) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        self._connection: Any = adbc.connect(path)
        self._cursor: Any = self._connection.cursor()
        self._cursor.execute("PRAGMA busy_timeout=30000")

    def join_ids(
        self,
        ids: list[str],
        select: str,
        params: list[str],
        schema: Mapping[str, type[pl.DataType] | pl.DataType],
    ) -> pl.DataFrame:
        """``select`` (a query over the temporary table ``probe`` of one column ``external_id``,
        the ids given) as a frame of ``schema``.

        Text columns are selected through ``COALESCE(x, '')`` by the caller's query and turned
        back into nulls here: the driver types each column by its first values, and a column
        all null at first would take a later text for a type error."""
        # Each id once: an IN list matches a row once however often it names it, a join would
        # match it as often (a run's rejected rows repeat ids). Sorted: the join then walks the
        # key's B-tree in order (in hash order it walked it at random, three times as slow).
        probe = pl.DataFrame({"external_id": ids}, schema={"external_id": pl.String})
        probe = probe.unique().sort("external_id")
        self._cursor.adbc_ingest(PROBE_TABLE, probe, mode="replace", temporary=True)
        self._cursor.execute(select.replace("probe", f"temp.{PROBE_TABLE}"), params)
        frame = pl.DataFrame(self._cursor.fetch_arrow())
        self._connection.commit()  # ends the read: the store's writers are never held back
        if frame.width == 0:
            return pl.DataFrame(schema=schema)
        return frame.select(
            pl.col(name).cast(pl.String).replace("", None) if dtype == pl.String else pl.col(name)
            for name, dtype in schema.items()
        )

    def close(self) -> None:
        """Close the connection."""
        self._cursor.close()
        self._connection.close()
