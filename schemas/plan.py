"""The sync plan: which valid rows to create, update, reconcile, or leave alone.

Pure: a join of this run's rows with what the state store knows, compared by payload hash.
"""

from __future__ import annotations

from enum import StrEnum

import polars as pl

from schemas.payload import PAYLOAD_HASH, payload_hash
from schemas.validation import match_key_hash


class PlanAction(StrEnum):
    """What a sync does with one valid row."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    RECONCILE = "reconcile"
    DELETE = "delete"  # --delete-missing: its external id left the export


ACTION = "action"
KNOWN_ID = "known_customer_id"
KNOWN_STATUS = "known_status"
MATCH_SHARED = "match_shared"  # --match-on: how many rows of the batch carry the same values


def plan_sync(rows: pl.DataFrame, state: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (entity_id, external_id, payload_hash, ...) + ``state`` (the store's lookup) ->
    rows with ``action`` and ``known_customer_id``.

    - unknown to the store -> create
    - a create journalled but never answered (a crash, a lost response) -> reconcile first
    - known without a customer (its create failed, or it was deleted) -> create
    - known, same payload hash -> unchanged; different -> update
    """
    known = state.select(
        pl.col("entity_id"),
        pl.col("external_id"),
        pl.col("customer_id").alias(KNOWN_ID),
        pl.col("payload_hash").alias("__known_hash"),
        pl.col("pending_since").alias("__pending_since"),
        pl.col("status").alias(KNOWN_STATUS),
    )
    joined = rows.join(known, on=["entity_id", "external_id"], how="left", maintain_order="left")
    if PAYLOAD_HASH not in rows.columns:
        joined = _hash_known(joined)
    action = (
        pl.when(pl.col(KNOWN_ID).is_null() & pl.col("__pending_since").is_not_null())
        .then(pl.lit(PlanAction.RECONCILE.value))
        .when(pl.col(KNOWN_ID).is_null())
        .then(pl.lit(PlanAction.CREATE.value))
        .when(pl.col(PAYLOAD_HASH) == pl.col("__known_hash"))
        .then(pl.lit(PlanAction.UNCHANGED.value))
        .otherwise(pl.lit(PlanAction.UPDATE.value))
    )
    return joined.with_columns(action.alias(ACTION)).drop("__known_hash", "__pending_since")


def _hash_known(joined: pl.DataFrame) -> pl.DataFrame:
    """The payload hash of the rows the store knows a customer for: only they are compared.
    The rest (creates, reconciles) are hashed when they are sent (``ensure_payload_hash``): a
    dry run of new customers hashes nothing, an unchanged night only what it compares."""
    numbered = joined.with_row_index("__i")
    hashed = numbered.filter(pl.col(KNOWN_ID).is_not_null()).select("__i", payload_hash())
    return numbered.join(hashed, on="__i", how="left", maintain_order="left").drop("__i")


def ensure_payload_hash(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with every payload hash filled in (rows about to be sent). The hash is a pure
    function of the row, so those already hashed are simply hashed again."""
    if PAYLOAD_HASH in rows.columns and rows.get_column(PAYLOAD_HASH).null_count() == 0:
        return rows
    return rows.with_columns(payload_hash())


def deletion_limit(known_count: int, max_deletes: int | None, share: float = 0.05) -> int:
    """How many deletions a run may make: --max-deletes, else 5% of the known customers."""
    if max_deletes is not None:
        return max_deletes
    return max(1, int(known_count * share))


def flag_shared_matches(
    planned: pl.DataFrame, match_on: tuple[str, ...], census: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``planned`` with ``MATCH_SHARED``: for a row that may adopt a customer by its
    ``match_on`` values (to create or reconcile, every value present), how many rows carry the
    same values (ignoring case and outer spaces): in this frame, or in the whole export as its
    census counted them (``shared_match_keys``: key hash ``k``, count ``n``). A customer
    matched by several rows belongs to none of them for sure: the loader adopts for none."""
    if not match_on or planned.is_empty():
        return planned.with_columns(pl.lit(None, dtype=pl.UInt32).alias(MATCH_SHARED))
    may_adopt = pl.col(ACTION).is_in([PlanAction.CREATE.value, PlanAction.RECONCILE.value])
    key = pl.when(may_adopt).then(match_key_hash(match_on)).otherwise(None)
    counted = planned.with_columns(key.alias("__match_key")).with_columns(
        pl.when(pl.col("__match_key").is_not_null())
        .then(pl.len().over("__match_key"))
        .otherwise(None)
        .cast(pl.UInt32)
        .alias(MATCH_SHARED)
    )
    if census is not None and census.height:
        counted = counted.join(
            census.rename({"k": "__match_key", "n": "__census_n"}),
            on="__match_key",
            how="left",
            maintain_order="left",
        ).with_columns(pl.max_horizontal(MATCH_SHARED, "__census_n").alias(MATCH_SHARED))
        counted = counted.drop("__census_n")
    return counted.drop("__match_key")
