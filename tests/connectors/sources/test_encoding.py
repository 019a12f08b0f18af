"""Export encodings: UTF-16 without a BOM when told; a file that is not what it is said to be."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import SourceError
from connectors.sources.encoding import as_utf8

TEXT = "external_id,billing.first_name,billing.city\n1,Zoë,Köln\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_when_told_utf16(tmp_path: Path, encoding: str) -> None:
    # The review's repro: `--encoding utf-16` on a file without a BOM was "unexpected ...".
    path = tmp_path / "u.csv"
    path.write_bytes(TEXT.encode(encoding))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert as_utf8(path, "utf-16", scratch).read_text(encoding="utf-8") == TEXT


def test_utf16_told_of_a_file_that_is_not(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("ééééééééééééééééé\n" * 50, encoding="utf-8")
    with pytest.raises(SourceError, match="does not look like UTF-16"):
        as_utf8(path, "utf-16", tmp_path)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_untold_is_named_with_the_fix(tmp_path: Path, encoding: str) -> None:
    # Zero bytes are valid UTF-8: such a file was read as text full of NULs, or told cp1252.
    path = tmp_path / "u.csv"
    path.write_bytes(TEXT.encode(encoding))
    with pytest.raises(SourceError) as raised:
        as_utf8(path, None, tmp_path)
    assert "looks like UTF-16 without a BOM" in str(raised.value)
    assert raised.value.template.endswith("pass {encoding} utf-16")
    plain = tmp_path / "plain.csv"
    plain.write_text(TEXT, encoding="utf-8")
    assert as_utf8(plain, None, tmp_path) == plain  # UTF-8 stays as it is
