"""From read rows to valid customers and explained rejects: normalise, dedupe, check, judge 3DS."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandera.polars as pa
import polars as pl

from schemas.customer_schema import (
    REASON_DUPLICATE,
    REASON_NAMES,
    ROW_ID,
    THREEDS_REQUIRED,
    api_schema,
    find_failures,
    threeds_schema,
)
from schemas.mapping import ADDRESS_LINES, EXTERNAL_ID, FULL_NAMES
from schemas.normalize import (
    API_COLUMNS,
    LINES_PROBLEM,
    NAME_SPLIT,
    PHONE_COLUMNS,
    Profile,
    clean_text,
    normalize_customers,
)
from schemas.phones import EXTENSION_SUFFIX

FILE = "__file"
ROW = "__row"
RAGGED = "__ragged"
SEQ = "__seq"  # position in the whole export (every file, in order)
LEFT_OUT = "__left_out"  # the fields of a valid row left out of its payload (list)
KEPT_ROW, KEPT_FILE = "__kept_row", "__kept_file"  # where a duplicate's external id is kept
REJECTED, LEFT_OUT_ACTION = "rejected", "left_out"  # rejects.csv's ``action``
REJECT_COLUMNS = {
    EXTERNAL_ID: pl.String,
    "row": pl.Int64,
    "field": pl.String,
    "reason": pl.String,
    "file": pl.String,
    "action": pl.String,
}
REASON_EXTENSION = "extension left out: the API has no field for it (the number is sent)"
REASON_NAME_GUESS = "first and last names split from a full name are a guess (--strict)"
# Fields without which there is no customer: a problem there rejects the row whatever the policy.
ROW_FIELDS = frozenset({EXTERNAL_ID, "entity_id"})


@dataclass
class ValidationResult:
    """Valid customers (normalised), one reject line per problem, and 3-D Secure readiness."""

    valid: pl.DataFrame
    rejects: pl.DataFrame
    rows_read: int
    rows_rejected: int
    threeds_ready: int
    values_left_out: int = 0
    names_split: int = 0  # valid customers whose names were split from a full name
    threeds_problems: dict[str, int] = field(default_factory=dict)
    threeds_not_ready_by_country: dict[str, int] = field(default_factory=dict)

    @property
    def rows_valid(self) -> int:
        """Rows that passed every check of the profile (duplicates and rejects excluded)."""
        return self.valid.height


@dataclass
class ValidationTotals:
    """Counts over every batch of a run: a large export's rejects are written out, not kept."""

    rows_read: int = 0
    rows_valid: int = 0
    threeds_ready: int = 0
    values_left_out: int = 0
    names_split: int = 0
    threeds_problems: Counter[str] = field(default_factory=Counter)
    threeds_not_ready_by_country: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)
    field_reasons: Counter[str] = field(default_factory=Counter)
    # "field: reason" -> the first external id with that problem: a row to find in the CRM.
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        """Rows read that are not valid (duplicates included)."""
        return self.rows_read - self.rows_valid

    def add(self, result: ValidationResult) -> None:
        """Count one batch in."""
        self.rows_read += result.rows_read
        self.rows_valid += result.rows_valid
        self.values_left_out += result.values_left_out
        self.names_split += result.names_split
        self.threeds_ready += result.threeds_ready
        self.threeds_problems.update(result.threeds_problems)
        self.threeds_not_ready_by_country.update(result.threeds_not_ready_by_country)
        field = pl.col("field").replace("", None).fill_null("(row)")
        kind = reason_kind(pl.col("reason")).alias("reason")
        lines = result.rejects.select(field.alias("field"), kind)
        self.reasons.update(dict(lines.group_by("reason").len().iter_rows()))
        self.fields.update(dict(lines.group_by("field").len().iter_rows()))
        pairs = result.rejects.select(
            pl.format("{}: {}", field, kind).alias("pair"), pl.col(EXTERNAL_ID)
        )
        self.field_reasons.update(dict(pairs.group_by("pair").len().iter_rows()))
        first = pairs.drop_nulls(EXTERNAL_ID).group_by("pair", maintain_order=True).first()
        for pair, external_id in first.iter_rows():
            self.examples.setdefault(pair, external_id)


def reason_kind(reason: pl.Expr) -> pl.Expr:
    """A reason as problems are counted: a duplicate's names the row kept, the count does not."""
    duplicate = reason.str.starts_with(REASON_DUPLICATE)
    return pl.when(duplicate).then(pl.lit(REASON_DUPLICATE)).otherwise(reason)


def _reject_lines(
    rows: pl.DataFrame, failures: pl.DataFrame, action: str = REJECTED
) -> pl.DataFrame:
    lines = failures.join(rows.select(ROW_ID, EXTERNAL_ID, ROW, FILE), on=ROW_ID, how="inner")
    return lines.select(
        pl.col(EXTERNAL_ID),
        pl.col(ROW).cast(pl.Int64).alias("row"),
        pl.col("field"),
        pl.col("reason"),
        pl.col(FILE).alias("file"),
        pl.lit(action).alias("action"),
    )


def _leave_out(
    candidates: pl.DataFrame, failures: pl.DataFrame, row_level: pl.Expr
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Apply the field policy: a value breaking a rule of a field the customer does not need is
    left out (the field set to null, its name kept in LEFT_OUT); a row with a problem in a
    field it needs is rejected. Returns the rows with values left out, the failures that reject
    a row, and the failures that only left a value out."""
    rejecting = failures.filter(row_level)
    rejected = rejecting.get_column(ROW_ID).unique()
    optional = failures.filter(~row_level & ~pl.col(ROW_ID).is_in(rejected.implode()))
    per_row = optional.group_by(ROW_ID).agg(pl.col("field").unique().sort().alias(LEFT_OUT))
    rows = candidates.join(per_row, on=ROW_ID, how="left", maintain_order="left")
    nulled = [
        pl.when(pl.col(LEFT_OUT).list.contains(field))
        .then(None)
        .otherwise(pl.col(field))
        .alias(field)
        for field in optional.get_column("field").unique().to_list()
    ]
    rows = rows.with_columns(nulled).with_columns(
        pl.col(LEFT_OUT).fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
    return rows, failures.filter(pl.col(ROW_ID).is_in(rejected.implode())), optional


def _failures_by_row_id(schema: pa.DataFrameSchema, rows: pl.DataFrame) -> pl.DataFrame:
    """``find_failures`` of a subset of rows, placed by their ROW_ID (pandera places a failure
    by its position in the frame it was given)."""
    if not rows.height:  # a pandera pass costs as much over no rows as over a few
        return pl.DataFrame(schema={ROW_ID: pl.UInt32, "field": pl.String, "reason": pl.String})
    failures = find_failures(schema, rows.drop(ROW_ID)).frame
    ids = rows.select(pl.col(ROW_ID).alias("__id")).with_row_index("__position")
    placed = failures.join(ids, left_on=ROW_ID, right_on="__position", how="inner")
    return placed.select(pl.col("__id").alias(ROW_ID), "field", "reason")


def _extensions(rows: pl.DataFrame) -> pl.DataFrame:
    """A line for each phone of ``rows`` whose extension was split off (normalize)."""
    found = [
        rows.filter(pl.col(column + EXTENSION_SUFFIX)).select(
            ROW_ID, pl.lit(column).alias("field"), pl.lit(REASON_EXTENSION).alias("reason")
        )
        for column in PHONE_COLUMNS
    ]
    empty = pl.DataFrame(schema={ROW_ID: pl.UInt32, "field": pl.String, "reason": pl.String})
    return pl.concat([empty, *found])


def _marked(
    rows: pl.DataFrame, fields: dict[str, str], marker: str, reason: str | None
) -> pl.DataFrame:
    """A line for each row a source-only field's ``marker`` flags: its reason (``reason``, or
    the marker's own text)."""
    empty = pl.DataFrame(schema={ROW_ID: pl.UInt32, "field": pl.String, "reason": pl.String})
    found = []
    for source_field in fields:
        column = source_field + marker
        if column not in rows.columns:
            continue
        flagged = rows.filter(
            pl.col(column) if reason is not None else pl.col(column).is_not_null()
        )
        said = pl.lit(reason) if reason is not None else pl.col(column)
        found.append(
            flagged.select(ROW_ID, pl.lit(source_field).alias("field"), said.alias("reason"))
        )
    return pl.concat([empty, *found])


def _duplicate_reason(duplicates: pl.DataFrame) -> pl.Expr:
    """``duplicate: row 44 kept (the last of this external id)``, the file named when it is
    another; plain ``duplicate`` where the row kept is not known."""
    if KEPT_ROW not in duplicates.columns:
        return pl.lit(REASON_DUPLICATE)
    elsewhere = pl.col(KEPT_FILE).is_not_null() & (pl.col(KEPT_FILE) != pl.col(FILE))
    where = pl.when(elsewhere).then(pl.format(" of {}", pl.col(KEPT_FILE))).otherwise(pl.lit(""))
    named = pl.format("{}: row {}{} kept (the last of this external id)",
                      pl.lit(REASON_DUPLICATE), pl.col(KEPT_ROW), where)  # fmt: skip
    return pl.when(pl.col(KEPT_ROW).is_not_null()).then(named).otherwise(pl.lit(REASON_DUPLICATE))


def validate_customers(
    frame: pl.DataFrame,
    profile: Profile = "api",
    entity_required: bool = False,
    superseded_rows: pl.Series | None = None,
    strict: bool = False,
    kept_rows: pl.DataFrame | None = None,
) -> ValidationResult:
    """Validate rows read from exports: ``__file``, ``__row``, ``__ragged``, ``external_id`` and
    every API column (String, null where absent).

    ``superseded_rows``: when ``frame`` is one batch of a larger export, the ``__seq`` of rows a
    later row of the same external id supersedes (``Census.superseded``); without it, duplicates
    are found within ``frame``; ``kept_rows`` (``Census.kept``): for each, the row kept in its
    place (the last of its external id), which its reject line names.

    The field policy: a value that breaks a rule of a field the customer does not need is left
    out and reported (``action`` left_out), the customer still made; the row is rejected only
    when what remains cannot make a customer (no external id or entity, neither a company nor
    both names; under the 3ds profile a 3-D Secure field too). ``strict``: any problem rejects
    the row."""
    rows_read = frame.height
    frame = normalize_customers(frame, profile).with_row_index(ROW_ID)
    ragged = frame.filter(pl.col(RAGGED).is_not_null())
    frame = frame.filter(pl.col(RAGGED).is_null())
    keyed = pl.col(EXTERNAL_ID).is_not_null()
    # Last occurrence wins: earlier rows of the same external id are rejected as duplicates.
    superseded = (
        keyed & ~pl.col(EXTERNAL_ID).is_last_distinct()
        if superseded_rows is None
        else pl.col(SEQ).is_in(superseded_rows.implode())
    )
    if superseded_rows is None:  # the last of each external id in this frame is kept
        last = pl.col(ROW).last().over(EXTERNAL_ID)
        frame = frame.with_columns(last.alias(KEPT_ROW), pl.col(FILE).last().over(EXTERNAL_ID)
                                   .alias(KEPT_FILE))  # fmt: skip
    duplicates = frame.filter(superseded)
    if kept_rows is not None and superseded_rows is not None and duplicates.height:
        duplicates = duplicates.join(kept_rows, on=SEQ, how="left", maintain_order="left")
    candidates = frame.filter(~superseded).drop(ROW_ID).with_row_index(ROW_ID)

    schema = api_schema(entity_required)
    first = find_failures(schema, candidates).frame
    needed = pl.col("field").is_in(sorted(ROW_FIELDS)) | (pl.col("reason") == REASON_NAMES)
    if profile == "3ds":
        needed = needed | pl.col("field").is_in(THREEDS_REQUIRED)
    row_level = pl.lit(True) if strict else needed
    candidates, rejecting, left_out = _leave_out(candidates, first, row_level)
    # What remains must still make a customer: a name left out may leave neither names nor a
    # company. Those rows are rejected, with every problem they had.
    kept = candidates.filter(~pl.col(ROW_ID).is_in(rejecting.get_column(ROW_ID).implode()))
    # Only rows with a value left out can have changed: the rest passed already.
    second = _failures_by_row_id(schema, kept.filter(pl.col(LEFT_OUT).list.len() > 0))
    broken = second.get_column(ROW_ID).unique().implode()
    rejecting = pl.concat([rejecting, left_out.filter(pl.col(ROW_ID).is_in(broken)), second])
    left_out = left_out.filter(~pl.col(ROW_ID).is_in(broken))
    valid = kept.filter(~pl.col(ROW_ID).is_in(broken))
    extensions = _extensions(valid)
    # Address lines a mapping's address_lines left out whole (too many, one too long).
    street_lines = _marked(valid, ADDRESS_LINES, LINES_PROBLEM, None)
    if strict:  # as before the policy: a phone with an extension is an invalid phone
        guessed = _marked(valid, FULL_NAMES, NAME_SPLIT, REASON_NAME_GUESS)
        refused = pl.concat([extensions, street_lines, guessed])
        rejecting = pl.concat([rejecting, refused])
        valid = valid.filter(~pl.col(ROW_ID).is_in(refused.get_column(ROW_ID).implode()))
    else:
        left_out = pl.concat([left_out, extensions, street_lines])
    valid = valid.drop(ROW_ID).with_row_index(ROW_ID)
    threeds_failures = find_failures(threeds_schema(profile), valid)
    not_ready = valid.filter(pl.col(ROW_ID).is_in(threeds_failures.positions.implode()))

    lines = [
        _reject_lines(
            ragged, ragged.select(ROW_ID, pl.lit("").alias("field"), pl.col(RAGGED).alias("reason"))
        ),
        _reject_lines(
            duplicates,
            duplicates.select(
                ROW_ID,
                pl.lit(EXTERNAL_ID).alias("field"),
                _duplicate_reason(duplicates).alias("reason"),
            ),
        ),
        _reject_lines(candidates, rejecting),
        _reject_lines(candidates, left_out, LEFT_OUT_ACTION),
    ]
    if profile == "3ds":
        lines.append(_reject_lines(valid, threeds_failures.frame))
        valid = valid.filter(~pl.col(ROW_ID).is_in(threeds_failures.positions.implode()))
    rejects = pl.concat([pl.DataFrame(schema=REJECT_COLUMNS), *lines], how="vertical")
    rejects = rejects.sort("file", "row", maintain_order=True)
    problem_counts = threeds_failures.frame.group_by("field").len().sort("field")
    by_country = (
        not_ready.group_by(pl.col("billing.country_code").fill_null("(none)")).len().sort("len")
    )
    split = [c + NAME_SPLIT for c in FULL_NAMES if c + NAME_SPLIT in valid.columns]
    names_split = valid.select(pl.any_horizontal(split).sum()).item() if split else 0
    return ValidationResult(
        valid=valid.select(FILE, ROW, EXTERNAL_ID, *API_COLUMNS, LEFT_OUT),
        names_split=int(names_split or 0),
        rejects=rejects,
        rows_read=rows_read,
        rows_rejected=rows_read - valid.height,
        values_left_out=left_out.height,
        threeds_ready=valid.height if profile == "3ds" else valid.height - not_ready.height,
        threeds_problems=dict(problem_counts.iter_rows()),
        threeds_not_ready_by_country=dict(by_country.iter_rows()),
    )


@dataclass
class Census:
    """What one pass over the external ids of a whole export tells before any batch is sent."""

    rows: int
    superseded: pl.Series  # __seq of rows a later row of the same external id supersedes
    entities: list[str]  # distinct entity ids of the rows (the default filling the blanks)
    id_hashes: pl.Series | None  # hash of every external id present (rejected rows included)
    # --match-on: the match keys several external ids share, with how many (match_key_hash)
    shared_matches: pl.DataFrame | None = None
    # For each superseded row (__seq): the row kept in its place (KEPT_ROW, KEPT_FILE).
    kept: pl.DataFrame | None = None


def id_hash(column: pl.Expr) -> pl.Expr:
    """A 64-bit hash of an external id, stable within one process (compared in memory only)."""
    return column.hash(seed=0x63757374)


def match_key(field: str) -> pl.Expr:
    """A --match-on field as matches are compared: ignoring case and outer spaces."""
    return pl.col(field).cast(pl.String).str.strip_chars().str.to_lowercase()


def match_key_hash(fields: tuple[str, ...]) -> pl.Expr:
    """One 64-bit hash of a row's match keys (null when any is empty), within one process."""
    keys = [match_key(field) for field in fields]
    complete = pl.all_horizontal([key.is_not_null() & (key != "") for key in keys])
    joined = pl.concat_str(keys, separator="\x1f").hash(seed=0x6D61746368)
    return pl.when(complete).then(joined).otherwise(None)


def shared_match_keys(export: pl.LazyFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """The match keys that several distinct external ids of the whole export carry, and how
    many: rows in different batches that match one customer must not adopt it either."""
    return (
        export.select(clean_text(EXTERNAL_ID).alias(EXTERNAL_ID), match_key_hash(fields).alias("k"))
        .drop_nulls()
        .group_by("k")
        .agg(pl.col(EXTERNAL_ID).n_unique().cast(pl.UInt32).alias("n"))
        .filter(pl.col("n") > 1)
        .collect(engine="streaming")
    )


def take_census(
    export: pl.LazyFrame,
    default_entity: str | None,
    keep_id_hashes: bool = False,
    match_on: tuple[str, ...] = (),
) -> Census:
    """Rows, duplicates, entities (and, for deletions, every id present) of a whole export.

    Streamed, and near 13 bytes a row: ids are compared by a 64-bit hash first (duplicates found
    by sorting the hashes, which needs no hash table), and only rows whose hash repeats are read
    again to compare the ids themselves, so a collision never rejects a row."""
    key = clean_text(EXTERNAL_ID)
    entity = clean_text("entity_id")
    if default_entity is not None:
        entity = entity.fill_null(pl.lit(default_entity))
    # One pass over the export for ids and entities (not a second read of it).
    # Entities travel as Categorical: a few distinct values, 4 bytes a row.
    ids = (
        export.select(pl.col(SEQ), pl.col(RAGGED).is_not_null().alias("__ragged_row"), key, entity)
        .select(
            SEQ,
            "__ragged_row",
            pl.when(pl.col(EXTERNAL_ID).is_not_null())
            .then(id_hash(pl.col(EXTERNAL_ID)))
            .alias("h"),
            pl.col("entity_id").cast(pl.Categorical),
        )
        .collect(engine="streaming")
    )
    entities = ids.get_column("entity_id").drop_nulls().unique().cast(pl.String)
    ids = ids.drop("entity_id")
    hashes = ids.filter(~pl.col("__ragged_row")).get_column("h").drop_nulls().sort()
    repeated = hashes.filter(hashes == hashes.shift(1)).unique()
    superseded = pl.Series(SEQ, [], dtype=pl.UInt32)
    kept = None
    if repeated.len():
        candidates = ids.filter(~pl.col("__ragged_row") & pl.col("h").is_in(repeated.implode()))
        repeats = (
            export.filter(pl.col(SEQ).is_in(candidates.get_column(SEQ).implode()))
            .select(SEQ, key.alias(EXTERNAL_ID), FILE, ROW)
            .collect(engine="streaming")
            .sort(SEQ)
            .with_columns(
                pl.col(ROW).last().over(EXTERNAL_ID).alias(KEPT_ROW),
                pl.col(FILE).last().over(EXTERNAL_ID).alias(KEPT_FILE),
            )
            .filter(~pl.col(EXTERNAL_ID).is_last_distinct())
        )
        superseded = repeats.get_column(SEQ)
        kept = repeats.select(SEQ, KEPT_ROW, KEPT_FILE)
    return Census(
        rows=ids.height,
        superseded=superseded,
        entities=sorted(entities.to_list()),
        id_hashes=ids.get_column("h").drop_nulls() if keep_id_hashes else None,
        shared_matches=shared_match_keys(export, match_on) if match_on else None,
        kept=kept,
    )
