"""Every name a country goes by, folded to one key: built from CLDR (Babel), ISO 3166 (pycountry)
and ISO 3166-3's former names, shipped as a table (``country_names.tsv``), joined in polars.

A name is compared folded: accents dropped, case and punctuation ignored, ``&`` read as "and",
"Saint" as "St", a parenthesised aside at the end left out (``Slovakia (Slovak Republic)``).
A folded name that leads to two codes (``Korea``, ``Congo``, ``Virgin Islands``), or to a
territory that no longer exists (``Netherlands Antilles``, ``Yugoslavia``), is not in the table:
never guessed.

The table is built by ``python -m schemas.country_names`` (Babel is a development dependency:
loading every CLDR locale costs ~1 s, which no run should pay) and checked against a fresh build
by the tests, so it cannot drift from the libraries silently.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import polars as pl
import pycountry

NAMES_FILE = Path(__file__).with_name("country_names.tsv")
ASIDE = r"\s*\([^)]*\)\s*$"
# Former ISO 3166-1 short names (changed, code kept) and UN M49 names that neither CLDR nor
# pycountry lists; each means exactly one code.
FORMER_NAMES: dict[str, str] = {
    "Libyan Arab Jamahiriya": "LY",  # ISO 3166-1 until 2011
    "Palestinian Territory, Occupied": "PS",  # until 2013
    "Palestinian Territory": "PS",
    "Occupied Palestinian Territory": "PS",
    "Svalbard and Jan Mayen Islands": "SJ",  # UN M49
    "United States Virgin Islands": "VI",  # UN M49
    "British Virgin Islands": "VG",
    "Holy See (Vatican City State)": "VA",
}


def fold(text: str) -> str:
    """The key a country or state name is compared by (the same as ``fold_expr``)."""
    text = re.sub(ASIDE, "", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("&", " and ")
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(re.sub(r"\bsaint\b", "st", text).split())


def fold_expr(value: pl.Expr) -> pl.Expr:
    """``fold`` as a polars expression (no Python call per row)."""
    text = value.str.replace(ASIDE, "").str.normalize("NFKD").str.replace_all(r"\p{M}", "")
    text = text.str.to_lowercase().str.replace_all("&", " and ", literal=True)
    text = text.str.replace_all(r"[^\w]+", " ").str.replace_all(r"\bsaint\b", "st")
    return text.str.replace_all(r"\s+", " ").str.strip_chars(" ")


def _iso_names(country: object) -> Iterable[str]:
    """Pycountry's names of a country, and the two readings of a "Korea, Republic of" name."""
    for attribute in ("name", "official_name", "common_name"):
        name = getattr(country, attribute, None)
        if not name:
            continue
        yield name
        head, comma, tail = name.partition(", ")
        if comma:
            yield f"{tail} {head}"  # "Virgin Islands, U.S." -> "U.S. Virgin Islands"
            yield head  # "Palestine, State of" -> "Palestine" (dropped where it is ambiguous)


def build(aliases: dict[str, str]) -> dict[str, str]:
    """Folded name -> alpha-2, from every source; ambiguous names left out."""
    from babel import Locale, localedata

    codes = {c.alpha_2 for c in pycountry.countries}
    candidates: dict[str, set[str]] = {}

    def add(name: str, code: str) -> None:
        key = fold(name)
        if key:
            candidates.setdefault(key, set()).add(code)

    for ident in localedata.locale_identifiers():
        for code, name in Locale.parse(ident).territories.items():
            if code in codes:
                add(name, code)
    for country in pycountry.countries:
        for name in _iso_names(country):
            add(name, country.alpha_2)
    for name, code in {**FORMER_NAMES, **aliases}.items():
        add(name, code)
    for historic in pycountry.historic_countries:
        # ISO 3166-3: "TPTL East Timor" now TL; "ANHH Netherlands Antilles" split (HH): no one code.
        successor = historic.alpha_4[2:]
        add(historic.name, successor if successor in codes else "(dissolved)")
        for name in _iso_names(historic):
            add(name, successor if successor in codes else "(dissolved)")
    table = {key: next(iter(found)) for key, found in candidates.items() if len(found) == 1}
    # Codes are codes: "DE", "DEU", "276" and "36" mean their country whatever a name folds to.
    for country in pycountry.countries:
        for code in (country.alpha_2, country.alpha_3, country.numeric, str(int(country.numeric))):
            table[fold(code)] = country.alpha_2
    return {key: code for key, code in sorted(table.items()) if code in codes}


@cache
def country_names() -> pl.DataFrame:
    """The shipped table: ``key`` (folded name or code) -> ``alpha_2``."""
    return pl.read_csv(NAMES_FILE, separator="\t", schema={"key": pl.String, "alpha_2": pl.String})


def write(path: Path = NAMES_FILE) -> int:
    """Build the table and write it; returns its rows."""
    from schemas.countries import ALIASES

    table = build(ALIASES)
    frame = pl.DataFrame({"key": list(table), "alpha_2": list(table.values())})
    frame.write_csv(path, separator="\t")
    return frame.height


if __name__ == "__main__":
    print(f"{write():,} names written to {NAMES_FILE}", file=sys.stderr)
