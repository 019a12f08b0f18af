"""The folded names of every country: the polars fold is the Python one, and the shipped table
is what Babel and pycountry give today."""

from __future__ import annotations

import pytest

from schemas.countries import COUNTRY_CODES
from schemas.normalize import normalize_customers
from tests.schemas.helpers import AMBIGUOUS, ONE_COUNTRY, alpha_2, customer_frame, person


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
