from __future__ import annotations

from pathlib import Path

from engine.outcome import RunOutcome
from schemas.report import SyncReport


def test_an_outcome_succeeds_unless_it_says_why_not() -> None:
    ok = RunOutcome(SyncReport(created=1), Path("out/x"))
    assert (ok.exit_code, ok.error, ok.report.created) == (0, None, 1)
    failed = RunOutcome({"rows_read": 3}, Path("out/y"), 1, "3 rows failed")
    assert failed.exit_code == 1 and failed.error == "3 rows failed"
