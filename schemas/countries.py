"""Country and subdivision lookup tables, joined in polars.

Countries by every name CLDR and ISO 3166 give them (``schemas/country_names.py``), plus a short
list of unambiguous forms people type (ALIASES), all compared folded: accents, case and
punctuation aside. No fuzzy matching: a country that is not found, or a name that means two, is
rejected, never guessed. States of the countries where 3-D Secure needs one, by code or name.
"""

from __future__ import annotations

from functools import cache

import polars as pl
import pycountry

from schemas.country_names import country_names, fold

# Unambiguous everyday names ISO does not list. Each means exactly one alpha-2 code.
ALIASES: dict[str, str] = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "united states of america": "US",
    "america": "US",
    "russia": "RU",
    "turkey": "TR",
    "czech republic": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "south korea": "KR",
    "korea, south": "KR",
    "north korea": "KP",
    "ivory coast": "CI",
    "vatican": "VA",
    "vatican city": "VA",
    "macedonia": "MK",
    "swaziland": "SZ",
    "burma": "MM",
    # Countries' own names, as CRMs of local sales teams hold them.
    "deutschland": "DE",
    "österreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "españa": "ES",
    "italia": "IT",
    "nederland": "NL",
    "belgië": "BE",
    "belgique": "BE",
    "belgien": "BE",
    "luxemburg": "LU",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "ísland": "IS",
    "éire": "IE",
    "polska": "PL",
    "česko": "CZ",
    "česká republika": "CZ",
    "slovensko": "SK",
    "slovenija": "SI",
    "hrvatska": "HR",
    "magyarország": "HU",
    "românia": "RO",
    "българия": "BG",
    "ελλάδα": "GR",
    "eesti": "EE",
    "latvija": "LV",
    "lietuva": "LT",
    "türkiye": "TR",
    "brasil": "BR",
    "méxico": "MX",
    "aotearoa": "NZ",
}

# Countries that use no postal code: 3-D Secure does not require one there.
NO_POSTAL_CODE: frozenset[str] = frozenset(
    {
        "AE",
        "AG",
        "AO",
        "AW",
        "BF",
        "BI",
        "BJ",
        "BO",
        "BS",
        "BW",
        "BZ",
        "CD",
        "CF",
        "CG",
        "CI",
        "CK",
        "CM",
        "DJ",
        "DM",
        "ER",
        "FJ",
        "GA",
        "GD",
        "GH",
        "GM",
        "GQ",
        "GY",
        "HK",
        "KI",
        "KM",
        "KN",
        "KP",
        "LY",
        "ML",
        "MO",
        "MR",
        "MW",
        "NR",
        "NU",
        "QA",
        "RW",
        "SB",
        "SC",
        "SL",
        "SR",
        "SS",
        "ST",
        "SY",
        "TD",
        "TF",
        "TG",
        "TK",
        "TL",
        "TO",
        "TV",
        "UG",
        "VU",
        "YE",
        "ZW",
    }
)

# Countries whose postal codes are all digits, of this many, some with leading zeros: a code
# one or two digits short there lost them to a spreadsheet. (ZIP+4 extensions are kept.)
POSTAL_DIGITS: dict[str, int] = {
    "US": 5, "PR": 5, "DE": 5, "FR": 5, "IT": 5, "ES": 5, "FI": 5, "MX": 5, "TR": 5, "MY": 5,
    "NO": 4, "AU": 4, "NZ": 4,
}  # fmt: skip

# Where 3-D Secure needs billing.state (ISO 3166-2 subdivision code without the country prefix).
STATE_REQUIRED: frozenset[str] = frozenset({"US", "CA", "CN"})

CN_TYPE_SUFFIXES = (" Sheng", " Shi", " Zizhiqu", " Tebiexingzhengqu")

COUNTRY_CODES: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries)


def country_table() -> pl.DataFrame:
    """``key`` (a folded name or code) -> ``alpha_2``: every name CLDR, ISO 3166 and its former
    names give a country, and ALIASES (``schemas/country_names.py`` builds it)."""
    return country_names()


@cache
def subdivision_table() -> pl.DataFrame:
    """``country``, ``key`` (code with or without prefix, or name) -> ``state`` code (no prefix).

    Covers the countries where 3-D Secure requires a state.
    """
    rows: dict[tuple[str, str], str] = {}
    for country in sorted(STATE_REQUIRED):
        for sub in pycountry.subdivisions.get(country_code=country) or []:  # type: ignore[no-untyped-call]
            short = sub.code.split("-", 1)[1]
            # CN names carry their type in pinyin ("Beijing Shi"): the bare name is unambiguous.
            bare = sub.name.rsplit(" ", 1)[0] if sub.name.endswith(CN_TYPE_SUFFIXES) else None
            for name in (short, sub.code, sub.name, bare):
                if name is None:
                    continue
                rows.setdefault((country, fold(name)), short)
    return pl.DataFrame(
        {
            "country": [k[0] for k in rows],
            "key": [k[1] for k in rows],
            "state": list(rows.values()),
        },
        schema={"country": pl.String, "key": pl.String, "state": pl.String},
    )
