"""The CustomerRequest rules the sandbox enforces on create and update, one message per field."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pycountry
from email_validator import EmailNotValidError, validate_email

from schemas.api_fields import FIELDS_BY_PATH, OBJECT_FIELDS, PATTERNS, TOP_LEVEL_FIELDS, ApiField

TOP_LEVEL_NAMES = frozenset(f.path for f in TOP_LEVEL_FIELDS)
COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries)

CustomerRecord = dict[str, Any]


def validate_customer_request(body: object) -> tuple[CustomerRecord, dict[str, str]]:
    """Check a decoded request body; return the record (nulls dropped) and errors by field path."""
    if not isinstance(body, dict):
        return {}, {"body": "must be a JSON object"}
    errors: dict[str, str] = {}
    record: CustomerRecord = {}
    for key, value in body.items():
        if value is None:
            continue  # null means absent, as in the Java DTOs behind the API
        if key in OBJECT_FIELDS:
            if not isinstance(value, dict):
                errors[key] = "must be an object"
                continue
            nested = _validate_object(key, value, errors)
            if nested:
                record[key] = nested
        elif key in TOP_LEVEL_NAMES:
            message = check_value(FIELDS_BY_PATH[key], value)
            if message:
                errors[key] = message
            else:
                record[key] = value
        else:
            errors[key] = "unknown field"
    if not _present(record.get("entity_id")) and "entity_id" not in errors:
        errors["entity_id"] = "is required"
    billing = record.get("billing", {})
    has_names = _present(billing.get("first_name")) and _present(billing.get("last_name"))
    if not has_names and not _present(record.get("company_name")) and "company_name" not in errors:
        errors["company_name"] = (
            "is required when billing.first_name and billing.last_name are not both given"
        )
    return record, errors


def _validate_object(parent: str, value: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{parent}.{key}"
        spec = FIELDS_BY_PATH.get(path)
        if spec is None:
            errors[path] = "unknown field"
        elif item is not None:
            message = check_value(spec, item)
            if message:
                errors[path] = message
            else:
                nested[key] = item
    return nested


def _present(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def check_value(spec: ApiField, value: object) -> str | None:
    """Why ``value`` is not acceptable for ``spec``, or None when it is."""
    if not isinstance(value, str):
        return "must be a string"
    if spec.max_length is not None and len(value) > spec.max_length:
        return f"must be at most {spec.max_length} characters"
    if spec.kind in PATTERNS:
        if not PATTERNS[spec.kind].fullmatch(value):
            return f"must match {spec.pattern}"
    elif spec.kind == "email":
        return _email_problem(value)
    elif spec.kind == "country" and value not in COUNTRY_CODES:
        return "must be an ISO 3166-1 alpha-2 country code"
    return None


@lru_cache(maxsize=4096)
def _email_problem(value: str) -> str | None:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        # The library's message can quote the address; a reason must not carry shopper data.
        return "must be a valid e-mail address"
    return None
