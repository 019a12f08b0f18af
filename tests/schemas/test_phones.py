"""Phones: repaired without guessing; E.164 from the billing country where it is valid."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.phones import (
    EXTENSION,
    EXTENSION_SUFFIX,
    MIN_NUMBER_DIGITS,
    NOT_PHONE,
    e164_column,
    repair_phone,
    split_extension,
    to_e164,
)


def test_repairs_only_what_has_one_reading() -> None:
    frame = pl.DataFrame(
        {"p": ["'020 7946 0958", "020/7946/0958", "+44\u20132079460958", "'", None]}
    )
    repaired = frame.select(repair_phone("p")).get_column("p").to_list()
    assert repaired == ["020 7946 0958", "020 7946 0958", "+44-2079460958", None, None]


def test_e164_uses_the_billing_country_for_national_numbers() -> None:
    assert to_e164("020 7946 0958", "GB") == "+442079460958"
    assert to_e164("+1 212 555 0100", None) == "+12125550100"  # international: no country needed
    assert to_e164("212 555 0100", None) is None  # national, and no country to read it by
    assert to_e164("(212) 736-5000", "US") == "+12127365000"
    assert to_e164("not a phone", "GB") is None
    frame = pl.DataFrame({"phone": ["020 7946 0958", "12", None], "cc": ["GB", "GB", "GB"]})
    converted = e164_column(frame, "phone", "cc")
    assert converted.get_column("phone").to_list() == ["+442079460958", "12", None]
    assert converted.get_column("phone__e164_valid").to_list() == [True, False, None]


def every_row(column: str) -> list[pl.Expr]:
    """The reference: the extension parsed on every row, as one expression."""
    value = pl.col(column)
    number = value.str.extract(EXTENSION, 1).str.strip_chars(" ")
    split = (
        number.is_not_null()
        & value.str.contains(NOT_PHONE)
        & (number.str.count_matches(r"\d") >= MIN_NUMBER_DIGITS)
    )
    return [
        pl.when(split).then(number).otherwise(value).alias(column),
        split.fill_null(False).alias(column + EXTENSION_SUFFIX),
    ]


PHONE_PARTS = st.sampled_from(
    ["0161", " ", "496", "0000", "x", "ext.", " ext ", "#", "12", "+44", "(0)", "-", ".", "~",
     ";", "int.", "доб", "anexo", "Extensión", "call", "'", "/", "5"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(phones=st.lists(st.one_of(st.none(), st.lists(PHONE_PARTS, max_size=8).map("".join))))
def test_extensions_split_from_distinct_values_are_those_split_row_by_row(
    phones: list[str | None],
) -> None:
    frame = pl.DataFrame({"p": phones}, schema={"p": pl.String})
    assert split_extension(frame, "p").equals(frame.with_columns(every_row("p")))
