"""What a command's run came to, whichever command it was: one type for sync, validate,
backfill-3ds and migrate, returned by the engine and by the flows, ended one way by the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass
class RunOutcome(Generic[R]):
    """A finished (or stopped) run: its report, where its artefacts are, its exit code (the
    interface spec's), and the one line that says why it did not succeed."""

    report: R
    out_dir: Path
    exit_code: int = 0
    error: str | None = None
