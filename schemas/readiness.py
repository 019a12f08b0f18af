"""3-D Secure readiness of customer records, and making them more complete from a CRM export.

Pure: API records and export rows in, judgements and merged records out. A record is 3DS-ready
when it passes the 3-D Secure requirements of the reference (required billing fields, postal
code where the country has one, ISO 3166-2 state in US/CA/CN). Merging only ever fills a field
the API lacks or holds in a form 3DS refuses, from a value the export has: it never blanks one.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from schemas.customer_schema import ROW_ID, find_failures, threeds_schema
from schemas.normalize import API_COLUMNS, STATE_VALID, normalize_customers
from schemas.record_match import flatten

CUSTOMER_ID = "customer_id"
PROBLEMS = "problems"
E164 = r"^\+[1-9][0-9]{7,14}$"
# What a CRM export can supply for 3DS (the reference's list, plus an E.164 phone).
FILLABLE = (
    "email_address",
    "billing.first_name",
    "billing.last_name",
    "billing.address_1",
    "billing.city",
    "billing.postal_code",
    "billing.country_code",
    "billing.state",
    "phone_number",
)


def records_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """CustomerResponses -> one row each: ``customer_id`` and every API column (dotted)."""
    rows = []
    for record in records:
        flat = {**flatten(record), CUSTOMER_ID: record.get("id")}
        rows.append({c: flat.get(c) for c in (CUSTOMER_ID, *API_COLUMNS)})
    schema = dict.fromkeys((CUSTOMER_ID, *API_COLUMNS), pl.String)
    return pl.DataFrame(rows, schema=schema, orient="row")


def judge(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (customer_id + API columns) with ``problems``: "field: reason" per 3DS failure."""
    normalised = normalize_customers(
        frame.with_columns(pl.lit(None, pl.String).alias("external_id")), "api"
    ).with_row_index(ROW_ID)
    # Judge the record as stored: a state of "Ohio" is what 3DS refuses, even though the
    # normaliser knows it means OH.
    as_stored = pl.col("billing.state") == frame.get_column("billing.state")
    normalised = normalised.with_columns((pl.col(STATE_VALID) & as_stored).alias(STATE_VALID))
    failures = find_failures(threeds_schema("api"), normalised).frame
    per_row = failures.group_by(ROW_ID).agg(
        pl.format("{}: {}", pl.col("field"), pl.col("reason")).alias(PROBLEMS)
    )
    judged = frame.with_row_index(ROW_ID).join(per_row, on=ROW_ID, how="left")
    problems = pl.col(PROBLEMS).fill_null(pl.lit([], dtype=pl.List(pl.String)))
    return judged.with_columns(problems.alias(PROBLEMS)).drop(ROW_ID)


def merge_from_export(api: pl.DataFrame, export: pl.DataFrame) -> pl.DataFrame:
    """Fill each fillable field the API lacks (or holds in a form 3DS refuses) from the export.

    ``api``: judged records with ``external_id``; ``export``: valid, normalised export rows, one
    per (entity, external id) (phones already E.164 where convertible). Matched on both: the
    same external id in two entities is two customers.
    """
    keys = ["entity_id", "external_id"]
    supplied = export.select(*keys, *(pl.col(f).alias(f"__x_{f}") for f in FILLABLE))
    merged = api.join(supplied, on=keys, how="left", maintain_order="left")
    updates = []
    for field in FILLABLE:
        current, offered = pl.col(field), pl.col(f"__x_{field}")
        refused = pl.col(PROBLEMS).list.eval(pl.element().str.starts_with(f"{field}:")).list.any()
        if field == "phone_number":
            refused = current.is_not_null() & ~current.str.contains(E164)
        take = offered.is_not_null() & (current.is_null() | refused)
        if field == "phone_number":
            take = take & offered.str.contains(E164)
        updates.append(pl.when(take).then(offered).otherwise(current).alias(field))
    return merged.with_columns(updates).drop(f"__x_{f}" for f in FILLABLE)
