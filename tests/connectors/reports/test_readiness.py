"""The backfill's readiness report: tallied batch by batch, readiness.csv rows, the HTML page."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import polars as pl
import pytest

from connectors.reports.readiness import (
    READINESS_HEADER,
    ReadinessTally,
    readiness_rows,
    render_html,
    write_readiness_page,
)
from schemas.report import BackfillReport
from tests.helpers import headless_chromium


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


def page_report() -> BackfillReport:
    tally = ReadinessTally()
    tally.add(BEFORE, AFTER)
    return BackfillReport(**tally.summary(), updated=1, run_id="20261202T020000Z-abc123",
                          target="emea (https://emea.example.com)",
                          finished_at="2026-12-02T02:00:09Z")  # fmt: skip


def test_every_bar_carries_its_share_and_count_and_the_page_its_run() -> None:
    page = render_html(page_report())
    assert "Run 20261202T020000Z-abc123 against emea (https://emea.example.com)" in page
    assert "2026-12-02T02:00:09Z" in page
    assert ">GB (2)</text>" in page and ">FR (1)</text>" in page  # customers per country
    assert ">before 50.0% (1 of 2)</text>" in page and ">after 100.0% (2 of 2)</text>" in page
    assert ">before 0.0% (0 of 1)</text>" in page
    # One self-contained file: nothing fetched; it links only the worklists beside it.
    assert "src=" not in page
    assert re.findall(r'href="([^"]+)"', page) == ["readiness.csv", "rejects.csv"]
    assert "Ready means the billing record has" in page and "billing.address_1" in page


def test_a_backfill_that_fixes_countries_keeps_every_share_within_its_own_customers() -> None:
    # The review's case: countries fixed to France moved customers out of (none) into FR; the
    # page divided FR's 25 ready after by its 17 customers before, "147.1%".
    before = judged(
        [(f"f{n}", "FR", []) for n in range(16)]
        + [("f16", "FR", [CITY])]
        + [(f"n{n}", None, ["billing.country_code: required"]) for n in range(21)]
    )
    after = judged(
        [(f"f{n}", "FR", []) for n in range(17)]
        + [(f"n{n}", "FR", []) for n in range(8)]
        + [(f"n{n}", None, ["billing.country_code: required"]) for n in range(8, 21)]
    )
    tally = ReadinessTally()
    tally.add(before, after)
    report = BackfillReport(**tally.summary(), updated=9)
    rows = {r.country: r for r in report.countries()}
    assert (rows["FR"].customers_before, rows["FR"].ready_before) == (17, 16)
    assert (rows["FR"].customers_after, rows["FR"].ready_after) == (25, 25)
    assert (rows["(none)"].customers_before, rows["(none)"].customers_after) == (21, 13)
    page = render_html(report)
    shares = [float(s) for s in re.findall(r'data-share="([\d.]+)"', page)]
    assert shares and all(0.0 <= s <= 1.0 for s in shares)
    assert ">after 100.0% (25 of 25)</text>" in page and ">FR (17 → 25)</text>" in page
    assert "(none)</strong>: customers with no billing country" in page
    # The numbers the page draws are report.json's.
    assert report.by_country_after["FR"] == {"customers": 25, "ready": 25}


@pytest.mark.slow
def test_the_page_read_back_in_headless_chromium(tmp_path: Path) -> None:
    chromium = headless_chromium(tmp_path / "profile")
    report = page_report()
    write_readiness_page(tmp_path, report)
    page = (tmp_path / "readiness.html").as_uri()
    # A phone's width: the chart scales to it rather than running off the screen.
    phone = tmp_path / "phone.png"
    subprocess.run([*chromium, "--window-size=420,900", f"--screenshot={phone}", page],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    assert phone.read_bytes().startswith(b"\x89PNG")
    flags = [*chromium, "--window-size=900,700"]
    dom = subprocess.run([*flags, "--dump-dom", page], capture_output=True,
                         text=True, timeout=120, check=True).stdout  # fmt: skip
    shot = tmp_path / "readiness.png"  # kept in the test's tmp folder, to look at
    subprocess.run([*flags, f"--screenshot={shot}", page], capture_output=True,
                   timeout=120, check=True)  # fmt: skip
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 5_000
    # The chart's data as the browser parsed it: each bar's share and count, as the report says.
    bars = re.findall(r'<rect class="bar (before|after)" data-country="(\w+)" data-ready="(\d+)"'
                      r' data-customers="(\d+)" data-share="([\d.]+)"', dom)  # fmt: skip
    expected = [
        (label, c.country, str(ready), str(customers), f"{ready / customers:.4f}")
        for c in report.countries()
        for label, ready, customers in (("before", c.ready_before, c.customers_before),
                                        ("after", c.ready_after, c.customers_after))
    ]  # fmt: skip
    assert bars == expected
    figures = re.findall(r'<text class="figure (?:before|after)"[^>]*>([^<]+)</text>', dom)
    assert figures == ["before 0.0% (0 of 1)", "after 0.0% (0 of 1)",
                       "before 50.0% (1 of 2)", "after 100.0% (2 of 2)"]  # fmt: skip
    embedded = re.search(r'<script type="application/json" id="readiness-data">(.*?)</script>',
                         dom, re.S)  # fmt: skip
    assert embedded is not None
    assert json.loads(html.unescape(embedded.group(1)))["target"] == report.target


def test_the_worklist_names_the_crm_column_and_why_its_value_was_left_out() -> None:
    # The review's case: Mailing Street is there, 56 characters long; and an e-mail x@@example.com.
    street = "billing.address_1: required for 3-D Secure"
    before = judged([("s", "GB", [street, "email_address: required for 3-D Secure"]),
                     ("t", "GB", [])])  # fmt: skip
    rejects = pl.DataFrame({
        "external_id": ["S", "S"], "field": ["billing.address_lines", "email_address"],
        "reason": ["a line longer than 40 characters: left out whole",
                   "not a valid e-mail address"],
        "action": ["left_out", "left_out"],
    })  # fmt: skip
    columns = {"billing.address_lines": "Mailing Street", "billing.address_1": "Mailing Street",
               "email_address": "Email"}  # fmt: skip
    rows = readiness_rows(before, before, set(), rejects, columns)
    missing = dict(zip(rows["external_id"], rows["still_missing"], strict=True))
    assert missing["S"] == (
        "Mailing Street (billing.address_1): required for 3-D Secure; the export's value was "
        "left out: a line longer than 40 characters: left out whole; Email (email_address): "
        "required for 3-D Secure; the export's value was left out: not a valid e-mail address"
    )
    assert missing["T"] == ""
