"""Masking shopper values an API echoes back in its error messages."""

from __future__ import annotations

from connectors.rsql import all_of, equals
from schemas.redact import MASK, redact, sent_values


def test_values_of_the_body_are_masked_in_any_case() -> None:
    billing = {"first_name": "Ann", "last_name": "O'Brien", "country_code": "GB"}
    body = {"entity_id": "E1", "email_address": "Ann.Lee@Example.com", "billing": billing}
    message = (
        "Validation failed (email_address: must be a well-formed email address; rejected value "
        "[ann.lee@example.com]; billing.last_name: rejected value [O'Brien]; country GB)"
    )
    masked = redact(message, sent_values(body))
    assert "ann.lee" not in masked.lower() and "O'Brien" not in masked
    assert masked.count(MASK) == 2
    # what identifies nobody stays readable
    assert "well-formed email address" in masked and "GB" in masked


def test_search_literals_are_masked() -> None:
    query = all_of([equals("entity_id", "E1"), equals("billing.last_name", 'Dü "Q" Smith')])
    masked = redact(f"Invalid search: {query}", sent_values(search=query))
    assert "Smith" not in masked and MASK in masked


def test_an_echoed_email_is_masked_even_when_it_is_not_what_was_sent() -> None:
    # e.g. the API normalised the domain before echoing it
    masked = redact("rejected value [ann@xn--bcher-kva.example]", sent_values({"e": "ann@bücher"}))
    assert "@" not in masked


def test_short_values_are_left_alone() -> None:
    assert redact("must match ^[A-Z]{2}$ (Li)", ["Li", "DE"]) == "must match ^[A-Z]{2}$ (Li)"
