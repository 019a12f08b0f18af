"""Helpers to build customer frames as the reader produces them."""

from __future__ import annotations

from typing import Any

import polars as pl

from schemas.normalize import API_COLUMNS
from schemas.validation import FILE, RAGGED, ROW


def customer_frame(*rows: dict[str, Any]) -> pl.DataFrame:
    """Rows of {column: value} -> a frame with every API column (String, null where absent)."""
    columns = [FILE, ROW, RAGGED, "external_id", *API_COLUMNS]
    data = {c: [] for c in columns}  # type: dict[str, list[Any]]
    for n, row in enumerate(rows, start=1):
        for c in columns:
            default = {FILE: "test.csv", ROW: n}.get(c)
            data[c].append(row.get(c, default))
    schema = {c: pl.String for c in columns} | {ROW: pl.Int64}
    return pl.DataFrame(data, schema=schema)


def person(external_id: str = "C1", **fields: str | None) -> dict[str, Any]:
    """A valid, 3DS-ready GB person; keyword fields (dotted via __) override."""
    row: dict[str, Any] = {
        "external_id": external_id,
        "email_address": "ann@example.com",
        "billing.first_name": "Ann",
        "billing.last_name": "Lee",
        "billing.address_1": "1 High Street",
        "billing.city": "London",
        "billing.postal_code": "SW1A 1AA",
        "billing.country_code": "GB",
    }
    row.update({k.replace("__", "."): v for k, v in fields.items()})
    return row
