"""Building RSQL ``search`` expressions for the Customer API, every value quoted and escaped.

A value is always double-quoted with ``\\`` escaping ``"`` and ``\\``, so an e-mail like
``o'brien+tag@example.com`` or a name holding ``, ; ( ) "`` matches itself and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable


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
