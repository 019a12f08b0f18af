"""Writing a run's artefacts: ``rejects.csv``, ``report.json``, ``mappings.csv``,
``crm-update.csv``."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import polars as pl

from schemas.mapping import Writeback
from schemas.spreadsheet import inert

# ``column``: the export's column the field came from (the mapping's name for it), where known.
REJECT_HEADER = ["external_id", "row", "field", "reason", "file", "action", "column"]


class CsvAppender:
    """A CSV written batch by batch: the header once, rows as they come (a header-only file
    when no batch had any), so a run's artefacts never need the whole run in memory."""

    def __init__(self, path: Path, columns: list[str], append: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.columns = columns
        self.rows = 0
        # Appending (the write-back's lines after a sync's): the header only if it is new.
        started = append and path.exists() and path.stat().st_size > 0
        self._handle: IO[bytes] | None = path.open("ab" if append else "wb")
        self._header = not started

    def write(self, frame: pl.DataFrame) -> None:
        """Append ``frame``'s rows (its columns chosen and ordered as the header)."""
        if self._handle is None:
            raise ValueError(f"{self.path} is closed")
        if frame.height or self._header:
            # A column a writer does not know (a rejects line's export column) stays empty.
            chosen = [c if c in frame.columns else pl.lit(None, pl.String).alias(c)
                      for c in self.columns]  # fmt: skip
            inert(frame.select(chosen)).write_csv(self._handle, include_header=self._header)
            self._header = False
            self.rows += frame.height

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._handle is not None:
            if self._header:
                pl.DataFrame(schema=dict.fromkeys(self.columns, pl.String)).write_csv(self._handle)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> CsvAppender:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def top_reasons(rejects_csv: Path, limit: int = 10) -> list[dict[str, object]]:
    """The commonest (action, field, column, reason) of a ``rejects.csv``, with their row
    counts and the first external id of each, most first (read column by column: the file may
    hold millions of lines)."""
    if not rejects_csv.exists() or rejects_csv.stat().st_size == 0:
        return []  # no shard of a migration wrote one (every shard failed)
    lines = pl.scan_csv(rejects_csv, infer_schema=False)
    if "column" not in lines.collect_schema().names():  # a file of an older custsync
        lines = lines.with_columns(pl.lit(None, pl.String).alias("column"))
    from schemas.validation import reason_kind

    counted = (
        lines.with_columns(reason_kind(pl.col("reason")).alias("reason"))
        .group_by("action", "field", "column", "reason")
        .agg(pl.len().alias("rows"), pl.col("external_id").drop_nulls().first().alias("example"))
        .sort(["rows", "action", "field", "reason"], descending=[True, False, False, False])
        .head(limit)
        .collect()
    )
    return counted.select(
        "action",
        pl.col("field").fill_null(""),
        pl.col("column").fill_null(""),
        "reason",
        "rows",
        pl.col("example").fill_null(""),
    ).to_dicts()


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    """``report.json``, pretty-printed with stable key order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def write_crm_update(
    due: pl.DataFrame, writeback: Writeback, out_dir: Path, status: str | None = None
) -> Path:
    """``crm-update.csv`` (or ``.parquet``): the CRM's record id and the customer UUID, headed
    as the CRM's importer names them (Data Loader: ``Id``; HubSpot: ``Record ID``), and the
    ``status`` column if one is named (``crm_result`` after a push through the CRM's API).
    UTF-8, no BOM, RFC 4180 quoting; a cleared UUID is an
    empty field."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = due.select(
        pl.col("external_id").alias(writeback.id_column),
        pl.col("customer_id").alias(writeback.uuid_field),
        *([pl.col(status)] if status else []),
    )
    path = out_dir / f"crm-update.{writeback.format}"
    if writeback.format == "parquet":
        frame.write_parquet(path)
    else:
        inert(frame).write_csv(path)
    return path


def export_mappings(mappings: pl.DataFrame, target: Path) -> Path:
    """The state store's full mapping as CSV or Parquet (by the file's extension)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() in (".parquet", ".pq"):
        mappings.write_parquet(target)
    elif target.suffix.lower() == ".csv":
        inert(mappings).write_csv(target)
    else:
        from connectors.errors import InputError

        raise InputError(f"{{out}} must end in .csv or .parquet, not {target.name}")
    return target
