"""What Prefect's summary artifact of a sync says: the console's counts, the commonest reasons
with their counts, where the artefacts are, and the first rows that failed or were rejected, as
markdown in which every value is shown as it is (``_cell``: no link, no HTML). Reasons are the
masked ones of ``rejects.csv``: no shopper values."""

from __future__ import annotations

import re
import string
from typing import Any

from schemas.messages import named
from schemas.report import BackfillReport, SyncReport

FIRST_FAILURES = 20


def summary_markdown(
    report: SyncReport, out_dir: str = "", failures: list[dict[str, Any]] | None = None
) -> str:
    """The sync's summary as markdown tables."""
    title = "# custsync sync" + (" (dry run: nothing sent)" if report.dry_run else "")
    lines = [title, "", "| what | count |", "|---|---:|"]
    lines += [f"| {label} | {value} |" for label, value in report.summary_rows()]
    lines += ["", f"Target: {_cell(report.target)}; run {_cell(report.run_id)}."]
    if report.over_limit:
        lines += ["", f"**Failed:** {_cell(named(report.over_limit))}."]
    if report.reasons:
        lines += ["", "## Commonest reasons", "", "| action | field | reason | rows |",
                  "|---|---|---|---:|"]  # fmt: skip
        lines += [f"| {r['action']} | {_cell(r['field'])} | {_cell(r['reason'])} | {r['rows']:,} |"
                  for r in report.reasons]  # fmt: skip
    if out_dir:
        artefacts = ", ".join(_cell(path) for path in report.artefacts(out_dir))
        lines += ["", f"Artefacts: {artefacts}."]
    shown = [f for f in failures or [] if f.get("action") in ("failed", "rejected")]
    if shown:
        columns = ("external_id", "row", "field", "reason", "action")
        lines += ["", "## First rows not sent, or failed", "", "| " + " | ".join(columns) + " |",
                  "|---|---:|---|---|---|"]  # fmt: skip
        lines += ["| " + " | ".join(_cell(f.get(c)) for c in columns) + " |"
                  for f in shown[:FIRST_FAILURES]]  # fmt: skip
    return "\n".join(lines)


def _cell(value: object) -> str:
    """A value in markdown, shown as it is, nothing of it read as markdown or HTML: an inline
    code span (no link, autolink ``<https://...>``, raw ``<img onerror=...>``, emphasis or
    heading can start inside one), fenced by more backticks than the value holds in a row;
    newlines as spaces, and pipes escaped (a table would split the cell on them, even inside
    a code span)."""
    text = "" if value is None else " ".join(str(value).splitlines()).strip()
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


def table_cell(value: object) -> object:
    """A value for a table artifact's cell, shown as it is. Prefect's UI renders each cell as
    markdown, HTML kept where its sanitiser allows: an external id of ``[x](https://...)`` was
    a link in the dashboard, ``<img src=x>`` an image, a bare URL or e-mail an autolink
    (checked in headless Chromium: tests/e2e/test_artifacts_in_the_ui.py). Every ASCII
    punctuation mark is backslash-escaped (CommonMark lets any be), newlines read as spaces;
    numbers stay numbers."""
    if not isinstance(value, str):
        return value
    return _PUNCTUATION.sub(r"\\\1", " ".join(value.splitlines()))


_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def readiness_markdown(report: BackfillReport) -> str:
    """Readiness before/after by country, as a markdown table (the console's rows)."""
    lines = [
        "# 3-D Secure readiness",
        "",
        f"**{report.ready_before:.1%}** ready before, **{report.ready_after:.1%}** after; "
        f"{report.done()}.",
        "",
        "| billing country | ready before (of its customers then) "
        "| ready after (of its customers now) |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {_cell(row.country)} | {row.figure('before')} | {row.figure('after')} |"
        for row in report.countries()
    ]
    return "\n".join(lines)
