"""3-D Secure readiness of records as the API holds them, and what an export can fill."""

from __future__ import annotations

import polars as pl

from schemas.readiness import (
    CUSTOMER_ID,
    FILLABLE,
    PROBLEMS,
    judge,
    merge_from_export,
    records_frame,
)


def test_judge_and_fill_without_blanking() -> None:
    records = [
        {"id": "u1", "entity_id": "E1", "email_address": "a@example.com",
         "billing": {"first_name": "Ann", "last_name": "Lee", "address_1": "1 High St",
                     "city": "London", "postal_code": "SW1A 1AA", "country_code": "GB"}},
        {"id": "u2", "entity_id": "E1", "billing": {"first_name": "Bob", "last_name": "Ray",
                                                    "city": "Paris", "country_code": "FR"}},
    ]  # fmt: skip
    api = records_frame(records)
    assert api.get_column(CUSTOMER_ID).to_list() == ["u1", "u2"]
    judged = judge(api).with_columns(pl.lit("E1").alias("entity_id"),
                                     pl.Series("external_id", ["A", "B"]))  # fmt: skip
    problems = judged.get_column(PROBLEMS).to_list()
    assert problems[0] == [] and any(p.startswith("billing.postal_code") for p in problems[1])
    supplied = {"billing.postal_code": "75001", "billing.address_1": "1 rue X"}
    export = pl.DataFrame(
        {"entity_id": ["E1"], "external_id": ["B"]}
        | {field: [supplied.get(field)] for field in FILLABLE},
        schema={"entity_id": pl.String, "external_id": pl.String}
        | dict.fromkeys(FILLABLE, pl.String),
    )
    merged = merge_from_export(judged, export)
    bob = merged.filter(pl.col(CUSTOMER_ID) == "u2").row(0, named=True)
    assert (bob["billing.postal_code"], bob["billing.address_1"]) == ("75001", "1 rue X")
    assert bob["billing.city"] == "Paris"  # the API's value stays: the export had none
