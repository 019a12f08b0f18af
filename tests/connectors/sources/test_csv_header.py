"""A CSV's header read from a real file: quoted newlines, Excel's sep= line, the delimiter."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import SourceError
from connectors.sources.csv_header import SEP_HINT, detect_delimiter, header_line


def test_the_header_is_the_first_record_quoted_newlines_and_all(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes('\ufeffid;"Street\nand number";city\r\n1;x;y\n'.encode())
    assert header_line(path) == 'id;"Street\nand number";city'
    assert detect_delimiter(header_line(path)) == ";"


def test_excels_sep_line_names_the_delimiter_and_the_header_follows(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("sep=|\nid|city\n1|x\n")
    hint = SEP_HINT.fullmatch(header_line(path).strip())
    assert hint is not None and hint.group(1) == "|"
    assert header_line(path, after_first=True) == "id|city"


def test_a_file_with_no_header_line_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("\n\n")
    with pytest.raises(SourceError, match="no header line"):
        header_line(path)


def test_the_delimiter_outside_quotes_wins_and_a_tie_is_a_comma() -> None:
    assert detect_delimiter('"a;b;c",d,e') == ","
    assert detect_delimiter("a\tb\tc") == "\t"
    assert detect_delimiter("a;b,c") == ","


def test_a_pipe_delimited_export_is_read_as_one_and_a_one_column_file_as_one_column(
    tmp_path: Path,
) -> None:
    from connectors.sources.export_files import ReadOptions, expand_sources, reading

    assert detect_delimiter("external_id|email_address|Mailing Street") == "|"
    assert detect_delimiter('id,"a|b|c",d') == ","  # a pipe inside quotes is a value's
    pipes = tmp_path / "unload.csv"
    pipes.write_text("external_id|email_address\nA1|a@example.com\nA2|b@example.com\n")
    with reading(expand_sources([str(pipes)]), None, ReadOptions()) as rows:
        pass
    assert rows.get_column("email_address").to_list() == ["a@example.com", "b@example.com"]
    # One column (the external id alone): it was "internal error (DuplicateError)".
    alone = tmp_path / "ids.csv"
    alone.write_text("external_id\nA1\n\nA2\n")
    with reading(expand_sources([str(alone)]), None, ReadOptions()) as ids:
        pass
    assert ids.get_column("external_id").to_list() == ["A1", "A2"]
