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
    # One pass for every dash (not one per dash: six passes over each phone column).
    value = pl.col(column).str.replace_all(f"[{DASHES}]", "-")
    value = value.str.strip_prefix("'").str.replace_all(r"(\d)\s*/\s*(\d)", "$1 $2")
    # What the repair left at the edges is trimmed, and nothing left is absent, as clean_text
    # would have it: "'" alone, or "' 0123", must normalise the same way twice.
    return value.str.strip_chars(" ").replace("", None)


EXTENSION_SUFFIX = "__extension"
MIN_NUMBER_DIGITS = 6
NOT_PHONE = r"[^\d\s()+.\-]"  # a character no phone needs
# A trailing extension, in the forms phonenumbers parses (its _EXTN_PATTERNS_FOR_PARSING: "x",
# "ext", "extn", "extension", "#", "~", ",", ";", "int" and "доб"/"anexo"), written for polars'
# regex engine so no Python runs per row: the number before it is kept digit for digit.
EXTENSION = (
    r"(?i)^(.*?\d[\d\s().\-]*?)\s*"
    r"(?:e?xt(?:ensi(?:o|ó)n|n)?\.?:?|[x#~,;]|int\.?|доб\.?|anexo)\s*\d{1,10}#?$"
)


def split_extension(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``column`` without a trailing extension (``397.884.0519x718`` -> ``397.884.0519``), and
    ``<column>__extension``: whether one was split off (the API has no field for it). A value
    that is valid as it stands is left alone.

    Only the distinct values with a character a phone has no use for are parsed (a batch's
    phones are mostly plain digits): the same values as parsing every row, about half the time."""
    values = frame.get_column(column)
    odd = values.filter(values.str.contains(NOT_PHONE)).unique()
    number = odd.str.extract(EXTENSION, 1).str.strip_chars(" ")
    # An extension follows a whole number: "+44#20" is no number with an extension.
    split = number.is_not_null() & (number.str.count_matches(r"\d") >= MIN_NUMBER_DIGITS)
    with_extension, without = odd.filter(split), number.filter(split)
    value = pl.col(column)
    return frame.with_columns(
        value.replace(with_extension, without).alias(column),
        value.is_in(with_extension.implode()).fill_null(False).alias(column + EXTENSION_SUFFIX),
    )


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
