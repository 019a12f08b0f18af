"""The Customer API's CustomerRequest fields, as the reference documents them.

One table, used by everything that must agree on what the API accepts: the sandbox's request
validation, the sandbox's OpenAPI document, the RSQL field list and the client-side schemas.
Source: Verifone Customer API reference, API version 1.17.0 (``customer-api.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["string", "email", "country", "phone", "title", "tax"]

# `\s` under re.ASCII matches what Java's `\s` does (the API is a Java service): ASCII only.
PHONE_PATTERN = r"^[0-9\s\-+().-]+$"
TITLE_PATTERN = r"^[a-zA-Z\-\s.]+$"
TAX_PATTERN = r"^[0-9]+$"

PATTERNS: dict[FieldKind, re.Pattern[str]] = {
    "phone": re.compile(PHONE_PATTERN, re.ASCII),
    "title": re.compile(TITLE_PATTERN, re.ASCII),
    "tax": re.compile(TAX_PATTERN, re.ASCII),
}


@dataclass(frozen=True, slots=True)
class ApiField:
    """One leaf field of a CustomerRequest, by its dotted path."""

    path: str
    max_length: int | None
    kind: FieldKind = "string"

    @property
    def pattern(self) -> str | None:
        """The regular expression the API documents for this field, if any."""
        return {"phone": PHONE_PATTERN, "title": TITLE_PATTERN, "tax": TAX_PATTERN}.get(self.kind)


ADDRESS_FIELDS: tuple[ApiField, ...] = (
    ApiField("address_1", 40),
    ApiField("address_2", 40),
    ApiField("address_3", 40),
    ApiField("city", 28),
    ApiField("country_code", None, "country"),
    ApiField("first_name", 22),
    ApiField("middle_name", 22),
    ApiField("last_name", 22),
    ApiField("phone", 25, "phone"),
    ApiField("postal_code", 10),
    ApiField("state", 35),
)

TOP_LEVEL_FIELDS: tuple[ApiField, ...] = (
    ApiField("entity_id", None),
    ApiField("company_name", 100),
    ApiField("company_registration_number", 24),
    ApiField("email_address", 255, "email"),
    ApiField("phone_number", 25, "phone"),
    ApiField("work_phone", 25, "phone"),
    ApiField("title", 120, "title"),
    ApiField("language", None),
)

# Nested objects of a CustomerRequest and the leaf fields each holds.
OBJECT_FIELDS: dict[str, tuple[ApiField, ...]] = {
    "billing": ADDRESS_FIELDS,
    "shipping": ADDRESS_FIELDS,
    "tax": (ApiField("identifier", 9, "tax"),),
}

REQUEST_FIELDS: tuple[ApiField, ...] = TOP_LEVEL_FIELDS + tuple(
    ApiField(f"{parent}.{leaf.path}", leaf.max_length, leaf.kind)
    for parent, leaves in OBJECT_FIELDS.items()
    for leaf in leaves
)
"""Every leaf field of a CustomerRequest by dotted path (``billing.city``, ``tax.identifier``)."""

FIELDS_BY_PATH: dict[str, ApiField] = {f.path: f for f in REQUEST_FIELDS}

RESPONSE_ONLY_FIELDS: tuple[str, ...] = ("id", "created_at", "updated_at")
DATE_FIELDS: frozenset[str] = frozenset({"created_at", "updated_at"})
# The reference documents shipping.phone as a number for RSQL comparisons.
NUMERIC_SEARCH_FIELDS: frozenset[str] = frozenset({"shipping.phone"})

SEARCHABLE_FIELDS: frozenset[str] = frozenset(FIELDS_BY_PATH) | frozenset(RESPONSE_ONLY_FIELDS)
"""Every field RSQL can filter and order on."""
