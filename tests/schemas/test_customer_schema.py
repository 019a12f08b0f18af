"""The pandera schemas: every failure named by row, field and reason."""

from __future__ import annotations

from schemas.customer_schema import REASON_REQUIRED, api_schema, find_failures, threeds_schema
from schemas.normalize import normalize_customers
from schemas.validation import ROW_ID
from tests.schemas.conftest import customer_frame, person


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
