"""mappings.csv and the API's rejects, built from outcomes: one row per distinct external id."""

from __future__ import annotations

import polars as pl

from schemas.outcomes import RowOutcome, RowStatus, api_rejects, mapping_rows, rejected_ids
from schemas.validation import validate_customers
from tests.schemas.helpers import customer_frame, person


def test_one_mapping_row_per_id_and_rejected_ids_keep_their_uuid() -> None:
    frame = customer_frame(person("A", entity_id="E1"), person("B", entity_id="E1"),
                           person("C", entity_id=None),
                           person("A", entity_id="E1", email_address="a2@example.com"))  # fmt: skip
    result = validate_customers(frame, "api", True)
    planned = result.valid.with_columns(
        pl.Series("action", ["unchanged", "create"]),
        pl.Series("known_customer_id", ["uuid-b", None]),
        pl.Series("known_status", ["created", None]),
    )
    assert sorted(planned.get_column("external_id").to_list()) == ["A", "B"]
    assert rejected_ids(result, planned) == ["C"]  # A's duplicate row is not a rejected id
    outcomes = [RowOutcome("E1", "A", RowStatus.CREATED, "uuid-a")]
    known = pl.DataFrame({"external_id": ["C"], "customer_id": ["uuid-c"]})
    rows = mapping_rows(result, planned, outcomes, known)
    assert sorted(rows.rows()) == [
        ("A", "uuid-a", "created", "E1"),
        ("B", "uuid-b", "unchanged", "E1"),
        ("C", "uuid-c", "rejected", None),
    ]


def test_api_rejects_name_each_field_the_api_named() -> None:
    planned = pl.DataFrame({"external_id": ["A", "B"], "__row": [4, 9], "__file": ["a.csv"] * 2})
    outcomes = [
        RowOutcome("E1", "A", RowStatus.REJECTED, reason="Validation failed", fields=["x", "y"]),
        RowOutcome("E1", "B", RowStatus.CREATED, "uuid-b"),
    ]
    lines = api_rejects(planned, outcomes)
    refused = ("API: Validation failed", "a.csv", "rejected")
    assert lines.rows() == [("A", 4, "x", *refused), ("A", 4, "y", *refused)]
