r"""Building RSQL ``search`` expressions for the Customer API, every value quoted and escaped.

A value is always double-quoted with ``\\`` escaping ``"`` and ``\\``, so an e-mail like
``o'brien+tag@example.com`` or a name holding ``, ; ( ) "`` matches itself and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.record_match import flatten


def quote(value: str) -> str:
    """``value`` as a double-quoted RSQL literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def equals(field: str, value: str) -> str:
    """``field=="value"``."""
    return f"{field}=={quote(value)}"


def one_of(field: str, values: Iterable[str]) -> str:
    """``field=in=("a","b")``."""
    return f"{field}=in=({','.join(quote(v) for v in values)})"


def since(field: str, iso_timestamp: str) -> str:
    """``field=ge="2026-11-26T01:30:00.000Z"`` for ``created_at`` / ``updated_at``."""
    return f"{field}=ge={quote(iso_timestamp)}"


def all_of(clauses: Iterable[str]) -> str:
    """Clauses joined with ``;`` (AND), each parenthesised so OR inside cannot leak out."""
    return ";".join(f"({clause})" for clause in clauses)


def any_of(clauses: Iterable[str]) -> str:
    """Clauses joined with ``,`` (OR), each parenthesised."""
    return ",".join(f"({clause})" for clause in clauses)


def record_query(entity_id: str, body: dict[str, object], created_since: str | None) -> str:
    """A search matching customers that carry exactly ``body``'s fields (nested ones by dotted
    path) in ``entity_id``, created at or after ``created_since``: how a create whose response
    was lost is found again."""
    clauses = [equals("entity_id", entity_id)]
    clauses += [
        equals(path, str(value))
        for path, value in sorted(flatten(body).items())
        if path != "entity_id"
    ]
    if created_since is not None:
        clauses.append(since("created_at", created_since))
    return all_of(clauses)


# Fields that single a customer out, in order of preference, for the loose search.
ANCHOR_FIELDS = ("billing.last_name", "company_name", "billing.first_name", "email_address")


def case_variants(value: str) -> list[str]:
    """``value`` in the cases an API (or a CRM) may hold it in: as is, lower, upper, title."""
    return list(dict.fromkeys([value, value.lower(), value.upper(), value.title()]))


def loose_record_query(
    entity_id: str, body: dict[str, object], created_since: str | None
) -> str | None:
    """A wider search than ``record_query``, for an API that stores values in another form than
    it was sent (case, spacing): ``entity_id``, created since, and one distinctive field in the
    case variants an API might have stored. None when the body has no such field."""
    flat = flatten(body)
    anchor = next((f for f in ANCHOR_FIELDS if isinstance(flat.get(f), str) and flat[f]), None)
    if anchor is None:
        return None
    clauses = [equals("entity_id", entity_id), one_of(anchor, case_variants(str(flat[anchor])))]
    if created_since is not None:
        clauses.append(since("created_at", created_since))
    return all_of(clauses)
