"""Claim: looking countries up by every CLDR name, folded (accents, case, punctuation), costs
the hot path nothing beside the lowercase exact match it replaced, because each distinct
spelling is folded once per batch, not once per row.

    uv run python bench/country_lookup.py [--rows 200000]

Times ``normalize_customers`` on one batch of a Salesforce-style export, best of 5, with the
country step done three ways: folded once per value (custsync), lowercased per row (before),
folded per row.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

import schemas.normalize as normalize
from bench.exports import write_salesforce_csv
from connectors.sources.export_files import ReadOptions, opening
from connectors.sources.mapping_file import load_mapping
from schemas.countries import country_table
from schemas.country_names import fold_expr

ROOT = Path(__file__).parents[1]


def lowercased_per_row(frame: pl.DataFrame, column: str) -> pl.Expr:
    table = country_table()
    key = pl.col(column).str.to_lowercase()
    found = key.replace_strict(table["key"], table["alpha_2"], default=None, return_dtype=pl.String)
    return pl.coalesce(found, pl.col(column)).alias(column)


def folded_per_row(frame: pl.DataFrame, column: str) -> pl.Expr:
    table = country_table()
    found = fold_expr(pl.col(column)).replace_strict(
        table["key"], table["alpha_2"], default=None, return_dtype=pl.String
    )
    return pl.coalesce(found, pl.col(column)).alias(column)


def best_of(batch: pl.DataFrame, country: Callable[[pl.DataFrame, str], pl.Expr]) -> float:
    original = normalize._country
    normalize._country = country
    try:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            normalize.normalize_customers(batch)
            times.append(time.perf_counter() - started)
        return min(times)
    finally:
        normalize._country = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        write_salesforce_csv(path, args.rows)
        mapping = load_mapping(ROOT / "data" / "mappings" / "salesforce.toml")
        with opening([path], mapping, ReadOptions()) as export:
            batch = export.collect()
    ways = [("folded once per value (custsync)", normalize._country),
            ("lowercased per row (before)", lowercased_per_row),
            ("folded per row", folded_per_row)]  # fmt: skip
    print(f"normalize_customers on {args.rows:,} rows, best of 5:")
    for name, way in ways:
        print(f"  {name:36} {best_of(batch, way) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
