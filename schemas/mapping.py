"""The column mapping: which source column feeds which Customer API field.

A mapping file (TOML)::

    external_id = "Contact ID"
    [columns]
    "email_address" = "Email"
    "billing.first_name" = "First Name"

Without one, the source's own column names are used when they are canonical: ``external_id``
plus API field paths (``email_address``, ``billing.city``...).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass

from schemas.api_fields import FIELDS_BY_PATH
from schemas.errors import MappingError

EXTERNAL_ID = "external_id"


@dataclass(frozen=True)
class ColumnMapping:
    """``external_id`` source column, and API field path -> source column."""

    external_id: str
    columns: dict[str, str]

    @classmethod
    def canonical(cls, source_columns: list[str]) -> ColumnMapping:
        """The identity mapping over whichever canonical names the source has."""
        if EXTERNAL_ID not in source_columns:
            raise MappingError(
                "the source has no 'external_id' column; name the CRM key column external_id "
                f"or pass --mapping (columns there: {_listing(source_columns)})"
            )
        fields = {c: c for c in source_columns if c in FIELDS_BY_PATH}
        return cls(EXTERNAL_ID, fields)

    def check_source(self, source_columns: list[str], source_name: str) -> None:
        """Raise MappingError naming any mapped column the source lacks."""
        wanted = [(EXTERNAL_ID, self.external_id), *self.columns.items()]
        for field, column in wanted:
            if column not in source_columns:
                hint = difflib.get_close_matches(column, source_columns, n=1)
                near = f"; did you mean {hint[0]!r}?" if hint else ""
                raise MappingError(
                    f"mapping column {column!r} (for {field}) is not in {source_name}{near} "
                    f"(columns there: {_listing(source_columns)})"
                )


def parse_mapping(text: str, name: str = "mapping") -> ColumnMapping:
    """Parse and check a mapping file's text; raise MappingError naming the culprit."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{name} is not valid TOML: {exc}") from None
    external_id = document.get(EXTERNAL_ID)
    if not isinstance(external_id, str) or not external_id:
        raise MappingError(f'{name} must set external_id = "<CRM key column>"')
    columns = document.get("columns", {})
    if not isinstance(columns, dict):
        raise MappingError(f'{name}: [columns] must be a table of api_field = "column"')
    unknown_keys = set(document) - {EXTERNAL_ID, "columns"}
    if unknown_keys:
        raise MappingError(f"{name}: unknown top-level key {sorted(unknown_keys)[0]!r}")
    for field, column in columns.items():
        if field not in FIELDS_BY_PATH:
            hint = difflib.get_close_matches(field, list(FIELDS_BY_PATH), n=1)
            near = f"; did you mean {hint[0]!r}?" if hint else ""
            raise MappingError(f"{name} maps unknown API field {field!r}{near}")
        if not isinstance(column, str) or not column:
            raise MappingError(f"{name}: the column for {field} must be a non-empty string")
    return ColumnMapping(external_id, dict(columns))


def _listing(columns: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")
