"""What a valid customer is: pandera (polars) schemas for the Customer API and for 3-D Secure.

Each check's name is the reason a rejected row carries, so ``rejects.csv`` reads as
``billing.city, longer than 28 characters``. Reasons never quote the offending value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.errors import SchemaErrors

from schemas.api_fields import REQUEST_FIELDS, ApiField
from schemas.countries import COUNTRY_CODES, NO_POSTAL_CODE, STATE_REQUIRED
from schemas.emails import VALID_SUFFIX
from schemas.mapping import EXTERNAL_ID
from schemas.normalize import PHONE_COLUMNS, STATE_VALID, Profile
from schemas.phones import E164_SUFFIX
from schemas.spreadsheet import FORMULA_START, REASON_FORMULA_ID

ROW_ID = "__pos"

REASON_REQUIRED = "required"
REASON_DUPLICATE = "duplicate"
REASON_3DS_REQUIRED = "required for 3-D Secure"
REASON_NAMES = "required when billing.first_name and billing.last_name are not both given"

PATTERN_REASONS = {
    "phone": "only digits, spaces and + - ( ) . allowed",
    "title": "only letters, spaces, - and . allowed",
    "tax": "only digits allowed",
}

THREEDS_REQUIRED = (
    "email_address",
    "billing.first_name",
    "billing.last_name",
    "billing.address_1",
    "billing.city",
    "billing.country_code",
)


# A row's test of one check: ``test(column)`` is True where the row passes. Every check here is
# of one row at a time, so pandera is given only the rows and columns some test fails
# (``find_failures``).
RowTest = Callable[[str], pl.Expr]


def _row_check(test: RowTest, name: str) -> pa.Check:
    def check(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(test(data.key))

    made = pa.Check(check, name=name)
    made.row_test = test  # type: ignore[attr-defined]  # the same test, for all rows at once
    return made


def _marker_check(marker: str, name: str) -> pa.Check:
    """Passes where the value is absent or the normaliser's marker column says it is valid."""
    return _row_check(lambda key: pl.col(key).is_null() | pl.col(marker).fill_null(False), name)


def _expression_check(expression: pl.Expr, name: str) -> pa.Check:
    return _row_check(lambda _: expression, name)


def _value_check(test: Callable[[pl.Expr], pl.Expr], name: str) -> pa.Check:
    """A vectorised check of a column's present values (absent values pass)."""
    return _row_check(lambda key: pl.col(key).is_null() | test(pl.col(key)), name)


def _field_checks(spec: ApiField) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if spec.max_length is not None:
        limit = spec.max_length
        checks.append(
            _value_check(lambda v: v.str.len_chars() <= limit, f"longer than {limit} characters")
        )
    if spec.kind in PATTERN_REASONS and spec.pattern:
        pattern = spec.pattern
        checks.append(_value_check(lambda v: v.str.contains(pattern), PATTERN_REASONS[spec.kind]))
    elif spec.kind == "email":
        checks.append(_marker_check(spec.path + VALID_SUFFIX, "not a valid e-mail address"))
    elif spec.kind == "country":
        codes = sorted(COUNTRY_CODES)
        checks.append(
            _value_check(lambda v: v.is_in(codes), "not a country name or ISO 3166-1 code")
        )
    return checks


def _names_or_company() -> pa.Check:
    has_names = (
        pl.col("billing.first_name").is_not_null() & pl.col("billing.last_name").is_not_null()
    )
    return _expression_check(pl.col("company_name").is_not_null() | has_names, REASON_NAMES)


@cache
def api_schema(entity_required: bool) -> pa.DataFrameSchema:
    """Every rule of the Customer API reference (CustomerRequest)."""
    no_formula = _value_check(lambda v: ~v.str.contains(FORMULA_START), REASON_FORMULA_ID)
    columns: dict[str, pa.Column] = {EXTERNAL_ID: pa.Column(str, [no_formula], nullable=False)}
    for spec in REQUEST_FIELDS:
        checks = _field_checks(spec)
        if spec.path == "company_name":
            checks.append(_names_or_company())
        nullable = not (spec.path == "entity_id" and entity_required)
        columns[spec.path] = pa.Column(str, checks, nullable=nullable)
    return pa.DataFrameSchema(columns, name="customer-api")


@cache
def threeds_schema(profile: Profile) -> pa.DataFrameSchema:
    """The 3-D Secure requirements on top of the API's (reference: '3-D Secure')."""
    country = pl.col("billing.country_code")
    columns: dict[str, pa.Column] = {
        path: pa.Column(
            str, [_expression_check(pl.col(path).is_not_null(), REASON_3DS_REQUIRED)], nullable=True
        )
        for path in THREEDS_REQUIRED
    }
    postal_needed = country.is_null() | ~country.is_in(sorted(NO_POSTAL_CODE))
    columns["billing.postal_code"] = pa.Column(
        str,
        [
            _expression_check(
                pl.col("billing.postal_code").is_not_null() | ~postal_needed, REASON_3DS_REQUIRED
            )
        ],
        nullable=True,
    )
    state_needed = country.is_in(sorted(STATE_REQUIRED)).fill_null(False)
    columns["billing.state"] = pa.Column(
        str,
        [
            _expression_check(
                ~state_needed | pl.col(STATE_VALID).fill_null(False),
                "an ISO 3166-2 subdivision is required for 3-D Secure in US, CA and CN",
            )
        ],
        nullable=True,
    )
    if profile == "3ds":
        for path in PHONE_COLUMNS:
            columns[path] = pa.Column(
                str,
                [_marker_check(path + E164_SUFFIX, "cannot be made E.164 with the country given")],
                nullable=True,
            )
    return pa.DataFrameSchema(columns, name="3-d-secure")


@dataclass(frozen=True)
class Failures:
    """Rows that failed a schema: ``__pos`` (position in the frame), ``field``, ``reason``."""

    frame: pl.DataFrame

    @property
    def positions(self) -> pl.Series:
        """Distinct failed row positions."""
        return self.frame.get_column(ROW_ID).unique()


def find_failures(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> Failures:
    """Every (row, field, reason) the schema finds in ``frame`` (validated whole, lazily).

    The checks' own row tests run first, every one in one pass; pandera then validates only
    the rows and columns some test failed, and reports them as ever. Its cost is per check
    and per call, whatever the rows: validating every column of every row, most with nothing
    wrong, was a large share of a 1M-row dry run (bench/RESULTS.md). Each check is of
    one row, so the failures are the same (property-tested against pandera on whole frames)."""
    empty = pl.DataFrame(schema={ROW_ID: pl.UInt32, "field": pl.String, "reason": pl.String})
    tests = _column_tests(schema)
    if tests is None:  # a check of another kind: pandera sees everything
        suspect, columns = pl.Series([True] * frame.height), list(schema.columns)
    else:
        failing = frame.select(~test.fill_null(False) for test in tests.values())
        columns = [
            name for name, bad in zip(tests, failing.iter_columns(), strict=True) if bad.any()
        ]
        if not columns:
            return Failures(empty)
        suspect = failing.select(pl.any_horizontal(columns)).to_series()
    positions = suspect.arg_true().cast(pl.UInt32)
    try:
        _narrowed(schema, tuple(columns)).validate(frame.filter(suspect), lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        unplaced = cases.filter(pl.col("index").is_null())
        if unplaced.height:
            # A check that could not run at all (a schema bug), not a row's fault: say so loudly.
            first = unplaced.row(0, named=True)
            raise RuntimeError(
                f"schema check {first['check']!r} failed to run on {first['column']}"
            ) from errors
        reasons = cases.select(
            pl.col("index").cast(pl.UInt32).alias(ROW_ID),
            pl.col("column").alias("field"),
            pl.when(pl.col("check") == "not_nullable")
            .then(pl.lit(REASON_REQUIRED))
            .otherwise(pl.col("check"))
            .alias("reason"),
        )
        # A position among the rows validated -> its position in ``frame``.
        reasons = reasons.with_columns(positions.gather(reasons.get_column(ROW_ID)).alias(ROW_ID))
        return Failures(pl.concat([empty, reasons]).unique(maintain_order=True))
    return Failures(empty)


def _column_tests(schema: pa.DataFrameSchema) -> dict[str, pl.Expr] | None:
    """Per column: True where a row passes all its checks (nullability included); None when
    a check has no row test."""
    tests: dict[str, pl.Expr] = {}
    for name, column in schema.columns.items():
        passes = [] if column.nullable else [pl.col(name).is_not_null()]
        for check in column.checks:
            row_test: RowTest | None = getattr(check, "row_test", None)
            if row_test is None:
                return None
            passes.append(row_test(name))
        if passes:
            tests[name] = pl.all_horizontal(passes).alias(name)
    return tests


_NARROWED: dict[tuple[int, tuple[str, ...]], pa.DataFrameSchema] = {}


def _narrowed(schema: pa.DataFrameSchema, columns: tuple[str, ...]) -> pa.DataFrameSchema:
    """``schema`` with only ``columns`` (made once per set: the schemas live for the process)."""
    key = (id(schema), columns)
    if key not in _NARROWED:
        _NARROWED[key] = schema.select_columns(list(columns))
    return _NARROWED[key]
