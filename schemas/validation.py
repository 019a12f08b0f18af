"""From read rows to valid customers and explained rejects: normalise, dedupe, check, judge 3DS."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from schemas.customer_schema import (
    REASON_DUPLICATE,
    ROW_ID,
    api_schema,
    find_failures,
    threeds_schema,
)
from schemas.mapping import EXTERNAL_ID
from schemas.normalize import API_COLUMNS, Profile, normalize_customers

FILE = "__file"
ROW = "__row"
RAGGED = "__ragged"
REJECT_COLUMNS = {
    EXTERNAL_ID: pl.String,
    "row": pl.Int64,
    "field": pl.String,
    "reason": pl.String,
    "file": pl.String,
}


@dataclass
class ValidationResult:
    """Valid customers (normalised), one reject line per problem, and 3-D Secure readiness."""

    valid: pl.DataFrame
    rejects: pl.DataFrame
    rows_read: int
    rows_rejected: int
    threeds_ready: int
    threeds_problems: dict[str, int] = field(default_factory=dict)
    threeds_not_ready_by_country: dict[str, int] = field(default_factory=dict)

    @property
    def rows_valid(self) -> int:
        """Rows that passed every check of the profile (duplicates and rejects excluded)."""
        return self.valid.height


def _reject_lines(rows: pl.DataFrame, failures: pl.DataFrame) -> pl.DataFrame:
    lines = failures.join(rows.select(ROW_ID, EXTERNAL_ID, ROW, FILE), on=ROW_ID, how="inner")
    return lines.select(
        pl.col(EXTERNAL_ID),
        pl.col(ROW).cast(pl.Int64).alias("row"),
        pl.col("field"),
        pl.col("reason"),
        pl.col(FILE).alias("file"),
    )


def validate_customers(
    frame: pl.DataFrame, profile: Profile = "api", entity_required: bool = False
) -> ValidationResult:
    """Validate rows read from exports: ``__file``, ``__row``, ``__ragged``, ``external_id`` and
    every API column (String, null where absent)."""
    rows_read = frame.height
    frame = normalize_customers(frame, profile).with_row_index(ROW_ID)
    ragged = frame.filter(pl.col(RAGGED).is_not_null())
    frame = frame.filter(pl.col(RAGGED).is_null())
    keyed = pl.col(EXTERNAL_ID).is_not_null()
    # Last occurrence wins: earlier rows of the same external id are rejected as duplicates.
    superseded = keyed & ~pl.col(EXTERNAL_ID).is_last_distinct()
    duplicates = frame.filter(superseded)
    candidates = frame.filter(~superseded).drop(ROW_ID).with_row_index(ROW_ID)

    api_failures = find_failures(api_schema(entity_required), candidates)
    valid = candidates.filter(~pl.col(ROW_ID).is_in(api_failures.positions.implode()))
    valid = valid.drop(ROW_ID).with_row_index(ROW_ID)
    threeds_failures = find_failures(threeds_schema(profile), valid)
    not_ready = valid.filter(pl.col(ROW_ID).is_in(threeds_failures.positions.implode()))

    lines = [
        _reject_lines(
            ragged, ragged.select(ROW_ID, pl.lit("").alias("field"), pl.col(RAGGED).alias("reason"))
        ),
        _reject_lines(
            duplicates,
            duplicates.select(
                ROW_ID, pl.lit(EXTERNAL_ID).alias("field"), pl.lit(REASON_DUPLICATE).alias("reason")
            ),
        ),
        _reject_lines(candidates, api_failures.frame),
    ]
    if profile == "3ds":
        lines.append(_reject_lines(valid, threeds_failures.frame))
        valid = valid.filter(~pl.col(ROW_ID).is_in(threeds_failures.positions.implode()))
    rejects = pl.concat([pl.DataFrame(schema=REJECT_COLUMNS), *lines], how="vertical")
    rejects = rejects.sort("file", "row", maintain_order=True)
    problem_counts = threeds_failures.frame.group_by("field").len().sort("field")
    by_country = (
        not_ready.group_by(pl.col("billing.country_code").fill_null("(none)")).len().sort("len")
    )
    return ValidationResult(
        valid=valid.select(FILE, ROW, EXTERNAL_ID, *API_COLUMNS),
        rejects=rejects,
        rows_read=rows_read,
        rows_rejected=rows_read - valid.height,
        threeds_ready=valid.height if profile == "3ds" else valid.height - not_ready.height,
        threeds_problems=dict(problem_counts.iter_rows()),
        threeds_not_ready_by_country=dict(by_country.iter_rows()),
    )
