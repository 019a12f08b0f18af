"""The reference's fields, as one table: paths, limits and patterns the rest is built on."""

from __future__ import annotations

import re

from schemas.api_fields import FIELDS_BY_PATH, OBJECT_FIELDS, REQUEST_FIELDS, TOP_LEVEL_FIELDS


def test_every_request_field_is_reachable_by_its_dotted_path() -> None:
    nested = {
        f"{parent}.{leaf.path}" for parent, leaves in OBJECT_FIELDS.items() for leaf in leaves
    }
    assert set(FIELDS_BY_PATH) == {f.path for f in TOP_LEVEL_FIELDS} | nested
    assert len(FIELDS_BY_PATH) == len(REQUEST_FIELDS)  # no path twice
    assert {"entity_id", "email_address", "billing.country_code", "shipping.phone"} <= set(
        FIELDS_BY_PATH
    )


def test_patterns_compile_and_mean_what_they_say() -> None:
    phone = FIELDS_BY_PATH["billing.phone"].pattern
    assert phone is not None and re.fullmatch(phone, "+44 (20) 7946-0958")
    assert not re.fullmatch(phone, "0207 ext 12")
    for spec in REQUEST_FIELDS:
        if spec.pattern is not None:
            re.compile(spec.pattern)
