"""Mapping files read from disk: any problem is a MappingError (exit 2) naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import MappingError
from connectors.sources.mapping_file import load_mapping


def test_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('external_id = "Id"\n[columns]\n"billing.city" = "City"\n')
    mapping = load_mapping(path)
    assert mapping is not None and mapping.columns == {"billing.city": "City"}
    assert load_mapping(None) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read mapping"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b'external_id = "Id"\n[columns]\n"billing.county" = "County"\n', "unknown API field"),
        (b"external_id = ", "not valid TOML"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "m.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MappingError, match=message) as info:
        load_mapping(path)
    assert info.value.exit_code == 2
