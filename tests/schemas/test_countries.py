"""Countries and states by name or code: folded exact matches only, never a guess."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.countries import COUNTRY_CODES, subdivision_table
from tests.schemas.helpers import AMBIGUOUS, ONE_COUNTRY, alpha_2


def test_names_codes_and_numbers() -> None:
    for text, code in [("DE", "DE"), ("deu", "DE"), ("276", "DE"), ("Germany", "DE"),
                       ("  united   KINGDOM ", "GB"), ("36", "AU"), ("036", "AU")]:  # fmt: skip
        assert alpha_2(text) == code, text
    assert alpha_2("Narnia") is None
    assert len(COUNTRY_CODES) >= 249


def test_state_table_covers_the_3ds_countries() -> None:
    states = subdivision_table()
    assert {"US", "CA", "CN"} <= set(states.get_column("country").unique().to_list())
    ohio = states.filter((pl.col("country") == "US") & (pl.col("key") == "ohio"))
    assert ohio.item(0, "state") == "OH"


@pytest.mark.parametrize(("name", "code"), sorted(ONE_COUNTRY.items()))
def test_a_name_that_means_one_country_is_that_country(name: str, code: str) -> None:
    assert alpha_2(name) == code


@pytest.mark.parametrize("name", AMBIGUOUS)
def test_a_name_that_means_two_or_none_is_never_guessed(name: str) -> None:
    assert alpha_2(name) is None
