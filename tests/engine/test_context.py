"""A run's context: opened in the order the interface promises, the lock held throughout."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import RunLockedError, SourceError
from connectors.state.store import StateStore
from engine.config import SyncConfig
from engine.context import new_run_id, open_run
from engine.runner import InlineRunner
from tests.helpers import export, people


def config(tmp_path: Path, **overrides: object) -> SyncConfig:
    source = export(tmp_path / "a.csv", people(2))
    fields: dict[str, object] = dict(sources=[str(source)], entity_id="E1",
                                     state=str(tmp_path / "state.db"))  # fmt: skip
    fields.update(overrides)
    return SyncConfig(**fields)  # type: ignore[arg-type]


def test_a_writing_run_holds_the_store(tmp_path: Path) -> None:
    announced: list[str] = []
    with open_run(config(tmp_path), InlineRunner(), "r1", tmp_path / "o", announced.append) as run:
        assert announced == [run.target.description] and run.source.census.rows == 2
        other = StateStore.open(str(tmp_path / "state.db"))
        with pytest.raises(RunLockedError):
            other.lock.acquire("r2")
        other.close()
    again = StateStore.open(str(tmp_path / "state.db"))
    again.lock.acquire("r3")  # released with the run
    again.close()


def test_a_dry_run_creates_no_store_and_takes_no_lock(tmp_path: Path) -> None:
    with open_run(config(tmp_path, dry_run=True), InlineRunner(), "r1", tmp_path / "o") as run:
        assert run.store.location == ":memory:"
    assert not (tmp_path / "state.db").exists()


def test_a_bad_source_stops_before_the_store_is_opened(tmp_path: Path) -> None:
    bad = config(tmp_path, sources=[str(tmp_path / "missing.csv")])
    with pytest.raises(SourceError), open_run(bad, InlineRunner(), "r1", tmp_path / "o"):
        pass
    assert not (tmp_path / "state.db").exists()


def test_run_ids_sort_by_time_and_differ() -> None:
    first, second = new_run_id(), new_run_id()
    assert first != second and len(first) == len("20261126T013000Z-1a2b3c") and first[8] == "T"
