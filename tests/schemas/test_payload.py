"""Payloads and their hash: what is sent, and how a nightly run knows it is unchanged."""

from __future__ import annotations

from schemas.normalize import normalize_customers
from schemas.payload import HASH_VERSION, PAYLOAD_HASH, request_body, with_payload_hash
from tests.schemas.conftest import customer_frame, person


def hashed(*rows: dict) -> list[str]:  # type: ignore[type-arg]
    frame = normalize_customers(customer_frame(*rows), "api")
    return with_payload_hash(frame).get_column(PAYLOAD_HASH).to_list()


def test_the_hash_changes_with_any_field_and_nothing_else() -> None:
    a, a_again, moved = hashed(person("A", entity_id="E1"), person("Z", entity_id="E1"),
                               person("A", entity_id="E1", billing__city="Leeds"))  # fmt: skip
    assert a == a_again  # the external id is not sent: the payload is the same
    assert a != moved and a.startswith(f"{HASH_VERSION}:")


def test_the_body_nests_dotted_columns_and_leaves_out_what_is_absent() -> None:
    row = {"entity_id": "E1", "email_address": None, "billing.first_name": "Ann",
           "billing.city": None, "shipping.city": None, "company_name": "Acme"}  # fmt: skip
    assert request_body(row) == {"entity_id": "E1", "company_name": "Acme",
                                 "billing": {"first_name": "Ann"}}  # fmt: skip
