"""Recognising the customer we sent in the form an API stored it."""

from __future__ import annotations

from schemas.record_match import same_record

SENT = {
    "entity_id": "E1",
    "email_address": "Ann.Lee@example.com",
    "phone_number": "020 7946 0958",
    "billing": {"first_name": "Ann", "last_name": "Lee", "city": "St  Albans"},
}


def stored(**changes: object) -> dict:
    record = {"id": "u1", "created_at": "2026-11-26T06:00:00Z", **SENT}
    record["billing"] = dict(SENT["billing"])  # type: ignore[arg-type]
    for path, value in changes.items():
        if "__" in path:
            parent, child = path.split("__")
            record[parent][child] = value
        else:
            record[path] = value
    return record


def test_the_same_record_in_another_form_matches() -> None:
    assert same_record(stored(), SENT)
    assert same_record(stored(email_address="ann.lee@example.com"), SENT)
    assert same_record(stored(billing__city="ST ALBANS"), SENT)
    assert same_record(stored(phone_number="+44 20 7946 0958"), SENT)


def test_another_customer_does_not() -> None:
    assert not same_record(stored(email_address="bob@example.com"), SENT)
    assert not same_record(stored(billing__last_name="Leeds"), SENT)
    assert not same_record(stored(phone_number="+44 20 7946 0959"), SENT)
    assert not same_record(stored(phone_number="0958"), SENT)  # a short tail proves nothing
    missing = stored()
    del missing["email_address"]
    assert not same_record(missing, SENT)
