"""Countries and states by name or code: exact matches only, never a guess."""

from __future__ import annotations

import polars as pl

from schemas.countries import COUNTRY_CODES, country_table, lookup_key, subdivision_table


def alpha_2(text: str) -> str | None:
    found = country_table().filter(pl.col("key") == lookup_key(text))
    return found.item(0, "alpha_2") if found.height else None


def test_names_codes_and_numbers() -> None:
    for text, code in [("DE", "DE"), ("deu", "DE"), ("276", "DE"), ("Germany", "DE"),
                       ("  united   KINGDOM ", "GB"), ("36", "AU"), ("036", "AU")]:  # fmt: skip
        assert alpha_2(text) == code, text
    assert alpha_2("Narnia") is None and alpha_2("Korea") is None  # unknown; ambiguous
    assert len(COUNTRY_CODES) >= 249


def test_state_table_covers_the_3ds_countries() -> None:
    states = subdivision_table()
    assert {"US", "CA", "CN"} <= set(states.get_column("country").unique().to_list())
    ohio = states.filter((pl.col("country") == "US") & (pl.col("key") == "ohio"))
    assert ohio.item(0, "state") == "OH"
