"""Phones: repaired without guessing; E.164 from the billing country where it is valid."""

from __future__ import annotations

import polars as pl

from schemas.phones import e164_column, repair_phone, to_e164


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
