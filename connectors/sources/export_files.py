"""Reading CRM exports: CSV (any encoding, delimiter, quoting) and Parquet, as text columns;
local paths and globs, or URLs (``connectors/sources/remote_files.py``).

Every column is read as text, so ``02134`` stays ``02134``. CSV: UTF-8 with or without BOM is
read directly; another encoding named with ``--encoding`` is transcoded to UTF-8 first
(streaming, into a scratch directory), since polars reads UTF-8 only. The delimiter is detected
among ``,`` ``;`` and tab from the header unless given. Ragged rows (more or fewer fields than
the header) are reported as rejects, never fatal, never silently padded or cut.
"""

from __future__ import annotations

import csv
import glob
import gzip
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import polars as pl

from connectors.errors import InputError, MappingError, SourceError
from connectors.private_files import open_private, scratch_folder
from connectors.sources.csv_header import SEP_HINT, detect_delimiter, header_line
from connectors.sources.encoding import TRANSCODE_CHUNK, as_utf8
from connectors.sources.remote_files import RemoteFile, expand_url, fetch, is_url
from connectors.tuning import Tuning
from schemas.api_fields import FIELDS_BY_PATH
from schemas.mapping import EXTERNAL_ID, SOURCE_ONLY, ColumnMapping, MappingInvalid
from schemas.normalize import API_COLUMNS, clean_text
from schemas.validation import FILE, RAGGED, ROW, SEQ

log = logging.getLogger("custsync.sources")

GZIP_MAGIC = b"\x1f\x8b"
# xlsx/ods are zip archives; xls is an OLE2 compound file.
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
# A cell may be as large as a file (a 1 MB note pasted into a CRM field): Python's csv module
# refuses fields over 128 KiB by default, which stopped the whole run; such a value is the
# row's problem (over-long), never the run's. A field is held in memory only while read.
csv.field_size_limit(2**31 - 1)


# A local export, or one behind a URL (fetched by whoever reads it).
SourceFile = Path | RemoteFile


@dataclass(frozen=True)
class ReadOptions:
    """How to read sources: ``encoding`` None = UTF-8 (BOM or not); ``delimiter`` None = detect."""

    encoding: str | None = None
    delimiter: str | None = None


def expand_sources(patterns: list[str]) -> list[SourceFile]:
    """Paths, URLs and globs -> existing files, in the order given (each glob sorted)."""
    files: list[SourceFile] = []
    for pattern in patterns:
        if is_url(pattern):
            files.extend(expand_url(pattern))
        elif glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            found = [p for p in matches if p.is_file()]
            if not found:
                raise SourceError(f"no file matches {pattern}")
            files.extend(found)
        else:
            path = Path(pattern)
            if not path.is_file():
                raise SourceError(f"{pattern}: no such file")
            files.append(path)
    if not files:
        raise SourceError("no source given")
    return files


def is_parquet(path: Path) -> bool:
    """Parquet by extension or by its magic bytes."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


@contextmanager
def opening(
    paths: Sequence[SourceFile],
    mapping_file: ColumnMapping | None,
    options: ReadOptions,
    missing: list[str] | None = None,
) -> Iterator[pl.LazyFrame]:
    """All sources as one lazy frame: ``__seq`` (position in the whole export), ``__file``,
    ``__row``, ``__ragged``, ``external_id``, every API column (String; null where unmapped).

    Each file is checked here (readable, a header, data rows, the mapping's columns), so a bad
    source stops the run before anything is sent; rows are read only when the frame is collected
    or streamed in batches. An optional column of the mapping a file lacks is logged, and
    listed in ``missing`` ("file: column (field)"). Scratch files (fetched and transcoded
    copies) live until the block ends, in a folder only the run's user can read."""
    with scratch_folder() as scratch:
        frames = [_scan_source(source, mapping_file, options, scratch, missing)
                  for source in paths]  # fmt: skip
        yield pl.concat(frames, how="vertical").with_row_index(SEQ)


@contextmanager
def reading(
    paths: Sequence[SourceFile], mapping_file: ColumnMapping | None, options: ReadOptions
) -> Iterator[pl.DataFrame]:
    """All sources collected into one frame (see ``opening``): for inputs that fit in memory."""
    with opening(paths, mapping_file, options) as lazy:
        yield lazy.collect()


def _scan_source(
    source: SourceFile, mapping_file: ColumnMapping | None, options: ReadOptions, scratch: Path,
    missing: list[str] | None,
) -> pl.LazyFrame:  # fmt: skip
    """One source scanned; a URL's file is fetched into ``scratch`` first, and named by its
    URL (without query) in the rows and in errors, never by the scratch copy."""
    if isinstance(source, Path):
        return _scan_one(source, mapping_file, options, scratch, str(source), missing)
    local = fetch(source, scratch / f"{len(list(scratch.iterdir()))}-{source.name}")
    return _scan_one(local, mapping_file, options, scratch, source.label, missing)


def _scan_one(
    path: Path, mapping_file: ColumnMapping | None, options: ReadOptions, scratch: Path,
    label: str, missing: list[str] | None,
) -> pl.LazyFrame:  # fmt: skip
    """One file scanned, its errors naming it by ``label``: what is read may be a copy in the
    scratch folder (a URL's download, a .gz unpacked, a transcoded or repaired CSV), a name
    the user never gave and that is gone when the run ends."""
    try:
        return _scan_file(path, mapping_file, options, scratch, label, missing)
    except InputError as exc:
        copies = re.compile(re.escape(str(scratch)) + r"/[^\s:'\"]+")
        said = copies.sub(lambda _: label, exc.template.replace(str(path), label))
        raise type(exc)(said) from None


def _scan_file(
    path: Path, mapping_file: ColumnMapping | None, options: ReadOptions, scratch: Path,
    label: str, missing: list[str] | None,
) -> pl.LazyFrame:  # fmt: skip
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: the file is empty")
    data = _unpacked(path, scratch)
    if is_parquet(data):
        raw, ragged, columns, height, blank_rows = _scan_parquet(data)
    else:
        raw, ragged, columns, height, blank_rows = _scan_csv(data, options, scratch)
    if height == 0:
        raise SourceError(f"{path}: no data rows")
    try:
        mapping = (mapping_file or ColumnMapping.canonical(columns)).resolved(columns, label)
    except MappingInvalid as exc:
        raise MappingError(str(exc)) from None
    for field, column in mapping.missing:
        log.warning("%s: no column %r (for %s, optional): left empty", label, column, field)
        if missing is not None:
            missing.append(f"{label}: {column} ({field})")
    selected = [pl.col(mapping.external_id).alias(EXTERNAL_ID)]
    for field, column in mapping.columns.items():
        value = mapping.values.get(field)
        if value is None:
            selected.append(pl.col(column).alias(field))
        else:  # the export's value where it has one; the mapping's where it is empty
            empty = clean_text(column).is_null()
            selected.append(
                pl.when(empty).then(pl.lit(value)).otherwise(pl.col(column)).alias(field)
            )
    selected += [
        pl.lit(mapping.values.get(field), pl.String).alias(field)
        for field in (*API_COLUMNS, *SOURCE_ONLY)
        if field not in mapping.columns
    ]
    # Rows with nothing in them (blank lines; Excel's ",,,," rows under a sheet's data) are not
    # customers, and reporting each as one would bury the real rejects. Found once, when the
    # file is first read; every later pass (census, batches) leaves them out by number.
    if blank_rows:
        raw = raw.filter(~pl.col(ROW).is_in(blank_rows))
    return raw.select(
        pl.lit(label).alias(FILE), pl.col(ROW), ragged.alias(RAGGED), *selected
    ).select(FILE, ROW, RAGGED, EXTERNAL_ID, *API_COLUMNS, *SOURCE_ONLY)


MAX_RATIO = 200  # unpacked bytes per compressed byte, at most...
UNPACKED_FLOOR = 64 << 20  # ...past this much (a small file of empty fields may go further)


class _Bomb(Exception):
    """A compressed export unpacking past its bound."""


def _unpacked(path: Path, scratch: Path) -> Path:
    """A gzip-compressed export decompressed to a scratch file (streamed); a spreadsheet
    workbook refused with what to do instead."""
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(GZIP_MAGIC):
        target = scratch / f"{len(list(scratch.iterdir()))}-{path.name.removesuffix('.gz')}"
        # A bound on what one compressed byte may become: real exports compress 5-50x; a
        # file that unpacks past it is a bomb (a 200 KB file can hold a 200 MiB cell).
        bound = max(UNPACKED_FLOOR, MAX_RATIO * path.stat().st_size)
        try:
            with gzip.open(path, "rb") as src, open_private(target) as dst:
                written = 0
                while chunk := src.read(TRANSCODE_CHUNK):
                    written += len(chunk)
                    if written > bound:
                        raise _Bomb
                    dst.write(chunk)
        except _Bomb:
            target.unlink(missing_ok=True)
            raise SourceError(
                f"{path}: unpacks to over {MAX_RATIO}x its size, as no real export does; "
                "refused (unpack it yourself if it is one)"
            ) from None
        except (OSError, EOFError) as exc:
            raise SourceError(f"{path}: not a readable gzip file ({exc})") from None
        return target
    if magic.startswith(WORKBOOK_MAGIC) or path.suffix.lower() in WORKBOOK_SUFFIXES:
        raise SourceError(
            f"{path} is a spreadsheet workbook; save it as CSV UTF-8 (or Parquet) and pass that"
        )
    return path


def _scan_parquet(path: Path) -> tuple[pl.LazyFrame, pl.Expr, list[str], int, list[int]]:
    try:
        scan = pl.scan_parquet(path)
        columns = scan.collect_schema().names()
        # Text everywhere: whatever the export typed as numbers or dates is text to the API.
        frame = scan.with_columns(_as_text(scan.collect_schema())).with_row_index(ROW, offset=1)
        counted = frame.select(pl.len(), _blank(columns).sum()).collect(engine="streaming")
        height, blanks = counted.row(0)
        blank_rows = _blank_rows(frame, columns, blanks)
    except Exception as exc:  # polars raises several types for a corrupt file
        raise SourceError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    return frame, pl.lit(None, pl.String), columns, int(height), blank_rows


def _blank(fields: list[str]) -> pl.Expr:
    """Whether every field of the row is empty or only whitespace."""
    return pl.all_horizontal(pl.col(c).fill_null("").str.strip_chars() == "" for c in fields)


def _blank_rows(frame: pl.LazyFrame, fields: list[str], count: int) -> list[int]:
    """The numbers of the ``count`` blank rows (none read when there are none). A query of its
    own: collected into a list in the counting pass, polars would leave its streaming engine
    and hold the whole file in memory (bench/RESULTS.md)."""
    if count == 0:
        return []
    found = frame.filter(_blank(fields)).select(ROW).collect(engine="streaming")
    return found.get_column(ROW).to_list()


def _as_text(schema: pl.Schema) -> list[pl.Expr]:
    """Every column as text. Whole floats lose their ".0": pandas stores an integer column
    with gaps as float64, and a CRM id 12345 must not become "12345.0"."""
    exprs = []
    for name, dtype in schema.items():
        column = pl.col(name)
        if dtype.is_float():
            whole = column.is_finite() & (column == column.round(0)) & (column.abs() < 2**53)
            text = pl.when(whole).then(column.cast(pl.Int64).cast(pl.String))
            exprs.append(text.otherwise(column.cast(pl.String)).alias(name))
        elif isinstance(dtype, pl.Struct):
            exprs.append(column.struct.json_encode().alias(name))
        elif isinstance(dtype, pl.List | pl.Array):
            items = column.arr.to_list() if isinstance(dtype, pl.Array) else column
            exprs.append(items.list.eval(pl.element().cast(pl.String)).list.join(";").alias(name))
        else:
            exprs.append(column.cast(pl.String))
    return exprs


def _check_lines(path: Path, bound: int | None = None, chunk_size: int = TRANSCODE_CHUNK) -> None:
    """Refuse, in one line, a file with a line over the bound (``ReadingTuning``), before any
    reader holds that line whole: one cell costs polars over ten times its size (a 100 MiB
    cell, 1.6 GB), and the header and encoding sniffs read whole lines. One chunk in memory;
    within a chunk one search per bound's worth of bytes (the last newline in each window),
    so the pass costs about a read of the file."""
    bound = bound or Tuning.from_environment().reading.max_line_mib << 20
    lines = 0  # newlines before this chunk
    carry = 0  # bytes of the line still open at this chunk's start
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            first = chunk.find(b"\n")
            if first == -1:
                carry += len(chunk)
                if carry > bound:
                    _too_long(path, lines + 1, bound)
                continue
            if carry + first > bound:
                _too_long(path, lines + 1, bound)
            start = first + 1
            while len(chunk) - start > bound:
                last = chunk.rfind(b"\n", start, start + bound + 1)
                if last == -1:
                    _too_long(path, lines + chunk.count(b"\n", 0, start) + 1, bound)
                start = last + 1
            carry = len(chunk) - chunk.rfind(b"\n") - 1
            lines += chunk.count(b"\n")


def _too_long(path: Path, line: int, bound: int) -> NoReturn:
    raise SourceError(
        f"{path}: line {line:,} is over {bound / (1 << 20):g} MiB long, as no CRM export's is; "
        "refused before it is read (CUSTSYNC_MAX_LINE_MIB raises the bound)"
    )


def _scan_csv(
    path: Path, options: ReadOptions, scratch: Path
) -> tuple[pl.LazyFrame, pl.Expr, list[str], int, list[int]]:
    _check_lines(path)
    utf8_path = as_utf8(path, options.encoding, scratch)
    header = header_line(utf8_path)
    # Excel's "sep=;" first line names the delimiter; the header follows it.
    hint = SEP_HINT.fullmatch(header.strip())
    skip = 1 if hint else 0
    if hint:
        header = header_line(utf8_path, after_first=True)
    detected = hint.group(1) if hint else detect_delimiter(header)
    delimiter = options.delimiter or detected
    names = next(csv.reader([header], delimiter=delimiter))
    # Blank names may repeat (Excel leaves empty trailing columns); nothing can map to them.
    named = [n for n in names if n.strip()]
    if len(named) != len(set(named)):
        first = next(n for n in named if named.count(n) > 1)
        where = " and ".join([str(i) for i, n in enumerate(names, start=1) if n == first][:2])
        # A field's name is quoted; anything else by position only: a file without its header
        # has a shopper's line there.
        known = first.strip().casefold() in KNOWN_COLUMNS
        said = f"column {first!r}" if known else "a column name"
        raise SourceError(f"{path}: the header repeats {said} (columns {where})")
    try:
        return _scan_text(path, utf8_path, delimiter, skip, names)
    except _Malformed:
        # A stray quote inside a field (Ann "Annie", 5" screen), or one never closed: polars
        # refuses the whole file. Python's csv reader takes such quotes literally (a field left
        # open runs to the end of the file: a ragged row, rejected with its reason), so the
        # file is rewritten through it, well-formed, and read again.
        repaired = _rewrite_leniently(utf8_path, delimiter, skip, scratch)
        try:
            return _scan_text(path, repaired, delimiter, 0, names)
        except _Malformed as exc:
            # polars may quote the line it could not read: a shopper's, so not that part.
            said = re.sub(r"(`[^`]*`|\"[^\"]*\"|'[^']*')", "<...>", str(exc))
            raise SourceError(f"{path}: cannot be read as CSV ({said})") from None


KNOWN_COLUMNS = frozenset(["external_id", "entity_id", *FIELDS_BY_PATH])


class _Malformed(Exception):
    """polars could not parse the CSV (its first line of explanation)."""


def _scan_text(
    path: Path, data: Path, delimiter: str, skip: int, names: list[str]
) -> tuple[pl.LazyFrame, pl.Expr, list[str], int, list[int]]:
    scan_options = {
        "separator": delimiter,
        "infer_schema": False,
        "empty_string_is_null": False,
        "row_index_name": ROW,
        "row_index_offset": 1,
        "skip_rows": skip,
    }
    # polars' own names of the columns (it renames repeated blank names).
    fields = pl.scan_csv(data, **scan_options).collect_schema().names()  # type: ignore[arg-type]
    fields = [c for c in fields if c != ROW]
    has_long_rows = False
    try:
        # One pass over the file: rows, blank rows, and whether a short row could hide among them.
        height, maybe_short, blank_rows = _count_rows(data, scan_options, fields, truncate=False)
    except pl.exceptions.ComputeError as exc:
        if "invalid utf-8" in str(exc):
            raise SourceError(
                f"{path} is not UTF-8 (past its first MiB); "
                "pass {encoding}, e.g. {encoding} cp1252"
            ) from None
        if "more fields" not in str(exc):
            raise _Malformed(_first_line(exc)) from None
        has_long_rows = True
        try:
            height, maybe_short, blank_rows = _count_rows(data, scan_options, fields, truncate=True)
        except pl.exceptions.ComputeError as exc:
            raise _Malformed(_first_line(exc)) from None
    frame = pl.scan_csv(data, truncate_ragged_lines=True, **scan_options)  # type: ignore[arg-type]
    # polars pads a short row with "" like an empty field, and cuts a long one only when told:
    # a Python pass counts fields exactly, but only when polars shows either could be present.
    counts = (
        _ragged_field_counts(data, delimiter, len(names), skip)
        if maybe_short or has_long_rows
        else {}
    )
    if not counts:
        return frame, pl.lit(None, pl.String), names, height, blank_rows
    ragged = pl.format(
        "ragged row: {} fields where the header has {}",
        pl.col(ROW).replace_strict(list(counts), list(counts.values()), default=None),
        pl.lit(len(names)),
    )
    return frame, ragged, names, height, blank_rows


def _rewrite_leniently(path: Path, delimiter: str, skip: int, scratch: Path) -> Path:
    """``path`` read by Python's csv module (quotes inside a field are literal) and written
    back well-formed, without the lines to skip."""
    target = scratch / f"{len(list(scratch.iterdir()))}-{path.name}.repaired.csv"
    with (
        path.open(encoding="utf-8-sig", newline="") as src,
        target.open("w", encoding="utf-8", newline="") as dst,
    ):
        for _ in range(skip):
            src.readline()
        try:
            csv.writer(dst, delimiter=delimiter, lineterminator="\n").writerows(
                csv.reader(src, delimiter=delimiter, strict=False)
            )
        except csv.Error as exc:  # a quote left open swallowed more than a field may hold
            raise SourceError(
                f"{path}: cannot be read as CSV ({exc}; a quote never closed?)"
            ) from None
    return target


def _count_rows(
    path: Path, scan_options: dict[str, object], fields: list[str], truncate: bool
) -> tuple[int, bool, list[int]]:
    """Data rows, whether the last column is ever empty (a short row reads like that), and the
    blank rows' numbers."""
    counted = (
        pl.scan_csv(path, truncate_ragged_lines=truncate, **scan_options)  # type: ignore[arg-type]
        # Every field is parsed here, once (the blank rows need them all): a field polars
        # cannot read (`"Ann" x`) must show now, while the lenient re-read can still step in,
        # not later in the census (an "unexpected" error).
        # Named: with one column, the last column's test and the blank test share its name.
        .select(
            pl.len().alias("rows"),
            pl.col(fields[-1]).eq("").any().alias("maybe_short"),
            _blank(fields).sum().alias("blank"),
        )
        .collect(engine="streaming")
    )
    height, maybe_short, blanks = counted.row(0)
    scan = pl.scan_csv(path, truncate_ragged_lines=truncate, **scan_options)  # type: ignore[arg-type]
    return int(height), bool(maybe_short), _blank_rows(scan, fields, blanks)


def _ragged_field_counts(path: Path, delimiter: str, field_count: int, skip: int) -> dict[int, int]:
    """Data row number -> field count, for rows whose count differs from the header's."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = csv.reader(handle, delimiter=delimiter)
        for _ in range(skip + 1):
            next(records, None)
        return {n: len(r) for n, r in enumerate(records, start=1) if len(r) != field_count}


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
