"""Normalising a customer frame without guessing: what can be made valid unambiguously is.

Every text: Unicode NFC, trimmed, inner whitespace collapsed to one space, empty -> absent.
Countries: names, alpha-3 and numeric codes -> alpha-2 (lookup table, exact matches only).
States in US/CA/CN: subdivision names and ``US-OH`` forms -> ``OH``. Postal codes upper-cased.
Phones: unambiguous separators repaired, a trailing extension split off (``x718``, ``ext. 12``,
``#12``: the API has no field for it). E-mails: email-validator's normal form.
With the 3-D Secure profile, phones also become E.164 using the billing country.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from schemas.api_fields import REQUEST_FIELDS
from schemas.countries import POSTAL_DIGITS, STATE_REQUIRED, country_table, subdivision_table
from schemas.country_names import fold_expr
from schemas.emails import normalize_email_column
from schemas.mapping import EXTERNAL_ID
from schemas.phones import e164_column, repair_phone, split_extension

Profile = Literal["api", "3ds"]

API_COLUMNS: tuple[str, ...] = tuple(f.path for f in REQUEST_FIELDS)
TEXT_COLUMNS: tuple[str, ...] = (EXTERNAL_ID, *API_COLUMNS)
COUNTRY_COLUMNS = ("billing.country_code", "shipping.country_code")
PHONE_COLUMNS = tuple(f.path for f in REQUEST_FIELDS if f.kind == "phone")
STATE_VALID = "billing.state__subdivision_valid"


# What exports write for "no value": database dumps (NULL, \N), Excel's #N/A, typed n/a. Sent
# as text, "N/A" would be a city the API stores and 3DS trusts. ("NA" is Namibia: kept.)
NO_VALUE = ["", "NULL", "null", "Null", "(null)", "\\N", "#N/A", "N/A", "n/a"]


# Whitespace to rewrite: a run of two or more, or one that is not a plain space. The same
# result as ``\s+`` -> " ", without rewriting every single space (bench/RESULTS.md).
WHITESPACE = r"\s{2,}|[^\S ]"


def _spaced(value: pl.Expr) -> pl.Expr:
    value = value.str.replace_all(WHITESPACE, " ").str.strip_chars(" ")
    # replace(), not when/then: eagerly, polars would compute ``value`` twice.
    return value.replace(NO_VALUE, None)


def clean_text(column: str) -> pl.Expr:
    """NFC, trimmed, whitespace runs -> one space; empty or a no-value marker -> null."""
    return _spaced(pl.col(column).str.normalize("NFC")).alias(column)


def clean_texts(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """``clean_text`` of each of ``columns``, the same values, faster on a batch: NFC only
    changes non-ASCII text, so it runs once per distinct non-ASCII value (a batch of 200,000
    rows holds a few thousand) instead of on every value (bench/RESULTS.md)."""
    odd = frame.select(_non_ascii(pl.col(c)).any() for c in columns).row(0)
    composed = []
    for column, has_odd in zip(columns, odd, strict=True):
        if not has_odd:
            continue
        values = frame.get_column(column)
        spellings = values.filter(values.str.len_bytes() != values.str.len_chars()).unique()
        normal = spellings.str.normalize("NFC")
        changed = spellings != normal
        if changed.any():
            composed.append(
                pl.col(column).replace(spellings.filter(changed), normal.filter(changed))
            )
    if composed:
        frame = frame.with_columns(composed)
    return frame.with_columns(_spaced(pl.col(c)).alias(c) for c in columns)


def _non_ascii(value: pl.Expr) -> pl.Expr:
    """Whether a value has a character beyond ASCII: more bytes than characters (counting,
    not a regex: bench/RESULTS.md)."""
    return value.str.len_bytes() != value.str.len_chars()


def _country(frame: pl.DataFrame, column: str) -> pl.Expr:
    """Names and codes -> alpha-2, by the folded name (folded once per distinct value: a batch
    of 200,000 rows holds a few hundred spellings; folding every row cost +10% of a 1M-row
    dry run)."""
    table = country_table()
    spellings = frame.select(pl.col(column).unique().drop_nulls())
    # Each distinct spelling looked up in the table once; the rows then map spelling -> code.
    codes = spellings.with_columns(
        fold_expr(pl.col(column))
        .replace_strict(table["key"], table["alpha_2"], default=None, return_dtype=pl.String)
        .alias("__code")
    ).drop_nulls("__code")
    found = pl.col(column).replace_strict(
        codes[column], codes["__code"], default=None, return_dtype=pl.String
    )
    return pl.coalesce(found, pl.col(column)).alias(column)


def _states(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    state, country = f"{prefix}.state", f"{prefix}.country_code"
    table = subdivision_table().rename({"country": country, "state": "__state"})
    frame = frame.with_columns(_folded_once(frame, state).alias("key"))
    frame = frame.join(table, on=[country, "key"], how="left", maintain_order="left")
    applies = pl.col(country).is_in(sorted(STATE_REQUIRED))
    updates = [pl.when(applies).then(pl.coalesce("__state", state)).otherwise(state).alias(state)]
    if prefix == "billing":
        updates.append(pl.col("__state").is_not_null().alias(STATE_VALID))
    return frame.with_columns(updates).drop("key", "__state")


def _folded_once(frame: pl.DataFrame, column: str) -> pl.Expr:
    """``fold_expr`` of a column, computed once per distinct value."""
    spellings = frame.select(pl.col(column).unique().drop_nulls())
    folded = spellings.select(pl.col(column), fold_expr(pl.col(column)).alias("__key"))
    return pl.col(column).replace_strict(
        folded[column], folded["__key"], default=None, return_dtype=pl.String
    )


def _postal_zeros(prefix: str) -> pl.Expr:
    """A numeric postal code one or two digits short, in a country whose codes are all digits
    of one length, lost its leading zeros to a spreadsheet (Boston 02134 -> 2134): put back.
    Only for all-digit values (a ZIP+4's first part too), only where the length is fixed."""
    postal, country = pl.col(f"{prefix}.postal_code"), pl.col(f"{prefix}.country_code")
    width = country.replace_strict(POSTAL_DIGITS, default=None, return_dtype=pl.Int64)
    head = postal.str.extract(r"^(\d+)(-\d{4})?$", 1)
    tail = postal.str.extract(r"^\d+(-\d{4})$", 1).fill_null("")
    short = (
        head.is_not_null() & (head.str.len_chars() >= width - 2) & (head.str.len_chars() < width)
    )
    padded = pl.concat_str(head.str.zfill(width), tail)
    return pl.when(short).then(padded).otherwise(postal).alias(f"{prefix}.postal_code")


def normalize_customers(frame: pl.DataFrame, profile: Profile = "api") -> pl.DataFrame:
    """Normalise every API column of ``frame`` (all present, String) and add check markers."""
    frame = clean_texts(frame, TEXT_COLUMNS)
    frame = frame.with_columns(
        *(_country(frame, c) for c in COUNTRY_COLUMNS),
        pl.col("billing.postal_code", "shipping.postal_code").str.to_uppercase(),
        *(repair_phone(c) for c in PHONE_COLUMNS),
    )
    frame = frame.with_columns(_postal_zeros("billing"), _postal_zeros("shipping"))
    for column in PHONE_COLUMNS:
        frame = split_extension(frame, column)
    frame = _states(frame, "billing")
    frame = _states(frame, "shipping")
    frame = normalize_email_column(frame, "email_address")
    if profile == "3ds":
        for column in PHONE_COLUMNS:
            country = (
                "shipping.country_code"
                if column.startswith("shipping")
                else ("billing.country_code")
            )
            frame = e164_column(frame, column, country)
    return frame
