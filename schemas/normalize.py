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

from schemas.api_fields import FIELDS_BY_PATH, REQUEST_FIELDS
from schemas.countries import POSTAL_DIGITS, STATE_REQUIRED, country_table, subdivision_table
from schemas.country_names import fold_expr
from schemas.emails import normalize_email_column
from schemas.mapping import ADDRESS_LINES, EXTERNAL_ID, FULL_NAMES
from schemas.phones import e164_column, repair_phone, split_extension

Profile = Literal["api", "3ds"]

API_COLUMNS: tuple[str, ...] = tuple(f.path for f in REQUEST_FIELDS)
TEXT_COLUMNS: tuple[str, ...] = (EXTERNAL_ID, *API_COLUMNS)
COUNTRY_COLUMNS = ("billing.country_code", "shipping.country_code")
PHONE_COLUMNS = tuple(f.path for f in REQUEST_FIELDS if f.kind == "phone")
STATE_VALID = "billing.state__subdivision_valid"
# Markers of what a mapping's source-only fields did to a row (validation reports them).
LINES_PROBLEM = "__problem"  # suffix of an address_lines field: why its lines were left out
NAME_SPLIT = "__split"  # suffix of a full_name field: a name was split into first and last
REASON_TOO_MANY_LINES = "more than 3 lines (the API has address_1..address_3): left out whole"
REASON_LONG_LINE = "a line longer than {} characters: left out whole"


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


def address_lines(frame: pl.DataFrame, field: str) -> pl.DataFrame:
    """A mapping's ``billing.address_lines`` (or shipping's): the column's lines, as Salesforce,
    Excel and HubSpot end them (CRLF, LF, CR), each cleaned as any text, empty ones dropped,
    into address_1..address_3 in order. More than three lines, or a line over the API's 40
    characters, is left out whole (never cut, never merged by guess): the address fields stay
    empty and ``field + LINES_PROBLEM`` says why."""
    prefix = ADDRESS_LINES[field]
    targets = [f"{prefix}.address_{n}" for n in (1, 2, 3)]
    if frame.get_column(field).null_count() == frame.height:
        return frame.with_columns(pl.lit(None, pl.String).alias(field + LINES_PROBLEM))
    width = FIELDS_BY_PATH[targets[0]].max_length or 40
    split = pl.col(field).str.replace_all(r"\r\n?", "\n").str.split("\n")
    lines = split.list.eval(_spaced(pl.element().str.normalize("NFC"))).list.drop_nulls()
    frame = frame.with_columns(lines.alias("__lines"))
    held = pl.col("__lines")
    too_long = held.list.eval(pl.element().str.len_chars() > width).list.any()
    problem = (
        pl.when(held.list.len() > len(targets)).then(pl.lit(REASON_TOO_MANY_LINES))
        .when(too_long).then(pl.lit(REASON_LONG_LINE.format(width)))
        .otherwise(pl.lit(None, pl.String))
    )  # fmt: skip
    frame = frame.with_columns(problem.alias(field + LINES_PROBLEM))
    fine = pl.col(field + LINES_PROBLEM).is_null()
    return frame.with_columns(
        pl.when(fine).then(held.list.get(n, null_on_oob=True)).otherwise(pl.col(target))
        .alias(target)
        for n, target in enumerate(targets)
    ).drop("__lines")  # fmt: skip


def full_name(frame: pl.DataFrame, field: str) -> pl.DataFrame:
    """A mapping's ``billing.full_name`` (or shipping's): split at the last space into first
    and last name; one word is a last name. A guess (compound surnames, family name first):
    ``field + NAME_SPLIT`` marks every row it made, for the report and ``--strict``."""
    prefix = FULL_NAMES[field]
    if frame.get_column(field).null_count() == frame.height:
        return frame.with_columns(pl.lit(False).alias(field + NAME_SPLIT))
    name = _spaced(pl.col(field).str.normalize("NFC"))
    frame = frame.with_columns(name.alias("__name"))
    held = pl.col("__name")
    spaced = held.str.contains(" ", literal=True)
    first = pl.when(spaced).then(held.str.replace(r" [^ ]*$", "")).otherwise(None)
    last = pl.when(spaced).then(held.str.extract(r" ([^ ]*)$", 1)).otherwise(held)
    there = held.is_not_null()
    return frame.with_columns(
        pl.when(there).then(first).otherwise(pl.col(f"{prefix}.first_name"))
        .alias(f"{prefix}.first_name"),
        pl.when(there).then(last).otherwise(pl.col(f"{prefix}.last_name"))
        .alias(f"{prefix}.last_name"),
        there.alias(field + NAME_SPLIT),
    ).drop("__name")  # fmt: skip


def normalize_customers(frame: pl.DataFrame, profile: Profile = "api") -> pl.DataFrame:
    """Normalise every API column of ``frame`` (all present, String) and add check markers;
    a mapping's source-only fields (address lines, full names), where the frame has them,
    fill the fields they stand for first."""
    for field in ADDRESS_LINES:
        if field in frame.columns:
            frame = address_lines(frame, field)
    for field in FULL_NAMES:
        if field in frame.columns:
            frame = full_name(frame, field)
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
