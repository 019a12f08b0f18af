"""What a state store recorded, read without creating one: the runs, as rows for a table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from connectors.errors import InputError
from connectors.state.db import state_exists

if TYPE_CHECKING:
    from connectors.state.store import StateStore

T = TypeVar("T")
# The list fits 80 columns: the run id holds its start (20261204T221941Z-...); rows read,
# rejected, unchanged, the duration and the whole target are in `custsync runs show`.
COLUMNS = ("command", "target", "created", "updated", "failed", "outcome")
COUNTS = ("created", "updated", "failed")
COMMANDS = {"backfill-3ds": "backfill"}  # as the list names them


def read_store(state: str, read: Callable[[StateStore], T]) -> T:
    """``read`` on the store at ``state``; exit 2 when there is none (a typo must not create
    an empty store and answer "no runs")."""
    from connectors.state.store import StateStore

    if not state_exists(state):
        raise InputError(f"no state store at {state}")
    store = StateStore.open(state)
    try:
        return read(store)
    finally:
        store.close()


def run_row(record: dict[str, Any]) -> tuple[str, ...]:
    """One run as the list shows it, in COLUMNS order (counts blank while it runs)."""
    report = record.get("report") or {}

    def count(key: str) -> str:
        return f"{report[key]:,}" if isinstance(report.get(key), int) else ""

    command = str(record.get("command") or "")
    return (
        COMMANDS.get(command, command),
        short_target(str(record.get("target") or "")),
        count("created"),
        count("updated"),
        count("failed"),
        str(record.get("status") or ""),
    )


def short_target(target: str) -> str:
    """A target as the list shows it: ``emea``, ``local``, or a URL's host and port."""
    from urllib.parse import urlsplit

    if target.startswith("local sandbox"):
        return "local"
    name = target.split(" (", 1)[0]
    return urlsplit(name).netloc or name if "://" in name else name


def duration(started: str | None, finished: str | None) -> str:
    """``12.3 s`` or ``4.5 min`` between two recorded stamps; blank if either is missing."""
    if not started or not finished:
        return ""
    seconds = (_moment(finished) - _moment(started)).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
