"""Compile a parsed RSQL tree into a SQL condition over the sandbox's customer table.

Type rules (from the reference): string fields take ``== != =in= =out= =regex=``; the dates
``created_at``/``updated_at`` and ``shipping.phone`` (documented as a number) also take
``=gt= =ge= =lt= =le=``. ``!=`` and ``=out=`` also match customers where the field is absent:
"not equal to X" holds for a customer without the field. ``=regex=`` finds the pattern anywhere in
the value (anchor with ``^...$`` for a whole match), like database regex operators do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache

import regex

from sandbox.rsql import And, Comparison, Node, Or
from schemas.api_fields import DATE_FIELDS, NUMERIC_SEARCH_FIELDS, SEARCHABLE_FIELDS

STRING_OPERATORS = frozenset({"==", "!=", "=in=", "=out=", "=regex="})
ORDER_OPERATORS = {"=gt=": ">", "=ge=": ">=", "=lt=": "<", "=le=": "<="}
DATE_OPERATORS = frozenset({"==", "!=", "=in=", "=out=", *ORDER_OPERATORS})
NUMBER_OPERATORS = STRING_OPERATORS | frozenset(ORDER_OPERATORS)


class SearchError(ValueError):
    """A search that parses but cannot be run: unknown field, operator or value for its type."""


def column_sql(field: str) -> str:
    """The SQL expression reading ``field`` of a stored customer (field must be searchable)."""
    if field in ("id", "entity_id", "created_at", "updated_at"):
        return field
    # Paths come from the fixed field table, never from the request text.
    return f"json_extract(body, '$.{field}')"


def parse_timestamp_ms(value: str) -> int:
    """ISO 8601 date or date-time (``Z``, offsets, or naive = UTC) -> unix milliseconds."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SearchError(f"{value!r} is not an ISO 8601 date or date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def phone_digits(value: object) -> int | None:
    """``shipping.phone`` as the number the reference calls it: its digits, or None."""
    if not isinstance(value, str):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return int(digits) if digits else None


# A search's regular expressions together get this long (the store runs on the server's one
# loop: a catastrophic pattern must not stall every other request for seconds).
REGEX_BUDGET_S = 0.25
_deadline: ContextVar[float] = ContextVar("regex_deadline", default=float("inf"))


class RegexTooSlowError(Exception):
    """A search's ``=regex=`` spent its time budget."""


@contextmanager
def regex_budget(seconds: float = REGEX_BUDGET_S) -> Iterator[None]:
    """Within: every ``regex_search`` call shares one deadline."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def regex_search(pattern: str, value: object) -> int:
    """SQLite function behind ``=regex=``: the ``regex`` engine, with a timeout (the stdlib's
    backtracks without one), out of the search's budget."""
    if not isinstance(value, str):
        return 0
    remaining = _deadline.get() - time.monotonic()
    if remaining <= 0:
        raise RegexTooSlowError
    try:
        return int(_compiled(pattern).search(value, timeout=remaining) is not None)
    except TimeoutError:
        raise RegexTooSlowError from None


def compile_condition(node: Node) -> tuple[str, list[object]]:
    """SQL condition and its parameters for an RSQL tree; raise SearchError if it cannot run."""
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        parts, params = [], []
        for child in node.children:
            sql, child_params = compile_condition(child)
            parts.append(f"({sql})")
            params.extend(child_params)
        return joiner.join(parts), params
    return _compile_comparison(node)


def _compile_comparison(cmp: Comparison) -> tuple[str, list[object]]:
    field, op = cmp.selector, cmp.operator
    values: list[object]
    if field not in SEARCHABLE_FIELDS:
        raise SearchError(f"unknown field {field!r}")
    if field in DATE_FIELDS:
        allowed, values = DATE_OPERATORS, [parse_timestamp_ms(v) for v in cmp.arguments]
        column = column_sql(field)
    elif field in NUMERIC_SEARCH_FIELDS and op in ORDER_OPERATORS:
        allowed, values = NUMBER_OPERATORS, [_number(v) for v in cmp.arguments]
        column = f"phone_digits({column_sql(field)})"
    else:
        allowed = NUMBER_OPERATORS if field in NUMERIC_SEARCH_FIELDS else STRING_OPERATORS
        values, column = list(cmp.arguments), column_sql(field)
    if op not in allowed:
        raise SearchError(f"operator {op} cannot be used on {field}")
    if op == "==":
        return f"{column} = ?", values
    if op == "!=":
        return f"{column} IS NOT ?", values
    if op in ("=in=", "=out="):
        marks = ", ".join("?" * len(values))
        if op == "=in=":
            return f"{column} IN ({marks})", values
        return f"({column} IS NULL OR {column} NOT IN ({marks}))", values
    if op == "=regex=":
        try:
            _compiled(str(values[0]))
        except regex.error as exc:
            raise SearchError(f"invalid regular expression for {field}: {exc}") from exc
        return f"regex_search(?, {column})", values
    return f"{column} {ORDER_OPERATORS[op]} ?", values


def _number(value: str) -> int:
    digits = value.lstrip("+")
    if not digits.isdigit():
        raise SearchError(f"{value!r} is not a number")
    return int(digits)
