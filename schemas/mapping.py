"""The column mapping: which source column feeds which Customer API field.

A mapping file (TOML)::

    external_id = "Contact ID"
    [columns]
    "email_address" = "Email"
    "billing.first_name" = "First Name"
    "billing.phone" = { column = "Mobile", optional = true }   # may be missing from an export
    "billing.address_lines" = "Mailing Street"  # its lines -> address_1..address_3
    "shipping.full_name" = "Ship To"            # split at the last space -> first, last names
    [values]                        # optional: a value for every row the export lacks
    "billing.country_code" = "GB"   # an export's column, where mapped and not empty, wins
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
from dataclasses import dataclass, field
from typing import Literal

from schemas.api_fields import FIELDS_BY_PATH

EXTERNAL_ID = "external_id"
# Fields a mapping may name that the API has not: one column fills several fields.
ADDRESS_LINES = {"billing.address_lines": "billing", "shipping.address_lines": "shipping"}
FULL_NAMES = {"billing.full_name": "billing", "shipping.full_name": "shipping"}
SOURCE_ONLY = {**ADDRESS_LINES, **FULL_NAMES}
# What each of them fills, which the mapping must then leave alone.
FILLS = {
    **{f: tuple(f"{p}.address_{n}" for n in (1, 2, 3)) for f, p in ADDRESS_LINES.items()},
    **{f: (f"{p}.first_name", f"{p}.last_name") for f, p in FULL_NAMES.items()},
}
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
    """``external_id`` source column; API field path (or ``SOURCE_ONLY`` field) -> source
    column; the fields whose column an export may lack (``optional``); a value for every row
    (``values``); once resolved against a file, the optional columns it lacked (``missing``:
    field, column)."""

    external_id: str
    columns: dict[str, str]
    writeback: Writeback | None = None
    optional: frozenset[str] = frozenset()
    values: dict[str, str] = field(default_factory=dict)
    missing: tuple[tuple[str, str], ...] = ()

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
        missing: list[tuple[str, str]] = []
        for path, column in wanted:
            match = find.column(column)
            if match is None and path in self.optional:
                missing.append((path, column))
                continue
            if match is None:
                header = _looks_like_a_header(source_columns, mapped)
                hint = difflib.get_close_matches(column, source_columns, n=1) if header else []
                near = f"; did you mean {hint[0]!r}?" if hint else ""
                raise MappingInvalid(
                    f"mapping column {column!r} (for {path}) is not in {source_name}{near} "
                    f"({_columns_there(source_columns, mapped)})"
                )
            found[path] = match
        if missing and len(found) == 1:  # every column optional, and none there
            raise MappingInvalid(
                f"none of the mapping's columns but its external id is in {source_name}: "
                f"is it the export's mapping? ({_columns_there(source_columns, mapped)})"
            )
        external_id = found.pop(EXTERNAL_ID)
        return ColumnMapping(external_id, found, self.writeback, self.optional, self.values,
                             tuple(missing))  # fmt: skip


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
    table = document.get("columns", {})
    if not isinstance(table, dict):
        raise MappingInvalid(f'{name}: [columns] must be a table of api_field = "column"')
    unknown_keys = set(document) - {EXTERNAL_ID, "columns", "values", "writeback"}
    if unknown_keys:
        raise MappingInvalid(f"{name}: unknown top-level key {sorted(unknown_keys)[0]!r}")
    columns: dict[str, str] = {}
    optional: set[str] = set()
    for path, spec in table.items():
        _known_field(path, name, SOURCE_ONLY)
        column, is_optional = _column_spec(spec, path, name)
        columns[path] = column
        if is_optional:
            optional.add(path)
    values = _values(document.get("values", {}), name)
    for pseudo, filled in FILLS.items():
        clash = [f for f in filled if pseudo in columns and f in columns]
        if clash:
            raise MappingInvalid(
                f"{name} maps {pseudo}, which fills {', '.join(filled)}, and {clash[0]} too: "
                "map one or the other"
            )
    return ColumnMapping(external_id, columns, _writeback(document.get("writeback"), name),
                         frozenset(optional), values)  # fmt: skip


def _known_field(path: str, name: str, also: dict[str, str] | None = None) -> None:
    """MappingInvalid unless ``path`` is an API field (or one of ``also``), with a hint."""
    known = [*FIELDS_BY_PATH, *(also or {})]
    if path not in known:
        hint = difflib.get_close_matches(path, known, n=1)
        near = f"; did you mean {hint[0]!r}?" if hint else ""
        raise MappingInvalid(f"{name} maps unknown API field {path!r}{near}")


def _column_spec(spec: object, path: str, name: str) -> tuple[str, bool]:
    """A [columns] entry: ``"Column"``, or ``{ column = "Column", optional = true }``."""
    if isinstance(spec, str) and spec:
        return spec, False
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - {"column", "optional"})
        if unknown:
            raise MappingInvalid(f"{name}: the entry for {path} has unknown key {unknown[0]!r}")
        column, is_optional = spec.get("column"), spec.get("optional", False)
        if isinstance(column, str) and column and isinstance(is_optional, bool):
            return column, is_optional
    raise MappingInvalid(
        f'{name}: the column for {path} must be "Column" or {{ column = "Column", '
        "optional = true }"
    )


def _values(table: object, name: str) -> dict[str, str]:
    """The [values] table: API field -> a non-empty text every row gets."""
    if not isinstance(table, dict):
        raise MappingInvalid(f'{name}: [values] must be a table of api_field = "value"')
    for path, value in table.items():
        _known_field(path, name)
        if not isinstance(value, str) or not value.strip():
            raise MappingInvalid(f"{name}: the value for {path} must be a non-empty string")
    return dict(table)


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
