"""A run's exports: opened and checked up front, then read and validated batch by batch.

The batch loop that ``sync``, ``validate`` and ``backfill-3ds`` share: each batch of rows is
validated (the entity filled in where a row has none), its rejects written and counted, and
handed to the command; memory stays that of one batch whatever the export's size. Only the
census of external ids (for duplicates: the last occurrence wins) spans the whole export.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from connectors.errors import InputError
from connectors.private_files import scratch_folder
from connectors.reports.artifacts import CsvAppender
from connectors.sources.export_files import ReadOptions, SourceFile, expand_sources, opening
from connectors.sources.mapping_file import load_mapping
from engine.runner import StepRunner
from schemas.mapping import EXTERNAL_ID, FILLS, ColumnMapping, Writeback
from schemas.normalize import API_COLUMNS, Profile
from schemas.shards import Shard, rows_of
from schemas.validation import Census, ValidationResult, ValidationTotals, take_census
from schemas.validation import validate_customers as validate_rows

# Rows read, validated and planned at a time: memory stays flat whatever the export's size.
READ_BATCH_ROWS = 200_000


@dataclass(frozen=True)
class SourceSpec:
    """Which exports, read how, checked against which rules."""

    sources: list[str]
    mapping_path: Path | None
    read_options: ReadOptions
    profile: Profile
    entity: str | None  # filled in where a row names none
    entity_required: bool
    keep_id_hashes: bool = False  # --delete-missing compares the store with every id
    strict: bool = False  # --strict: any invalid value rejects its row
    match_on: tuple[str, ...] = ()  # --match-on: the census counts shared match keys
    batch_rows: int = READ_BATCH_ROWS
    shard: Shard | None = None  # a migration's shard: only its rows are read


@dataclass
class Source:
    """The exports, opened lazily, with the census of their external ids."""

    spec: SourceSpec
    paths: list[SourceFile]
    export: pl.LazyFrame
    census: Census
    writeback: Writeback | None = None  # the mapping's [writeback]: crm-update after a sync
    # Optional columns of the mapping a file lacked: "file: column (field)" (report.json).
    missing_columns: list[str] = field(default_factory=list)
    # Field -> the export's column it comes from (rejects.csv's ``column``).
    columns: dict[str, str] = field(default_factory=dict)

    def with_columns(self, rejects: pl.DataFrame) -> pl.DataFrame:
        """``rejects`` with each line's export column (empty where none: a row's problem)."""
        named = pl.col("field").replace_strict(
            self.columns, default=None, return_dtype=pl.String
        )  # fmt: skip
        return rejects.with_columns(named.alias("column"))

    def batches(self) -> Iterator[pl.DataFrame]:
        """The rows, a batch at a time, in export order (each file's rows in file order)."""
        yield from self.export.collect_batches(chunk_size=self.spec.batch_rows)

    def validated(
        self, runner: StepRunner, rejects: CsvAppender, totals: ValidationTotals
    ) -> Iterator[ValidationResult]:
        """Each batch validated (one step each), its rejects written and its totals counted."""
        for batch in self.batches():
            result = runner.step("validate", validate_batch, batch, self.census, self.spec)
            totals.add(result)
            rejects.write(self.with_columns(result.rejects))
            yield result


def validate_batch(batch: pl.DataFrame, census: Census, spec: SourceSpec) -> ValidationResult:
    """One batch of rows: the entity filled in, normalised and validated."""
    if spec.entity is not None:
        batch = batch.with_columns(pl.col("entity_id").fill_null(spec.entity))
    return validate_rows(
        batch,
        spec.profile,
        spec.entity_required,
        census.superseded,
        strict=spec.strict,
        kept_rows=census.kept,
    )


def export_columns(mapping: ColumnMapping | None) -> dict[str, str]:
    """Each field's column in the exports: the mapping's (a street's lines and a full name
    stand for the fields they fill; a [values] field's is the mapping itself); without a
    mapping, the canonical names are the columns."""
    if mapping is None:
        return {f: f for f in (EXTERNAL_ID, *API_COLUMNS)}
    named = {f: "[values] of the mapping" for f in mapping.values}
    named[EXTERNAL_ID] = mapping.external_id
    for source_field, column in mapping.columns.items():
        named[source_field] = column
        for filled in FILLS.get(source_field, ()):
            named[filled] = column
    return named


def _read_once(rows: pl.LazyFrame, scratch: Path) -> pl.LazyFrame:
    """A shard's rows, read from the export once (its census and its batches each parsed the
    whole export: a sixth of a 1M-row CSV took 1.38 s, spilled 1.10 s, bench/RESULTS.md), kept
    as Parquet in the run's owner-only scratch folder, gone when the run ends."""
    spill = scratch / "shard.parquet"
    rows.sink_parquet(spill, compression="lz4")
    return pl.scan_parquet(spill)


@contextmanager
def open_source(spec: SourceSpec) -> Iterator[Source]:
    """Open and check every source (exit 2 on a bad file or mapping, before anything is sent),
    then one pass over the ids: rows, duplicates, entities."""
    mapping = load_mapping(spec.mapping_path)
    paths = expand_sources(spec.sources)
    missing: list[str] = []
    with opening(paths, mapping, spec.read_options, missing) as export, ExitStack() as stack:
        if spec.shard is not None:  # after the row numbers: rejects name the export's rows
            export = export.filter(rows_of(spec.shard, spec.entity))
            export = _read_once(export, stack.enter_context(scratch_folder()))
        census = take_census(
            export, spec.entity, keep_id_hashes=spec.keep_id_hashes, match_on=spec.match_on
        )
        if spec.entity_required and not census.entities:
            raise InputError(
                "no entity: pass {entity_id}, set VERIFONE_ENTITY_ID, or map an entity_id column"
            )
        yield Source(spec, paths, export, census, mapping.writeback if mapping else None,
                     missing, export_columns(mapping))  # fmt: skip
