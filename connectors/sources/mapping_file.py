"""Reading a mapping file (TOML) from disk; what it means is ``schemas/mapping.py``'s."""

from __future__ import annotations

from pathlib import Path

from connectors.errors import MappingError
from schemas.mapping import ColumnMapping, MappingInvalid, parse_mapping


def load_mapping(path: Path | None) -> ColumnMapping | None:
    """The mapping file at ``path`` (None: canonical column names); MappingError (exit 2)
    naming the culprit when it cannot be read or used."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read mapping {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise MappingError(f"cannot read mapping {path}: it is not UTF-8 text") from None
    try:
        return parse_mapping(text, str(path))
    except MappingInvalid as exc:
        raise MappingError(str(exc)) from None
