"""How a migration splits an export into shards: by a stable hash of the external id.

Every occurrence of an id falls in one shard (so "the last occurrence wins" still holds within
it), and every worker, on any machine and polars version, computes the same shard: xxHash64 of
the id as a run compares ids (``clean_text``), from the polars-hash plugin. ``Expr.hash`` is not
stable across polars versions, so it cannot say which shard a row belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import polars_hash as plh

from schemas.mapping import EXTERNAL_ID
from schemas.normalize import clean_text


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` of one entity's rows; ``orphans``: also the rows that name
    no entity (when the run has no default one), so they are rejected once, with their reason,
    rather than read by no shard."""

    index: int
    count: int
    entity: str
    orphans: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}")

    @property
    def part(self) -> str:
        """``3/8``: which part of its entity's rows."""
        return f"{self.index + 1}/{self.count}"

    @property
    def label(self) -> str:
        """``E1 3/8``: how the console and the store name a shard."""
        return f"{self.entity} {self.part}"


def shard_number(count: int) -> pl.Expr:
    """Which of ``count`` shards each row belongs to; a row with no id goes to shard 0 (it is
    rejected there, once)."""
    key = plh.NonCryptographicHashingNameSpace(clean_text(EXTERNAL_ID)).xxhash64()
    return (key % count).fill_null(0).cast(pl.Int64)


def rows_of(shard: Shard, default_entity: str | None) -> pl.Expr:
    """The filter that keeps a shard's rows of an export (its columns as mapped)."""
    keep = shard_number(shard.count) == shard.index
    entity = clean_text("entity_id")
    if default_entity is not None:
        entity = entity.fill_null(pl.lit(default_entity))
    mine = entity == shard.entity
    return keep & ((mine | entity.is_null()) if shard.orphans else mine)


def in_shard(external_ids: list[str], shard: Shard) -> list[bool]:
    """Whether each id is one of the shard's (its run may settle only its own ids' creates:
    the other shards' are theirs, in flight)."""
    frame = pl.DataFrame({EXTERNAL_ID: external_ids}, schema={EXTERNAL_ID: pl.String})
    return frame.select(shard_number(shard.count) == shard.index).to_series().to_list()
