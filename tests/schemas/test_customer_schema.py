"""The pandera schemas: every failure named by row, field and reason."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaErrors

from schemas.customer_schema import REASON_REQUIRED, api_schema, find_failures, threeds_schema
from schemas.normalize import normalize_customers
from schemas.validation import ROW_ID
from tests.schemas.helpers import customer_frame, person


def failures(*rows: dict, entity_required: bool = True, threeds: bool = False) -> set[tuple]:  # type: ignore[type-arg]
    frame = normalize_customers(customer_frame(*rows), "api").with_row_index(ROW_ID)
    schema = threeds_schema("api") if threeds else api_schema(entity_required)
    found = find_failures(schema, frame).frame
    return {(int(r), f, reason) for r, f, reason in found.rows()}


def test_a_valid_person_passes_both_schemas() -> None:
    ok = person(entity_id="E1")
    assert failures(ok) == set() and failures(ok, threeds=True) == set()


def test_failures_are_placed_on_their_row() -> None:
    rows = (person("A", entity_id="E1"), person("B", entity_id=None, email_address="nope"))
    assert failures(*rows) == {
        (1, "entity_id", REASON_REQUIRED),
        (1, "email_address", "not a valid e-mail address"),
    }
    assert (1, "entity_id", REASON_REQUIRED) not in failures(*rows, entity_required=False)


def test_3ds_needs_the_billing_address() -> None:
    thin = person("A", entity_id="E1", **{"billing__city": None, "billing__postal_code": None})
    assert failures(thin, threeds=True) == {
        (0, "billing.city", "required for 3-D Secure"),
        (0, "billing.postal_code", "required for 3-D Secure"),
    }


# Values that pass and values that fail each kind of rule: lengths, patterns, countries,
# e-mails, names or company, and absent values where a field is required.
VALUES = {
    "external_id": st.sampled_from(["C1", "C2", None]),
    "entity_id": st.sampled_from(["E1", None]),
    "email_address": st.sampled_from(["ann@example.com", "a@@b", "nope", None]),
    "billing.first_name": st.sampled_from(["Ann", None, "A" * 60]),
    "billing.last_name": st.sampled_from(["Lee", None]),
    "company_name": st.sampled_from(["Acme", None]),
    "billing.city": st.sampled_from(["London", "X" * 40, None]),
    "billing.country_code": st.sampled_from(["GB", "US", "Narnia", None]),
    "billing.state": st.sampled_from(["OH", "Ohio", None]),
    "billing.postal_code": st.sampled_from(["SW1A 1AA", None]),
    "phone_number": st.sampled_from(["+44 20 7946 0958", "call me", "12 x34", None]),
    "title": st.sampled_from(["Dr.", "Mr/Mrs", None]),
}


def pandera_alone(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> set[tuple[int, str, str]]:
    """The reference: pandera validating every row and column of the frame."""
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases.select("index", "column", "check").rows()
        return {(int(i), c, REASON_REQUIRED if k == "not_nullable" else k) for i, c, k in cases}
    return set()


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries(VALUES), min_size=1, max_size=12))
def test_the_failures_found_are_those_pandera_finds_validating_everything(
    rows: list[dict[str, str | None]],
) -> None:
    frame = normalize_customers(customer_frame(*rows), "3ds").with_row_index(ROW_ID)
    for schema in (api_schema(True), api_schema(False), threeds_schema("3ds")):
        found = {(int(r), f, reason) for r, f, reason in find_failures(schema, frame).frame.rows()}
        assert found == pandera_alone(schema, frame)
