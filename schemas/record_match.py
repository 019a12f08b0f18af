"""Is a stored customer the one we sent? Compared the way an API might have stored it.

An API may store a value in another form than it was sent: an e-mail lower-cased, spaces
folded, a phone in E.164. To find the customer an unanswered create made, its fields are compared
ignoring case and spacing, phones by their digits (the national number, whatever prefix was
added). Every field sent must be there: a record missing one is another customer.
"""

from __future__ import annotations

from typing import Any

from schemas.api_fields import FIELDS_BY_PATH

PHONE_FIELDS = frozenset(path for path, spec in FIELDS_BY_PATH.items() if spec.kind == "phone")
# A national number has at least this many digits: a shorter common tail proves nothing.
MIN_PHONE_DIGITS = 7


def flatten(body: dict[str, Any]) -> dict[str, Any]:
    """``{"billing": {"city": "X"}}`` -> ``{"billing.city": "X"}``."""
    flat: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def same_record(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    """Whether ``stored`` (a CustomerResponse) holds every field of ``sent`` (a request body)."""
    held = flatten(stored)
    for field, value in flatten(sent).items():
        if value is None:
            continue
        got = held.get(field)
        if got is None:
            return False
        if field in PHONE_FIELDS:
            if not _same_phone(str(got), str(value)):
                return False
        elif _folded(got) != _folded(value):
            return False
    return True


def _folded(value: object) -> str:
    return " ".join(str(value).split()).casefold()


def _same_phone(a: str, b: str) -> bool:
    da, db = (_national(x) for x in (a, b))
    if da == db:
        return True
    short, long = sorted((da, db), key=len)
    return len(short) >= MIN_PHONE_DIGITS and long.endswith(short)


def _national(phone: str) -> str:
    # Digits only, the trunk prefix dropped: "020 7946 0958" and "+44 20 7946 0958" share
    # "2079460958".
    return "".join(c for c in phone if c.isdigit()).lstrip("0")


def same_values(stored: dict[str, Any], values: dict[str, Any]) -> bool:
    """Whether ``stored`` (a CustomerResponse) holds each of ``values`` (dotted field ->
    value), compared ignoring case and outer spaces: what --match-on calls the same."""
    held = flatten(stored)
    return all(
        str(held.get(field) or "").strip().casefold() == str(value).strip().casefold()
        for field, value in values.items()
    )
