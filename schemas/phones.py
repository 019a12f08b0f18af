"""Phone numbers: what the API's pattern refuses, and E.164 for 3-D Secure.

Only unambiguous repairs: an Excel text marker (a leading apostrophe), ``/`` used as a digit
group separator, and typographic dashes. Anything else the API refuses (letters, ``ext``, ``#``)
is left for the schema to reject, never cut away.
"""

from __future__ import annotations

import phonenumbers
import polars as pl

DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212"
E164_SUFFIX = "__e164_valid"


def repair_phone(column: str) -> pl.Expr:
    """The API-acceptable spelling of a phone where one exists without guessing."""
    value = pl.col(column)
    for dash in DASHES:
        value = value.str.replace_all(dash, "-", literal=True)
    value = value.str.strip_prefix("'").str.replace_all(r"(\d)\s*/\s*(\d)", "$1 $2")
    # What the repair left at the edges is trimmed, and nothing left is absent, as clean_text
    # would have it: "'" alone, or "' 0123", must normalise the same way twice.
    return value.str.strip_chars(" ").replace("", None)


def to_e164(number: str, region: str | None) -> str | None:
    """``number`` in E.164 using the billing country for national numbers, or None."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164_column(frame: pl.DataFrame, column: str, country_column: str) -> pl.DataFrame:
    """Replace ``column`` by its E.164 form; add ``<column>__e164_valid`` (null where absent)."""
    pairs = (
        frame.select(column, country_column).filter(pl.col(column).is_not_null()).unique().rows()
    )
    converted = pl.DataFrame(
        {
            column: [p[0] for p in pairs],
            country_column: [p[1] for p in pairs],
            "__e164": [to_e164(number, region) for number, region in pairs],
        },
        schema={column: pl.String, country_column: pl.String, "__e164": pl.String},
    )
    frame = frame.join(
        converted, on=[column, country_column], how="left", nulls_equal=True, maintain_order="left"
    )
    return frame.with_columns(
        pl.coalesce("__e164", column).alias(column),
        pl.when(pl.col(column).is_null())
        .then(None)
        .otherwise(pl.col("__e164").is_not_null())
        .alias(column + E164_SUFFIX),
    ).drop("__e164")
