"""Countries and states by name or code: folded exact matches only, never a guess."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.countries import COUNTRY_CODES, country_table, subdivision_table
from schemas.country_names import fold
from schemas.normalize import normalize_customers
from tests.schemas.conftest import customer_frame, person


def alpha_2(text: str) -> str | None:
    found = country_table().filter(pl.col("key") == fold(text))
    return found.item(0, "alpha_2") if found.height else None


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


@pytest.mark.parametrize(("name", "code"), sorted(ONE_COUNTRY.items()))
def test_a_name_that_means_one_country_is_that_country(name: str, code: str) -> None:
    assert alpha_2(name) == code


@pytest.mark.parametrize("name", AMBIGUOUS)
def test_a_name_that_means_two_or_none_is_never_guessed(name: str) -> None:
    assert alpha_2(name) is None


def test_the_polars_fold_is_the_python_fold() -> None:
    names = [*ONE_COUNTRY, *AMBIGUOUS, "  Saint   Lucia ", "Trinidad & Tobago", "a_b", ""]
    rows = [person(f"C{n}", billing__country_code=name) for n, name in enumerate(names)]
    normalised = normalize_customers(customer_frame(*rows), "api")
    got = normalised.get_column("billing.country_code").to_list()
    want = [ONE_COUNTRY.get(name) or alpha_2(name) or (name.strip() or None) for name in names]
    assert [g if g in COUNTRY_CODES else None for g in got] == [
        w if w in COUNTRY_CODES else None for w in want
    ]


def test_the_shipped_table_is_what_the_libraries_give_today() -> None:
    pytest.importorskip("babel")
    from schemas.countries import ALIASES
    from schemas.country_names import build, country_names

    fresh = build(ALIASES)
    shipped = dict(country_names().iter_rows())
    # Rebuild with `uv run python -m schemas.country_names` when this fails after an upgrade.
    assert shipped == fresh
