"""Payloads and their hash: what is sent, and how a nightly run knows it is unchanged."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.normalize import normalize_customers
from schemas.payload import (
    HASH_VERSION,
    PAYLOAD_HASH,
    _canonical_struct,
    payload_hash_of_text,
    request_body,
    with_payload_hash,
)
from tests.schemas.helpers import customer_frame, person


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


def test_the_columnar_hash_is_the_one_earlier_versions_stored() -> None:
    # Computed by the previous version (hashlib over each row's JSON): a store it wrote must
    # see these customers unchanged, accents, quotes, backslashes and all.
    assert hashed(
        person("A", entity_id="E1"), person("B", entity_id='É"\\1', billing__city="Zürich ☃")
    ) == [
        "v1:82c9a6d514223256ed26e80e3ed9db19a768098ba18125b4609bd18f4b2be27f",
        "v1:1c9a9d9776a830fa10e96e3e963c80fe2df136daa24f090ea74f737e30af8164",
    ]


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=30).filter(lambda t: t.strip()))
def test_the_columnar_hash_is_sha256_of_the_canonical_json(city: str) -> None:
    frame = normalize_customers(
        customer_frame(person("A", entity_id="E1", billing__city=city)), "api"
    )
    text = frame.select(_canonical_struct().struct.json_encode()).item()
    assert with_payload_hash(frame).get_column(PAYLOAD_HASH).item() == payload_hash_of_text(text)
