"""The searches that find an unanswered create again: exact, then loose."""

from __future__ import annotations

from connectors.api.rsql import loose_record_query, record_query

BODY = {"entity_id": "E1", "email_address": "Ann@Example.com",
        "billing": {"first_name": "Ann", "last_name": "O'Lee"}}  # fmt: skip


def test_exact_query_names_every_field_sent() -> None:
    query = record_query("E1", BODY, "2026-11-26T01:20:00.000Z")
    assert query == (
        '(entity_id=="E1");(billing.first_name=="Ann");(billing.last_name=="O\'Lee");'
        '(email_address=="Ann@Example.com");(created_at=ge="2026-11-26T01:20:00.000Z")'
    )


def test_loose_query_takes_one_distinctive_field_in_its_case_variants() -> None:
    query = loose_record_query("E1", BODY, None)
    assert query == '(entity_id=="E1");(billing.last_name=in=("O\'Lee","o\'lee","O\'LEE"))'
    company = loose_record_query("E1", {"entity_id": "E1", "company_name": "acme"}, None)
    assert company == '(entity_id=="E1");(company_name=in=("acme","ACME","Acme"))'
    assert loose_record_query("E1", {"entity_id": "E1", "phone_number": "+44"}, None) is None
