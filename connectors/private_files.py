"""Shopper data at rest: files and folders readable by their owner alone, from the moment they
exist (the state store, fetched exports, a migration's shard files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


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
