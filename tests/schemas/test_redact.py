"""Masking shopper values an API echoes back in its error messages."""

from __future__ import annotations

import json
import unicodedata

import pytest

from connectors.api.rsql import all_of, equals
from schemas.redact import MASK, _fold, redact, sent_values


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


BODY = {
    "email_address": "zoe@example.com",
    "phone_number": "+44 20 7123 4567",
    "billing": {"first_name": "Zoë", "last_name": "Müller-Lüdenscheidt",
                "address_1": "1 High Street"},
}  # fmt: skip


@pytest.mark.parametrize(
    "echoed",
    [
        "Müller-Lüdenscheidt",  # as sent (NFC)
        unicodedata.normalize("NFD", "Müller-Lüdenscheidt"),  # decomposed accents
        "MÜLLER-LÜDENSCHEIDT",  # another case
        json.dumps("Müller-Lüdenscheidt"),  # JSON escapes: \u00fc
        "M\\u00fcller-L\\u00fcdenscheidt",  # escapes inside a longer message
        "1  High   Street",  # respaced
        "1 HIGH STREET",
        "442071234567",  # a phone by its digits
        "020 7123 4567",  # national form
        "(020) 7123-4567",
    ],
)
def test_values_echoed_in_another_form_are_masked(echoed: str) -> None:
    # The review's repro: digits-only phones, NFD or JSON-escaped names and respaced addresses
    # reached rejects.csv, the state store and the Prefect artifact.
    message = f"rejected value [{echoed}] for field x"
    masked = redact(message, sent_values(BODY))
    assert masked.startswith("rejected value [") and masked.endswith("] for field x")
    assert MASK in masked
    left = _fold(masked)[0]
    for sent in ("müller", "lüdenscheidt", "highstreet", "71234567"):
        assert _fold(sent)[0] not in left


def test_masking_leaves_the_rest_of_the_message_readable() -> None:
    message = 'field billing.last_name: "MULLER-LUDENSCHEIDT" is too long (max 28)'
    body = {"billing": {"last_name": "Müller-Lüdenscheidt"}}
    masked = redact(message, sent_values(body))
    assert masked == 'field billing.last_name: "***" is too long (max 28)'
    assert redact("phone 1234567 is not ours", sent_values(BODY)) == "phone 1234567 is not ours"
