"""A CSV export's header: its first record (quoted newlines kept), Excel's ``sep=;`` hint,
and the delimiter it uses."""

from __future__ import annotations

import re
from pathlib import Path

from connectors.errors import SourceError
from connectors.sources.encoding import HEAD_BYTES

SEP_HINT = re.compile(r"sep=([,;\t|])")
# Pipes too: pipe-delimited exports are what many ERPs and data warehouses unload.
DELIMITERS = (",", ";", "\t", "|")


def header_line(path: Path, after_first: bool = False) -> str:
    """The first record of ``path`` (or the one after it), decoded leniently."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    text = head.decode("utf-8-sig", errors="replace")
    if after_first:
        text = text[_end_of_first_record(text) :].lstrip("\r\n")
    line = text[: _end_of_first_record(text)]
    if not line.strip():
        raise SourceError(f"{path}: no header line")
    return line


def _end_of_first_record(text: str) -> int:
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            return index
    return len(text)


def detect_delimiter(header: str) -> str:
    """Whichever of ``,`` ``;`` tab ``|`` the header holds most outside quotes (``,`` on a
    tie)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return max(DELIMITERS, key=lambda d: (counts[d], d == ","))
