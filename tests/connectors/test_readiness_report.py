"""The backfill's readiness report: tallied batch by batch, readiness.csv rows, the HTML page."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from connectors.readiness_report import (
    READINESS_HEADER,
    ReadinessTally,
    readiness_rows,
    write_readiness_page,
)
from schemas.report import BackfillReport


def judged(rows: list[tuple[str, str, list[str]]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"customer_id": [r[0] for r in rows], "external_id": [r[0].upper() for r in rows],
         "billing.country_code": [r[1] for r in rows], "problems": [r[2] for r in rows]},
        schema={"customer_id": pl.String, "external_id": pl.String,
                "billing.country_code": pl.String, "problems": pl.List(pl.String)},
    )  # fmt: skip


CITY, POSTAL = "billing.city: required", "billing.postal_code: required"
BEFORE = judged([("a", "GB", [CITY]), ("b", "GB", []), ("c", "FR", [POSTAL, CITY])])
AFTER = judged([("a", "GB", []), ("b", "GB", []), ("c", "FR", ["billing.postal_code: required"])])


def test_batches_sum_to_the_whole() -> None:
    whole, batched = ReadinessTally(), ReadinessTally()
    whole.add(BEFORE, AFTER)
    batched.add(BEFORE.head(1), AFTER.head(1))
    batched.add(BEFORE.tail(2), AFTER.tail(2))
    assert whole.summary() == batched.summary()
    summary = whole.summary()
    assert (summary["ready_before"], summary["ready_after"]) == (0.3333, 0.6667)
    assert summary["problems_before"] == {"billing.city": 2, "billing.postal_code": 1}
    assert summary["by_country_after"] == {"FR": {"customers": 1, "ready": 0},
                                           "GB": {"customers": 2, "ready": 2}}  # fmt: skip


def test_readiness_rows_and_page(tmp_path: Path) -> None:
    rows = readiness_rows(BEFORE, AFTER, {"a"})
    assert rows.columns == READINESS_HEADER
    assert rows.row(0) == ("a", "A", "GB", False, True, "", True)
    assert rows.row(2)[-2:] == ("billing.postal_code: required", False)
    tally = ReadinessTally()
    tally.add(BEFORE, AFTER)
    write_readiness_page(tmp_path, BackfillReport(**tally.summary(), updated=1))
    page = (tmp_path / "readiness.html").read_text()
    assert page.startswith("<!DOCTYPE html>") or "<html" in page
    assert "GB" in page and "FR" in page and "<svg" in page
    assert (tmp_path / "report.json").exists()
