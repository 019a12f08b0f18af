"""Keeping shopper data out of what the API says back: an error message that quotes a value we
sent (Spring's default "rejected value [...]", a search echoed back) has that value masked before
it reaches rejects.csv, the state store, a log line or the console."""

from __future__ import annotations

import re
import unicodedata
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
    r"""``text`` with every value we sent masked wherever it appears in any form an API may echo
    it in: another case, composed or decomposed accents (NFC/NFD), other spacing, JSON
    escapes (``\u00e9``, ``\"``); a phone by its digits whatever the separators and prefix;
    and any e-mail address at all."""
    folded, starts, ends = _fold(text)
    spans: list[tuple[int, int]] = []
    phones: set[str] = set()
    for value in {v for v in values if isinstance(v, str)}:
        needle = _fold(value)[0]
        if len(needle) < MIN_LENGTH:
            continue
        at = folded.find(needle)
        while at >= 0:
            spans.append((starts[at], ends[at + len(needle) - 1]))
            at = folded.find(needle, at + 1)
        digits = re.sub(r"\D", "", value)
        if len(digits) >= MIN_PHONE_DIGITS and _PHONE_LIKE.fullmatch(value.strip()):
            phones.add(digits[-PHONE_DIGITS:])
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if any(len(digits) >= len(key) and digits.endswith(key) for key in phones):
            spans.append(match.span())
    return _EMAIL.sub(MASK, _masked(text, spans))


# A phone is recognised by its last digits (a subscriber number and some of its area code),
# whatever prefix (+44, 0, none) or separators it is echoed with.
PHONE_DIGITS = 9
MIN_PHONE_DIGITS = 7
_PHONE_LIKE = re.compile(r"[+()\d][\d\s().+/-]*\d")
_DIGIT_RUN = re.compile(r"[+(]?\d[\d\s().-]*\d")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPED = {'"': '"', "\\": "\\", "/": "/", "'": "'", "n": " ", "r": " ", "t": " "}


def _fold(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` as compared (JSON escapes read, accents and spacing dropped, case folded), and
    for each character of that where it starts and ends in ``text``."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        char, span = text[i], 1
        if char == "\\" and i + 1 < len(text):
            escaped = text[i + 1]
            if escaped == "u" and _HEX4.fullmatch(text, i + 2, i + 6):
                char, span = chr(int(text[i + 2 : i + 6], 16)), 6
            elif escaped in _ESCAPED:
                char, span = _ESCAPED[escaped], 2
        for part in unicodedata.normalize("NFD", char):
            if unicodedata.combining(part) or part.isspace():
                continue
            for folded in part.casefold():
                chars.append(folded)
                starts.append(i)
                ends.append(i + span)
        i += span
    return "".join(chars), starts, ends


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span (merged where they overlap) replaced by MASK."""
    out: list[str] = []
    last = 0
    for start, end in sorted(spans):
        if start < last:  # overlaps the one before: extend it
            if end > last:
                last = end
            continue
        out.append(text[last:start])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)
