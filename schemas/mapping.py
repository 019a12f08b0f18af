"""The column mapping: which source column feeds which Customer API field.

A mapping file (TOML)::

    external_id = "Contact ID"
    [columns]
    "email_address" = "Email"
    "billing.first_name" = "First Name"
    [writeback]                     # optional: the UUIDs back into the CRM
    crm = "salesforce"              # "file" (default: crm-update.csv only), or "hubspot"
    object = "Contact"              # Salesforce sObject / HubSpot object type (defaults below)
    id_column = "Id"                # the CRM's record-id header (its values: the external ids)
    uuid_field = "Verifone_Customer_ID__c"
    format = "csv"                  # crm-update file: "csv" or "parquet"

Without one, the source's own column names are used when they are canonical: ``external_id``
plus API field paths (``email_address``, ``billing.city``...).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from typing import Literal

from schemas.api_fields import FIELDS_BY_PATH

EXTERNAL_ID = "external_id"
WRITEBACK_KEYS = ("id_column", "uuid_field", "format", "crm", "object")
CRMS = ("file", "salesforce", "hubspot")
# What a CRM calls the records custsync writes to when the mapping does not say.
DEFAULT_OBJECT = {"file": "", "salesforce": "Contact", "hubspot": "contacts"}
_OBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")  # an sObject or HubSpot object type


class MappingInvalid(ValueError):
    """A mapping that cannot be used, with the culprit named (connectors make it exit 2)."""


@dataclass(frozen=True)
class Writeback:
    """How the UUIDs go back into the CRM: the CRM's record id (the export's external id) and
    the field that holds the customer UUID, written to an update file (``crm = "file"``) or
    through the CRM's API (``salesforce``, ``hubspot``) into records of ``object``; the file is
    written either way, as the record of what was given."""

    id_column: str
    uuid_field: str
    format: Literal["csv", "parquet"] = "csv"
    crm: Literal["file", "salesforce", "hubspot"] = "file"
    object: str = ""


@dataclass(frozen=True)
class ColumnMapping:
    """``external_id`` source column, and API field path -> source column."""

    external_id: str
    columns: dict[str, str]
    writeback: Writeback | None = None

    @classmethod
    def canonical(cls, source_columns: list[str]) -> ColumnMapping:
        """The identity mapping over whichever canonical names the source has (spelt exactly,
        or but for case and surrounding spaces)."""
        find = _ColumnFinder(source_columns)
        external_id = find.column(EXTERNAL_ID)
        if external_id is None:
            known = [EXTERNAL_ID, *FIELDS_BY_PATH]
            raise MappingInvalid(
                "the source has no 'external_id' column; name the CRM key column external_id "
                f"or pass {{mapping}} ({_columns_there(source_columns, known)})"
            )
        fields = {path: find.column(path) for path in FIELDS_BY_PATH}
        return cls(external_id, {path: c for path, c in fields.items() if c is not None})

    def resolved(self, source_columns: list[str], source_name: str) -> ColumnMapping:
        """This mapping with every column as the source spells it: exactly, or else the one
        column that matches but for case and surrounding spaces (a hand-edited header).
        MappingInvalid naming the first mapped column the source lacks."""
        find = _ColumnFinder(source_columns)
        wanted = [(EXTERNAL_ID, self.external_id), *self.columns.items()]
        mapped = [column for _, column in wanted]
        found: dict[str, str] = {}
        for field, column in wanted:
            match = find.column(column)
            if match is None:
                header = _looks_like_a_header(source_columns, mapped)
                hint = difflib.get_close_matches(column, source_columns, n=1) if header else []
                near = f"; did you mean {hint[0]!r}?" if hint else ""
                raise MappingInvalid(
                    f"mapping column {column!r} (for {field}) is not in {source_name}{near} "
                    f"({_columns_there(source_columns, mapped)})"
                )
            found[field] = match
        external_id = found.pop(EXTERNAL_ID)
        return ColumnMapping(external_id, found, self.writeback)


class _ColumnFinder:
    """Source columns by name: exact first, then ignoring case and surrounding spaces when
    that leaves exactly one candidate (never a guess between two)."""

    def __init__(self, columns: list[str]) -> None:
        self.exact = set(columns)
        self.loose: dict[str, list[str]] = {}
        for column in columns:
            self.loose.setdefault(_loose(column), []).append(column)

    def column(self, name: str) -> str | None:
        if name in self.exact:
            return name
        candidates = self.loose.get(_loose(name), [])
        return candidates[0] if len(candidates) == 1 else None


def _loose(name: str) -> str:
    return name.strip().casefold()


def parse_mapping(text: str, name: str = "mapping") -> ColumnMapping:
    """Parse and check a mapping file's text; raise MappingInvalid naming the culprit."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingInvalid(f"{name} is not valid TOML: {exc}") from None
    external_id = document.get(EXTERNAL_ID)
    if not isinstance(external_id, str) or not external_id:
        raise MappingInvalid(f'{name} must set external_id = "<CRM key column>"')
    columns = document.get("columns", {})
    if not isinstance(columns, dict):
        raise MappingInvalid(f'{name}: [columns] must be a table of api_field = "column"')
    unknown_keys = set(document) - {EXTERNAL_ID, "columns", "writeback"}
    if unknown_keys:
        raise MappingInvalid(f"{name}: unknown top-level key {sorted(unknown_keys)[0]!r}")
    for field, column in columns.items():
        if field not in FIELDS_BY_PATH:
            hint = difflib.get_close_matches(field, list(FIELDS_BY_PATH), n=1)
            near = f"; did you mean {hint[0]!r}?" if hint else ""
            raise MappingInvalid(f"{name} maps unknown API field {field!r}{near}")
        if not isinstance(column, str) or not column:
            raise MappingInvalid(f"{name}: the column for {field} must be a non-empty string")
    return ColumnMapping(external_id, dict(columns), _writeback(document.get("writeback"), name))


def _writeback(table: object, name: str) -> Writeback | None:
    """The ``[writeback]`` table, checked: two distinct, non-empty headers and a format."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise MappingInvalid(f"{name}: [writeback] must be a table (id_column, uuid_field)")
    unknown = sorted(set(table) - set(WRITEBACK_KEYS))
    if unknown:
        raise MappingInvalid(f"{name}: [writeback] has unknown key {unknown[0]!r}")
    headers = [table.get("id_column"), table.get("uuid_field")]
    for key, value in zip(WRITEBACK_KEYS, headers, strict=False):
        if not isinstance(value, str) or not value.strip():
            raise MappingInvalid(f'{name}: [writeback] must set {key} = "<CRM column>"')
    if headers[0] == headers[1]:
        raise MappingInvalid(f"{name}: [writeback] id_column and uuid_field must differ")
    form = table.get("format", "csv")
    if form not in ("csv", "parquet"):
        raise MappingInvalid(f"{name}: [writeback] format must be csv or parquet, not {form!r}")
    crm = table.get("crm", "file")
    if crm not in CRMS:
        raise MappingInvalid(
            f"{name}: [writeback] crm must be file, salesforce or hubspot, not {crm!r}"
        )
    kind = table.get("object", DEFAULT_OBJECT[crm])
    if crm != "file" and (not isinstance(kind, str) or not _OBJECT_NAME.match(kind)):
        raise MappingInvalid(f"{name}: [writeback] object must name the CRM's object, not {kind!r}")
    if crm != "file" and not _OBJECT_NAME.match(str(headers[1])):
        raise MappingInvalid(
            f"{name}: [writeback] uuid_field must be the field's API name for {crm}, "
            f"not {headers[1]!r}"
        )
    if crm == "file" and "object" in table:
        raise MappingInvalid(f'{name}: [writeback] object needs crm = "salesforce" or "hubspot"')
    return Writeback(str(headers[0]), str(headers[1]), form, crm, str(kind))


_DATA_LIKE = re.compile(r"@|\d{3}")  # an e-mail, a phone, a postcode, a CRM id


def _looks_like_a_header(columns: list[str], known: list[str]) -> bool:
    """Whether a file's first line is a header: it names a column as expected, or at least
    holds nothing that looks like a shopper's (an e-mail, a run of digits). Else it is most
    likely a data row (an export without its header), not to be quoted."""
    find = _ColumnFinder(columns)
    if any(find.column(name) is not None for name in known):
        return True
    return not any(_DATA_LIKE.search(column) for column in columns)


def _columns_there(columns: list[str], known: list[str]) -> str:
    """The file's columns, for an error message; never a line that may be a shopper's."""
    if _looks_like_a_header(columns, known):
        return f"columns there: {_listing(columns)}"
    return (
        f"its first line, {len(columns)} fields, names none of the columns expected: "
        "is the header row missing?"
    )


def _listing(columns: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")
