"""What a state store recorded, read without creating one: runs as table rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import InputError
from connectors.state.store import StateStore
from engine.history import COLUMNS, duration, read_store, run_row, short_target


def test_a_missing_store_is_an_input_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(InputError, match="no state store at"):
        read_store(str(path), lambda store: store.runs.last(5))
    assert not path.exists()


def test_runs_are_read_from_a_real_store(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    StateStore.open(path).close()
    assert read_store(path, lambda store: store.runs.last(5)) == []


def test_a_run_becomes_a_row_in_column_order() -> None:
    record = {
        "started_at": "2026-12-02T10:00:00Z", "finished_at": "2026-12-02T10:03:00Z",
        "command": "sync", "target": "emea (https://emea.gsc.verifone.cloud/oidc/customer-service)",
        "status": "ok",
        "report": {"created": 1234, "updated": 0, "unchanged": 5, "rows_rejected": 2, "failed": 0},
    }  # fmt: skip
    row = dict(zip(COLUMNS, run_row(record), strict=True))
    assert row == {"command": "sync", "target": "emea", "created": "1,234", "updated": "0",
                   "failed": "0", "outcome": "ok"}  # fmt: skip
    # Still running: no report, no finish: counts blank, not zero.
    running = run_row({"started_at": "2026-12-02T10:00:00Z", "status": "running"})
    assert running[2:5] == ("",) * 3


@pytest.mark.parametrize(
    ("target", "shown"),
    [("local sandbox (embedded, data in .custsync/sandbox.db)", "local"),
     ("emea (https://emea.gsc.verifone.cloud/oidc/customer-service)", "emea"),
     ("http://127.0.0.1:41303/oidc/customer-service", "127.0.0.1:41303"),
     ("https://api.example.com/oidc/customer-service", "api.example.com")],
)  # fmt: skip
def test_a_target_is_shortened_for_the_list(target: str, shown: str) -> None:
    assert short_target(target) == shown


def test_durations_read_as_people_say_them() -> None:
    assert duration("2026-12-02T10:00:00Z", "2026-12-02T10:00:12.34Z") == "12.3 s"
    assert duration("2026-12-02T10:00:00+00:00", "2026-12-02T10:04:30+00:00") == "4.5 min"
    assert duration("2026-12-02T10:00:00Z", None) == ""
