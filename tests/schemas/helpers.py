"""Helpers to build customer frames as the reader produces them."""

from __future__ import annotations

from typing import Any

import polars as pl

from schemas.countries import country_table
from schemas.country_names import fold
from schemas.mapping import SOURCE_ONLY
from schemas.normalize import API_COLUMNS
from schemas.validation import FILE, RAGGED, ROW


def customer_frame(*rows: dict[str, Any]) -> pl.DataFrame:
    """Rows of {column: value} -> a frame with every API column (String, null where absent),
    and a mapping's source-only fields (address lines, full names) where a row has them."""
    extra = [f for f in SOURCE_ONLY if any(f in row for row in rows)]
    columns = [FILE, ROW, RAGGED, "external_id", *API_COLUMNS, *extra]
    data = {c: [] for c in columns}  # type: dict[str, list[Any]]
    for n, row in enumerate(rows, start=1):
        for c in columns:
            default = {FILE: "test.csv", ROW: n}.get(c)
            data[c].append(row.get(c, default))
    schema = {c: pl.String for c in columns} | {ROW: pl.Int64}
    return pl.DataFrame(data, schema=schema)


def person(external_id: str = "C1", **fields: str | None) -> dict[str, Any]:
    """A valid, 3DS-ready GB person; keyword fields (dotted via __) override."""
    row: dict[str, Any] = {
        "external_id": external_id,
        "email_address": "ann@example.com",
        "billing.first_name": "Ann",
        "billing.last_name": "Lee",
        "billing.address_1": "1 High Street",
        "billing.city": "London",
        "billing.postal_code": "SW1A 1AA",
        "billing.country_code": "GB",
    }
    row.update({k.replace("__", "."): v for k, v in fields.items()})
    return row


def alpha_2(text: str) -> str | None:
    """The code the country table gives a name, or None."""
    found = country_table().filter(pl.col("key") == fold(text))
    return found.item(0, "alpha_2") if found.height else None


# Each means exactly one country: accents dropped, former names, asides, other languages.
ONE_COUNTRY = {
    "Cote d'Ivoire": "CI", "Reunion": "RE", "Saint Barthelemy": "BL", "Cape Verde": "CV",
    "Swaziland": "SZ", "Libyan Arab Jamahiriya": "LY", "United States Virgin Islands": "VI",
    "Pitcairn Islands": "PN", "Saint Helena": "SH", "Palestinian Territory": "PS",
    "Slovakia (Slovak Republic)": "SK", "Svalbard & Jan Mayen Islands": "SJ",
    "Bouvet Island (Bouvetoya)": "BV", "C\u00f4te d\u2019Ivoire": "CI", "CÔTE D'IVOIRE": "CI",
    "St. Kitts & Nevis": "KN", "East Timor": "TL", "Zaire": "CD", "Burma": "MM",
    "Deutschland": "DE", "Allemagne": "DE", "Alemania": "DE", "Costa de Marfil": "CI",
    "中国": "CN", "Россия": "RU", "日本": "JP", "Brasil": "BR", "Éire": "IE",
    "Korea, Republic of": "KR", "South Korea": "KR", "U.S. Virgin Islands": "VI",
}  # fmt: skip
AMBIGUOUS = ["Korea", "Netherlands Antilles", "Yugoslavia", "Czechoslovakia", "Congo",
             "Virgin Islands", "Serbia and Montenegro", "USSR"]  # fmt: skip
