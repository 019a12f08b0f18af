"""What happened to each external id in a run, as values and as the frames the artefacts hold.

Pure: ``mappings.csv`` and the API's rejects are built here from the outcomes, the plan and
what the state store knows (looked up by the engine and passed in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl

from schemas.customer_schema import REASON_DUPLICATE
from schemas.plan import ACTION, KNOWN_ID, PlanAction
from schemas.tally import Tally
from schemas.validation import FILE, ROW, ValidationResult

MAPPING_COLUMNS = ["external_id", "customer_id", "status", "entity_id"]


class RowStatus(StrEnum):
    """The status of an external id in ``mappings.csv`` and the state store."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ADOPTED = "adopted"
    DELETED = "deleted"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass
class RowOutcome:
    """What happened to one external id in this run."""

    entity_id: str
    external_id: str
    status: RowStatus
    customer_id: str | None = None
    reason: str | None = None
    fields: list[str] = field(default_factory=list)
    recreated: bool = False
    unmatched: bool = False  # --match-on: created with its match fields empty
    said_by: str = "API"  # whose reason it is, in rejects.csv ("": custsync's own)


@dataclass
class LoadTotals(Tally):
    """Requests spent reconciling, and recreated customers, named as the report names them."""

    reconciliations: int = 0
    reconcile_requests: int = 0
    recreated: int = 0
    created_unmatched: int = 0  # match_on: created with the match fields empty
    match_conflicts: int = 0  # match_on: rows not adopted because the match was not theirs alone


def outcome_rows(outcomes: Sequence[RowOutcome]) -> pl.DataFrame:
    """mappings.csv rows of the ids sent to the API."""
    return pl.DataFrame(
        {
            "external_id": [o.external_id for o in outcomes],
            "customer_id": [o.customer_id for o in outcomes],
            "status": [o.status.value for o in outcomes],
            "entity_id": [o.entity_id for o in outcomes],
        },
        schema=dict.fromkeys(MAPPING_COLUMNS, pl.String),
    )


def rejected_ids(result: ValidationResult, planned: pl.DataFrame) -> list[str]:
    """External ids of a batch whose every row was rejected (duplicates aside: their id's status
    is its last row's)."""
    return (
        result.rejects.filter(~pl.col("reason").str.starts_with(REASON_DUPLICATE))
        .select(pl.col("external_id").drop_nulls().unique(maintain_order=True))
        .filter(~pl.col("external_id").is_in(planned.get_column("external_id").implode()))
        .get_column("external_id")
        .to_list()
    )


def mapping_rows(
    result: ValidationResult,
    planned: pl.DataFrame,
    outcomes: Sequence[RowOutcome],
    known_rejected: pl.DataFrame,
) -> pl.DataFrame:
    """One row per distinct external id of a batch: external_id, customer_id, status, entity_id.

    A rejected id keeps the UUID the store knows for it (``known_rejected``: the store's state
    of ``rejected_ids``, any entity; the customer exists, unchanged)."""
    sent = outcome_rows(outcomes)
    unchanged = planned.filter(pl.col(ACTION) == PlanAction.UNCHANGED.value).select(
        "entity_id",
        "external_id",
        pl.col(KNOWN_ID).alias("customer_id"),
        pl.lit(RowStatus.UNCHANGED.value).alias("status"),
    )
    ids = rejected_ids(result, planned)
    rejected = pl.DataFrame({"external_id": ids}, schema={"external_id": pl.String})
    known = known_rejected.select("external_id", "customer_id").unique("external_id", keep="first")
    rejected = rejected.join(known, on="external_id", how="left").with_columns(
        pl.lit(RowStatus.REJECTED.value).alias("status"), pl.lit(None, pl.String).alias("entity_id")
    )
    return pl.concat(
        [frame.select(MAPPING_COLUMNS) for frame in (sent, unchanged, rejected)], how="vertical"
    )


def api_rejects(planned: pl.DataFrame, outcomes: Sequence[RowOutcome]) -> pl.DataFrame:
    """rejects.csv lines for rows the API refused (400), with the API's reason (action
    ``rejected``), and for rows that failed (retries spent, a match conflict: ``failed``)."""
    lines = [
        (o.external_id, name, f"{o.said_by}: {o.reason}" if o.said_by else o.reason, o.status.value)
        for o in outcomes
        if o.status in (RowStatus.REJECTED, RowStatus.FAILED)
        for name in (o.fields or [""])
    ]
    frame = pl.DataFrame(
        lines,
        schema={"external_id": pl.String, "field": pl.String, "reason": pl.String,
                "action": pl.String},
        orient="row",
    )  # fmt: skip
    where = planned.select(
        "external_id", pl.col(ROW).cast(pl.Int64).alias("row"), pl.col(FILE).alias("file")
    )
    return frame.join(where, on="external_id", how="left").select(
        "external_id", "row", "field", "reason", "file", "action"
    )
