from __future__ import annotations

import stat
from pathlib import Path

from connectors.private_files import open_private, owner_only_file


def test_a_private_file_is_its_owners_alone_and_written_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "copy.csv"
    path.write_bytes(b"an older, longer content")
    path.chmod(0o600)
    with open_private(tmp_path / "new.csv") as out:
        out.write(b"x")
    with open_private(path) as out:
        out.write(b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o600


def test_an_owner_only_file_and_its_new_folder_are_closed_to_others(tmp_path: Path) -> None:
    path = tmp_path / "new" / "state.db"
    owner_only_file(path)
    owner_only_file(path)  # there already: left as it is
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
