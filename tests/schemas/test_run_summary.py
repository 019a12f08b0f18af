"""Prefect's summary of a sync: counts, the commonest reasons, artefacts, the first failures."""

from __future__ import annotations

import re
from html import escape

from markdown_it import MarkdownIt

from schemas.report import SyncReport
from schemas.run_summary import FIRST_FAILURES, summary_markdown


def test_reasons_artefacts_and_first_failures_are_shown_without_links() -> None:
    report = SyncReport(rows_read=40, failed=2, run_id="r1", target="emea",
                        over_limit="2 rows failed, over {max_failed} 1",
                        reasons=[{"action": "failed", "field": "", "reason": "HTTP 500 [x](y) | z",
                                  "rows": 2},
                                 {"action": "left_out", "field": "phone_number",
                                  "reason": "not a phone number", "rows": 1}])  # fmt: skip
    failures = [{"external_id": f"X{i}", "row": str(i), "field": None, "reason": "HTTP 500",
                 "action": "failed"} for i in range(30)]  # fmt: skip
    failures.append({"external_id": "L1", "row": "1", "field": "phone_number",
                     "reason": "not a phone number", "action": "left_out"})  # fmt: skip
    text = summary_markdown(report, "/srv/out/r1", failures)
    assert "**Failed:** `2 rows failed, over max_failed 1`." in text
    assert "| failed |  | `HTTP 500 [x](y) \\| z` | 2 |" in text  # no link, no broken table
    assert "| left_out | `phone_number` | `not a phone number` | 1 |" in text
    assert "`/srv/out/r1/mappings.csv`" in text
    rows = [line for line in text.splitlines() if line.startswith("| `X")]
    assert len(rows) == FIRST_FAILURES
    assert rows[0] == "| `X0` | `0` |  | `HTTP 500` | `failed` |"
    assert "L1" not in text  # a value left out is not a failure
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert "<a " not in rendered and rendered.count("<tr>\n<td><code>X") == FIRST_FAILURES


def test_a_clean_run_shows_its_counts_alone() -> None:
    text = summary_markdown(SyncReport(rows_read=3, created=3, run_id="r", target="local"))
    assert "| created | 3 |" in text and "reasons" not in text and "First rows" not in text


def test_readiness_markdown_is_by_country() -> None:
    from schemas.report import BackfillReport
    from schemas.run_summary import readiness_markdown

    report = BackfillReport(
        ready_before=0.25, ready_after=0.75, updated=2,
        by_country_before={"GB": {"customers": 4, "ready": 1}},
        by_country_after={"GB": {"customers": 4, "ready": 3}, "FR": {"customers": 0, "ready": 0}},
    )  # fmt: skip
    text = readiness_markdown(report)
    assert "**25.0%** ready before, **75.0%** after; updated 2 customers." in text
    # Each share over that moment's customers of the country.
    assert "| `GB` | 25.0% (1 of 4) | 75.0% (3 of 4) |" in text
    assert "| `FR` | 0.0% (0 of 0) | 0.0% (0 of 0) |" in text


HOSTILE = [
    "<https://evil.example/login>",
    "<img src=x onerror=alert(1)>",
    "[click](https://evil.example)",
    "https://evil.example/plain",
    "**bold** _it_ # heading",
    "`tick`` and ```three",
    "pipe | in it\nand a newline",
]


def test_values_from_data_are_shown_as_they_are_by_a_markdown_engine() -> None:
    # Before: _cell escaped only | newline [ ]: an id <https://evil.example/login> was a link,
    # <img src=x onerror=...> raw HTML in Prefect's summary.
    failures = [{"external_id": v, "row": "1", "field": "email_address", "reason": v,
                 "action": "rejected"} for v in HOSTILE]  # fmt: skip
    report = SyncReport(rows_read=7, rows_rejected=7, run_id="r", target="<b>t</b>")
    text = summary_markdown(report, "/srv/out/`r`", failures)
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert "<a " not in html and "<img" not in html and "<b>" not in html
    assert "<strong>" not in html and "<em>" not in html and "<h1>" not in html.split("</h1>", 1)[1]
    cells = re.findall(r"<td><code>(.*?)</code></td>", html)
    for value in HOSTILE:  # each shown whole, as text
        shown = " ".join(value.splitlines())
        assert escape(shown, quote=False) in cells, value


def test_a_table_cell_shows_a_hostile_value_as_text_and_keeps_numbers() -> None:
    from schemas.run_summary import table_cell

    assert table_cell("[x](http://e.x)") == r"\[x\]\(http\:\/\/e\.x\)"
    assert table_cell("<img src=x>\nnext") == r"\<img src\=x\> next"
    assert table_cell("A 1") == "A 1" and table_cell(7) == 7 and table_cell(None) is None
