from __future__ import annotations

import stat
from pathlib import Path

from connectors.private_files import open_private, owner_only_file, scratch_folder, sweep_scratch


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


def test_scratch_folders_of_runs_that_died_are_swept_and_no_other(tmp_path: Path) -> None:
    # Before: a run killed with kill -9 left a URL source's copy (names, e-mails) in TMPDIR.
    import os
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f"custsync-{dead.pid}-abcd1234"
    alive = tmp_path / f"custsync-{os.getpid()}-abcd1234"
    other = tmp_path / "custsync-ci-prefect"
    for folder in (gone, alive, other):
        folder.mkdir()
        (folder / "0-contacts.csv").write_text("external_id,email_address\nA1,a@example.com\n")
    assert sweep_scratch(tmp_path) == [gone]
    assert not gone.exists() and alive.exists() and other.exists()


def test_a_scratch_folder_is_the_runs_own_and_gone_after_it() -> None:
    import os

    with scratch_folder() as folder:
        assert folder.name.startswith(f"custsync-{os.getpid()}-")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not folder.exists()
