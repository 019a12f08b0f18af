"""Keeping shopper data out of what the API says back: an error message that quotes a value we
sent (Spring's default "rejected value [...]", a search echoed back) has that value masked before
it reaches rejects.csv, the state store, a log line or the console."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

MASK = "***"
# Shorter values (country codes, initials, "Dr") identify nobody and would mangle the message.
MIN_LENGTH = 3
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'')
_UNESCAPE = re.compile(r"\\(.)")
# Whatever still looks like an e-mail address after the values are masked (an API may echo a
# value normalised: case, punycode).
_EMAIL = re.compile(r"[^\s@\[\](){}<>\"',;]+@[^\s@\[\](){}<>\"',;]+\.[^\s@\[\](){}<>\"',;]+")


def sent_values(body: Any = None, search: str | None = None) -> list[str]:
    """The strings of a request: every string in its JSON body, every literal of its search."""
    values = list(_strings(body))
    if search:
        for match in _QUOTED.finditer(search):
            literal = match.group(1) if match.group(1) is not None else match.group(2)
            values += [literal, _UNESCAPE.sub(r"\1", literal)]  # as echoed: escaped or not
    return values


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def redact(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each value (any case) and any e-mail address masked."""
    for value in sorted({v.strip() for v in values}, key=len, reverse=True):
        if len(value) >= MIN_LENGTH:
            text = re.sub(re.escape(value), MASK, text, flags=re.IGNORECASE)
    return _EMAIL.sub(MASK, text)
