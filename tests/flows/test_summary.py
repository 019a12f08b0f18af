"""The console's summaries: counts from the typed report, never shopper data."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from flows.summary import print_backfill, print_sync, print_validation
from schemas.report import BackfillReport, SyncReport


def printed(fn, *args) -> str:  # type: ignore[no-untyped-def]
    console = Console(record=True, width=120)
    fn(*args, console=console)
    return console.export_text()


def test_sync_summary_shows_every_row_of_the_report(tmp_path: Path) -> None:
    report = SyncReport(rows_read=5, rows_valid=4, created=3, failed=1, duration_s=1.25)
    text = printed(print_sync, report, tmp_path)
    for label, value in report.summary_rows():
        assert label in text and value in text
    assert "mappings.csv" in text
    dry = printed(print_sync, SyncReport(dry_run=True, plan={"update": 2}), tmp_path)
    assert "dry run" in dry and "would update" in dry and "plan.csv" in dry


def test_validation_and_backfill_summaries(tmp_path: Path) -> None:
    report = {"profile": "api", "rows_read": 3, "rows_valid": 2, "rows_rejected": 1,
              "threeds_ready": 1, "threeds_ready_share": 0.5,
              "rejects_by_reason": {"required": 1},
              "rejects_by_field_and_reason": {"billing.city: required": 1},
              "reject_examples": {"billing.city: required": "CRM-0042"},
              "problems": [{"action": "rejected", "field": "billing.city",
                            "column": "Mailing City", "reason": "required", "rows": 1,
                            "example": "CRM-0042"}]}  # fmt: skip
    text = printed(print_validation, report, tmp_path)
    assert "billing.city" in text and "50.0%" in text and "CRM-0042" in text
    assert "Mailing City" in text and "rejected" in text  # the export's column, the action
    backfill = BackfillReport(by_country_before={"GB": {"customers": 2, "ready": 0}},
                              by_country_after={"GB": {"customers": 2, "ready": 2}}, customers=2,
                              ready_before=0.0, ready_after=1.0, updated=2,
                              problems_before={"billing.city": 2},
                              problems_after={"billing.postal_code": 1})  # fmt: skip
    text = printed(print_backfill, backfill, tmp_path)
    assert "updated 2 customers" in text and "100.0%" in text
    # The problems as a table (field, before, after), never a Python dict.
    assert "{" not in text and "Missing or invalid, by field" in text
    lines = {line.split()[1]: line.split()[2:] for line in text.splitlines()
             if "billing." in line}  # fmt: skip
    assert lines["billing.city"][:3] == ["│", "2", "│"] and lines["billing.postal_code"][:3] == [
        "│", "0", "│"]  # fmt: skip
