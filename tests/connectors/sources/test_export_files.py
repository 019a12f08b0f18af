"""Reading real files: BOM, cp1252, semicolons, tabs, quoted newlines, ragged rows, Parquet."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from connectors.errors import MappingError, SourceError
from connectors.sources.export_files import ReadOptions, detect_delimiter, expand_sources, reading
from schemas.mapping import parse_mapping
from tests.helpers import export, people

HEADER = "external_id,billing.first_name,billing.postal_code,billing.city\n"


def read(paths: list[Path], options: ReadOptions = ReadOptions(), mapping=None) -> pl.DataFrame:  # noqa: B008
    with reading(paths, mapping, options) as frame:
        return frame


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_utf8_with_bom_and_leading_zeros(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "\ufeff" + HEADER + "1,Zoë,02134,Boston\n")
    frame = read([path])
    row = frame.row(0, named=True)
    assert row["external_id"] == "1"  # BOM not glued to the first column name
    assert row["billing.postal_code"] == "02134"
    assert row["billing.first_name"] == "Zoë"
    assert row["__row"] == 1 and row["__file"] == str(path)


def test_cp1252_needs_encoding_and_then_reads(tmp_path: Path) -> None:
    path = write(tmp_path / "w.csv", HEADER + "1,Zoë Müller,02134,Köln\n", "cp1252")
    with pytest.raises(SourceError) as info:
        read([path])
    assert "pass encoding" in str(info.value) and "not UTF-8" in str(info.value)
    frame = read([path], ReadOptions(encoding="cp1252"))
    assert frame.row(0, named=True)["billing.city"] == "Köln"


def test_a_non_utf8_byte_past_the_first_mib_is_a_source_error(tmp_path: Path) -> None:
    rows = "".join(f"{i},Ann,02134,Boston\n" for i in range(80_000))  # ~1.6 MB of UTF-8
    path = tmp_path / "late.csv"
    path.write_bytes((HEADER + rows).encode() + "x,Zoë,1,Köln\n".encode("cp1252"))
    with pytest.raises(SourceError) as info:
        read([path])
    assert "not UTF-8" in str(info.value) and "encoding cp1252" in str(info.value)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_read_without_being_told(tmp_path: Path, encoding: str) -> None:
    # Excel's "Unicode text": UTF-16 with a BOM, tab-separated.
    text = "\ufeff" + (HEADER + "1,Zoë,02134,Köln\n").replace(",", "\t")
    frame = read([write(tmp_path / "u.txt", text, encoding)])
    row = frame.row(0, named=True)
    assert row["external_id"] == "1" and row["billing.city"] == "Köln"
    assert row["billing.postal_code"] == "02134"


def test_excel_sep_line_names_the_delimiter(tmp_path: Path) -> None:
    text = "sep=;\r\n" + (HEADER + "1,Ann,0123,Lyon, Rhône\n2,Bob\n").replace(",", ";")
    text = text.replace("Lyon; Rhône", "Lyon, Rhône")
    frame = read([write(tmp_path / "x.csv", "\ufeff" + text)])
    first, second = frame.rows(named=True)
    assert first["external_id"] == "1" and first["billing.city"] == "Lyon, Rhône"
    assert first["__row"] == 1  # data rows are numbered after the sep= line and the header
    assert second["__ragged"] == "ragged row: 2 fields where the header has 4"


def test_empty_trailing_columns_are_ignored(tmp_path: Path) -> None:
    # Excel keeps columns that were once touched: blank names, repeated, nothing mapped to them.
    text = HEADER.replace("\n", ",,\n") + "1,Ann,0123,Paris,,\n2,Bob,4567,Lyon,,\n"
    frame = read([write(tmp_path / "t.csv", text)])
    assert frame.get_column("billing.city").to_list() == ["Paris", "Lyon"]
    assert frame.get_column("__ragged").to_list() == [None, None]


def test_blank_rows_are_not_customers(tmp_path: Path) -> None:
    text = HEADER + "1,Ann,0123,Paris\n\n,,,\n , ,,\n2,Bob,4567,Lyon\n,,,\n"
    frame = read([write(tmp_path / "b.csv", text)])
    assert frame.get_column("external_id").to_list() == ["1", "2"]
    assert frame.get_column("__row").to_list() == [1, 5]  # rows keep their place in the file


def test_stray_quotes_are_literal_and_an_open_one_rejects_its_row(tmp_path: Path) -> None:
    text = HEADER + '1,Ann "Annie",0123,Paris\n2,Bob,4567,O"Fallon\n3,"Cy,0789,Lyon\n'
    frame = read([write(tmp_path / "q.csv", text)])
    rows = {r["external_id"]: r for r in frame.rows(named=True)}
    assert rows["1"]["billing.first_name"] == 'Ann "Annie"' and rows["1"]["__ragged"] is None
    assert rows["2"]["billing.city"] == 'O"Fallon'
    assert rows["3"]["__ragged"] == "ragged row: 2 fields where the header has 4"


def test_gzip_compressed_exports_are_read(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "contacts.csv.gz"
    path.write_bytes(gzip.compress((HEADER + "1,Zoë,02134,Boston\n").encode()))
    row = read([path]).row(0, named=True)
    assert row["billing.city"] == "Boston" and row["__file"] == str(path)


@pytest.mark.parametrize("name", ["contacts.xlsx", "contacts.bin"])
def test_a_workbook_is_refused_with_what_to_do(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)  # an xlsx is a zip archive
    with pytest.raises(SourceError, match="spreadsheet workbook; save it as CSV"):
        read([path])


def test_unknown_encoding_is_a_source_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", HEADER + "1,A,1,B\n")
    with pytest.raises(SourceError, match="unknown encoding"):
        read([path], ReadOptions(encoding="klingon"))


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    text = (HEADER + "1,Ann,0123,Paris\n").replace(",", delimiter)
    frame = read([write(tmp_path / "s.csv", text)])
    assert frame.row(0, named=True)["billing.city"] == "Paris"


def test_given_delimiter_wins(tmp_path: Path) -> None:
    text = "external_id|billing.city\n1|Lyon, Rhône\n"
    frame = read([write(tmp_path / "p.csv", text)], ReadOptions(delimiter="|"))
    assert frame.row(0, named=True)["billing.city"] == "Lyon, Rhône"


def test_detect_delimiter_ignores_quoted() -> None:
    assert detect_delimiter('"a;b;c",d,e') == ","
    assert detect_delimiter("a;b,c;d") == ";"


def test_quoted_newlines_and_quotes(tmp_path: Path) -> None:
    text = HEADER + '1,"Ann ""Annie""","0123","Line one\nLine two"\n2,Bob,1,X\n'
    frame = read([write(tmp_path / "q.csv", text)])
    assert frame.get_column("billing.first_name").to_list() == ['Ann "Annie"', "Bob"]
    assert frame.get_column("billing.city").to_list()[0] == "Line one\nLine two"
    assert frame.get_column("__row").to_list() == [1, 2]  # data rows, not lines


def test_ragged_rows_are_marked_not_fatal(tmp_path: Path) -> None:
    text = HEADER + "1,Ann,1,A\n2,Bob\n3,Cid,3,C,extra\n4,Dee,,\n"
    frame = read([write(tmp_path / "r.csv", text)])
    marks = dict(zip(frame["external_id"], frame["__ragged"], strict=True))
    assert marks["1"] is None and marks["4"] is None  # empty trailing fields are fine
    assert marks["2"] == "ragged row: 2 fields where the header has 4"
    assert marks["3"] == "ragged row: 5 fields where the header has 4"


def test_parquet_with_non_string_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pl.DataFrame(
        {
            "external_id": [1, 2],
            "billing.postal_code": ["02134", "10001"],
            "tax.identifier": [123, None],
        }
    ).write_parquet(path)
    frame = read([path])
    assert frame.get_column("external_id").to_list() == ["1", "2"]
    assert frame.get_column("billing.postal_code").to_list() == ["02134", "10001"]
    assert frame.get_column("tax.identifier").to_list() == ["123", None]
    assert frame.schema["external_id"] == pl.String


def test_parquet_whole_floats_read_as_integers(tmp_path: Path) -> None:
    # pandas writes an integer column with gaps as float64
    path = tmp_path / "f.parquet"
    pl.DataFrame(
        {"external_id": [12345.0, 9007199254740993.0, 2.5], "tax.identifier": [7.0, None, 1e20],
         "tags": [["a", "b"], [], None], "meta": [{"k": 1}, {"k": 2}, None],
         "pair": pl.Series([[1, 2], [3, 4], [5, 6]], dtype=pl.Array(pl.Int64, 2))}
    ).write_parquet(path)  # fmt: skip
    frame = read([path])  # nested columns nobody maps do not stop the read
    assert frame.get_column("external_id").to_list()[::2] == ["12345", "2.5"]
    assert frame.get_column("tax.identifier").to_list()[:2] == ["7", None]


def test_many_files_and_globs(tmp_path: Path) -> None:
    write(tmp_path / "a1.csv", HEADER + "1,A,1,X\n")
    write(tmp_path / "a2.csv", HEADER + "2,B,2,Y\n")
    paths = expand_sources([str(tmp_path / "a*.csv")])
    assert [p.name for p in paths] == ["a1.csv", "a2.csv"]
    assert read(paths).get_column("external_id").to_list() == ["1", "2"]


def test_missing_files_and_empty_globs(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        expand_sources([str(tmp_path / "nope.csv")])
    with pytest.raises(SourceError, match="no file matches"):
        expand_sources([str(tmp_path / "*.csv")])


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="empty"):
        read([write(tmp_path / "e.csv", "")])
    with pytest.raises(SourceError, match="no data rows"):
        read([write(tmp_path / "h.csv", HEADER)])


def test_mapping_renames_and_checks_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "sf.csv", "Contact ID,Mailing City,Notes\n003A,Leeds,x\n")
    mapping = parse_mapping(
        'external_id = "Contact ID"\n[columns]\n"billing.city" = "Mailing City"\n'
    )
    row = read([path], mapping=mapping).row(0, named=True)
    assert (row["external_id"], row["billing.city"], row["email_address"]) == (
        "003A",
        "Leeds",
        None,
    )
    bad = parse_mapping('external_id = "Contact ID"\n[columns]\n"billing.city" = "City"\n')
    with pytest.raises(MappingError, match="'City'"):
        read([path], mapping=bad)


def test_duplicate_header_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="repeats column 'email_address'"):
        read([write(tmp_path / "d.csv", "external_id,email_address,email_address\n1,a,b\n")])


@pytest.mark.parametrize("size", [200_000, 1_000_000])
@pytest.mark.parametrize("neighbour", ["", "A,Ann,1000\n", 'A,"Ann" x,1000,Oslo\n'])
def test_a_huge_cell_is_a_value_not_a_stop(tmp_path: Path, size: int, neighbour: str) -> None:
    # With a short row (or a stray quote) beside it, the file goes through Python's csv reader
    # too, whose default limit is 128 KiB a field: that stopped the whole run.
    path = write(tmp_path / "a.csv", HEADER + neighbour + f"B,Bob,0150,{'x' * size}\n")
    frame = read([path])
    big = frame.filter(pl.col("external_id") == "B").row(0, named=True)
    assert len(big["billing.city"]) == size


def test_a_field_that_opens_with_a_quote_and_goes_on_is_read(tmp_path: Path) -> None:
    # polars accepted the file at the first pass and refused it only when reading the column.
    path = write(tmp_path / "a.csv", HEADER + 'A,"Ann" x,0150,Oslo\nB,Bob,0150,Rome\n')
    frame = read([path])
    assert frame.get_column("billing.first_name").to_list() == ["Ann x", "Bob"]


SHOPPER = ["X1", "ann.lee@example.com", "Ann", "Leeworthy", "+442071234567"]


@pytest.mark.parametrize("with_mapping", [False, True])
def test_an_export_without_its_header_never_quotes_its_first_row(
    tmp_path: Path, with_mapping: bool
) -> None:
    path = write(tmp_path / "h.csv", ",".join(SHOPPER) + "\nX2,bo@example.com,Bo,Li,+331\n")
    mapping = parse_mapping('external_id = "Id"\n[columns]\n"email_address" = "Email"\n')
    with pytest.raises((MappingError, SourceError)) as info:
        read([path], mapping=mapping if with_mapping else None)
    message = str(info.value)
    assert "header row missing" in message
    for value in SHOPPER[1:]:
        assert value not in message


def test_a_header_that_is_a_header_is_still_listed(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "Contact,Email\n1,a@example.com\n")
    with pytest.raises(MappingError) as info:
        read([path])
    assert "'Contact', 'Email'" in str(info.value)


def test_a_repeated_name_in_a_first_line_of_data_is_not_quoted(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "X1,Leeworthy,Ann,Leeworthy\nX2,Li,Bo,Li\n")
    with pytest.raises(SourceError) as info:
        read([path])
    assert "Leeworthy" not in str(info.value) and "columns 2 and 4" in str(info.value)


@pytest.mark.parametrize("kind", ["gzip", "cp1252"])
def test_an_error_in_a_file_read_through_a_copy_names_the_file_not_the_copy(
    tmp_path: Path, kind: str
) -> None:
    # Before: "$TMPDIR/custsync-xxxx/0-dup.csv: the header repeats ..." for dup.csv.gz.
    import gzip

    text = "external_id,email_address,external_id\nA1,a@example.com,A1\n"
    if kind == "gzip":
        source = tmp_path / "dup.csv.gz"
        source.write_bytes(gzip.compress(text.encode()))
        options = ReadOptions()
    else:
        source = tmp_path / "dup.csv"
        source.write_bytes(text.replace("a@", "\xe9@").encode("cp1252"))
        options = ReadOptions(encoding="cp1252")
    with (
        pytest.raises(SourceError) as refused,
        reading(expand_sources([str(source)]), None, options),
    ):
        pass
    said = str(refused.value)
    assert said.startswith(f"{source}: the header repeats column 'external_id'"), said
    assert "custsync-" not in said and ".repaired" not in said


def test_a_gzip_bomb_is_refused_in_one_line_without_unpacking_it_whole(tmp_path: Path) -> None:
    # Before: a 200 KB .csv.gz holding one 200 MiB cell was unpacked whole and read (~3 GB).
    import gzip
    import resource

    bomb = tmp_path / "contacts.csv.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(b"external_id,email_address\nA1,")
        for _ in range(200):
            out.write(b"a" * (1 << 20))
        out.write(b"@example.com\n")
    assert bomb.stat().st_size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with (
        pytest.raises(SourceError, match=r"unpacks to over 200x its size") as refused,
        reading(expand_sources([str(bomb)]), None, ReadOptions()),
    ):
        pass
    assert str(refused.value).startswith(f"{bomb}: ")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100  # chunks, never the whole cell
    # A real export (the sample compresses 3.6x) still unpacks.
    plain = export(tmp_path / "plain.csv", people(300))
    sample = tmp_path / "sample.csv.gz"
    sample.write_bytes(gzip.compress(plain.read_bytes()))
    with reading(expand_sources([str(sample)]), None, ReadOptions()) as rows:
        pass
    assert rows.height == 300


def test_a_line_past_the_bound_is_refused_in_one_line_before_anything_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a 100 MiB cell peaked at 1.6 GB (polars holds a cell over ten times over).
    import resource

    path = tmp_path / "contacts.csv"
    with path.open("wb") as out:
        out.write(b"external_id,email_address,billing.city\nA1,a@example.com,Oslo\nA2,")
        for _ in range(40):
            out.write(b"a" * (1 << 20))
        out.write(b"@example.com,Rome\nA3,c@example.com,Bergen\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with (
        pytest.raises(SourceError) as refused,
        reading(expand_sources([str(path)]), None, ReadOptions()),
    ):
        pass
    assert str(refused.value) == (
        f"{path}: line 3 is over 16 MiB long, as no CRM export's is; refused before it is "
        "read (CUSTSYNC_MAX_LINE_MIB raises the bound)"
    )
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 30  # a chunk at a time, never the line
    monkeypatch.setenv("CUSTSYNC_MAX_LINE_MIB", "64")  # the bound is the user's to raise
    with reading(expand_sources([str(path)]), None, ReadOptions()) as rows:
        pass
    assert rows.height == 3


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 8, 64])
def test_the_line_check_finds_the_first_long_line_wherever_chunks_cut(
    tmp_path: Path, chunk_size: int
) -> None:
    from connectors.sources.export_files import _check_lines

    layouts = [
        ["ab", "abcd", "a"],  # fits (4 bytes a line at most)
        ["ab", "abcde", "a"],  # line 2 too long
        ["abcde"],  # the first line
        ["a", "b", "", "abcdefgh"],  # the last, without a newline after it
        ["abcd"] * 5 + ["abcdefghij", "ab"],
    ]
    for lines in layouts:
        path = tmp_path / "l.csv"
        path.write_bytes("\n".join(lines).encode())
        longest = next((n for n, line in enumerate(lines, start=1) if len(line) > 4), None)
        if longest is None:
            _check_lines(path, bound=4, chunk_size=chunk_size)
            continue
        with pytest.raises(SourceError, match=rf"line {longest} is over"):
            _check_lines(path, bound=4, chunk_size=chunk_size)
