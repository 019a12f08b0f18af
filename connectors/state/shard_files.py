"""A migration shard's artefacts, carried to the migration's parent through the state store.

Shards run on whatever machines the work pool's workers are on; the parent merges their
``mappings.csv``, ``rejects.csv`` and ``unmatched.csv``. No folder every machine shares is
needed for that: each shard's run stores its files in the store they all share (PostgreSQL),
compressed, in parts of at most ``PART_BYTES``; the parent writes them out where it runs and
removes them once merged (they name customers' ids: kept no longer than needed).
"""

from __future__ import annotations

import zlib
from pathlib import Path

from connectors.private_files import open_private
from connectors.state.db import StateDb

# Read, compressed and written one part at a time: memory stays that of one part.
PART_BYTES = 8 << 20
# The artefacts of a shard that the parent merges (report.json travels as the shard's report).
SHARD_ARTEFACTS = ("mappings.csv", "rejects.csv", "unmatched.csv")


class ShardFiles:
    """The ``migration_file`` table of one state store."""

    def __init__(self, db: StateDb) -> None:
        self._db = db

    def put(self, migration_id: str, shard: str, attempt: int, path: Path) -> None:
        """Store the file at ``path`` as this attempt's file of its name (replacing any)."""
        key = (migration_id, shard, attempt, path.name)
        self._db.write(
            "DELETE FROM migration_file WHERE migration_id = ? AND shard = ? AND attempt = ?"
            " AND name = ?",
            key,
        )
        with path.open("rb") as handle:
            part = 0
            while chunk := handle.read(PART_BYTES):
                self._db.write(
                    "INSERT INTO migration_file (migration_id, shard, attempt, name, part, data)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (*key, part, zlib.compress(chunk, 1)),
                )
                part += 1

    def write_out(
        self, migration_id: str, shard: str, attempt: int, name: str, target: Path
    ) -> bool:
        """The stored file written to ``target`` (owner-only); False when none was stored."""
        key = (migration_id, shard, attempt, name)
        parts = [
            int(row[0])
            for row in self._db.execute(
                "SELECT part FROM migration_file WHERE migration_id = ? AND shard = ?"
                " AND attempt = ? AND name = ? ORDER BY part",
                key,
            ).fetchall()
        ]
        if not parts:
            self._db.commit()
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_private(target) as out:
            for part in parts:  # one part in memory at a time
                (data,) = self._db.execute(
                    "SELECT data FROM migration_file WHERE migration_id = ? AND shard = ?"
                    " AND attempt = ? AND name = ? AND part = ?",
                    (*key, part),
                ).fetchone()
                out.write(zlib.decompress(bytes(data)))
        self._db.commit()  # PostgreSQL: no snapshot held open between reads
        return True

    def drop(self, migration_id: str) -> None:
        """Remove every file of the migration."""
        self._db.write("DELETE FROM migration_file WHERE migration_id = ?", (migration_id,))
