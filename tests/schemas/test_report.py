"""The typed report: report.json's keys in order, and the rows a person is shown."""

from __future__ import annotations

from schemas.report import SyncReport

DOCUMENTED = [
    "rows_read", "rows_valid", "rows_rejected", "created", "updated", "unchanged", "adopted",
    "deleted", "failed", "requests", "retries", "rate_limited", "duration_s",
]  # fmt: skip


def test_report_json_round_trips_with_the_documented_keys() -> None:
    report = SyncReport(rows_read=3, created=2, plan={"create": 2}, run_id="r", load_duration_s=1.5)
    data = report.as_json()
    assert [k for k in data if k in DOCUMENTED] == DOCUMENTED
    assert SyncReport.from_json({**data, "future_key": 1}) == report
    assert "load_duration_s" not in SyncReport(dry_run=True).as_json()


def test_summary_rows_for_a_run_and_a_dry_run() -> None:
    rows = dict(SyncReport(created=1_234, duration_s=2.04).summary_rows())
    assert rows["created"] == "1,234" and rows["duration"] == "2.0 s"
    dry = dict(
        SyncReport(dry_run=True, plan={"create": 3, "unchanged": 2, "delete": 1}).summary_rows()
    )
    assert (dry["would create"], dry["unchanged"], dry["would delete"]) == ("3", "2", "1")
    assert "requests" not in dry


def test_limits_exceeded_says_which_and_by_how_much() -> None:
    report = SyncReport(rows_read=200, rows_rejected=9, api_rejected=1, failed=3)
    assert report.limits_exceeded(None, 0) is None  # no limits set (failed rows: the caller's)
    assert report.limits_exceeded(5.0, 3) is None  # exactly at both limits: within them
    assert report.limits_exceeded(4.9, 2) == (
        "10 of 200 rows rejected (5.0%), over {max_rejected_pct} 4.9%; "
        "3 rows failed, over {max_failed} 2"
    )
    assert SyncReport().limits_exceeded(0.0, 1) is None  # an empty export rejects nothing
