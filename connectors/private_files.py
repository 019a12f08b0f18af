"""Shopper data at rest: files and folders readable by their owner alone, from the moment they
exist (the state store, fetched exports, a migration's shard files)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

# custsync-<pid of the run>-<mkdtemp's random part>
SCRATCH = re.compile(r"custsync-(\d+)-[a-z0-9_]{8}")


def open_private(path: Path) -> BinaryIO:
    """``path`` opened to be written from its start, readable by its owner only (shopper data,
    customers' ids): created so, never readable by others for a moment."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def owner_only_file(path: Path) -> None:
    """Create ``path`` (and its folder) readable by its owner alone, if it is not there yet.

    The store holds shopper data in flight (the journal's bodies); SQLite gives its -wal and
    -shm files the database file's permissions, so they follow."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder of this run's own for copies of shopper data (a download, a transcoded
    export), readable by its owner alone and removed when the block ends. Those of runs that
    died without removing theirs (``kill -9``) are swept first: the folder's name carries its
    run's process id."""
    sweep_scratch(Path(tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix=f"custsync-{os.getpid()}-") as folder:
        yield Path(folder)


def sweep_scratch(where: Path) -> list[Path]:
    """Remove the scratch folders in ``where`` that are this user's and whose run is gone; the
    folders removed."""
    swept = []
    for folder in where.glob("custsync-*-*"):
        found = SCRATCH.fullmatch(folder.name)
        try:
            mine = folder.is_dir() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if found and mine and not _running(int(found.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
    return swept


def _running(pid: int) -> bool:
    """Whether a process of this id exists (one of another user's counts: not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
