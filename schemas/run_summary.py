"""What Prefect's summary artifact of a sync says: the console's counts, the commonest reasons
with their counts, where the artefacts are, and the first rows that failed or were rejected, as
plain markdown (no links: a run's paths are on a worker, not behind a URL). Reasons are the
masked ones of ``rejects.csv``: no shopper values."""

from __future__ import annotations

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
    lines += ["", f"Target: {report.target}; run {report.run_id}."]
    if report.over_limit:
        lines += ["", f"**Failed:** {_cell(named(report.over_limit))}."]
    if report.reasons:
        lines += ["", "## Commonest reasons", "", "| action | field | reason | rows |",
                  "|---|---|---|---:|"]  # fmt: skip
        lines += [f"| {r['action']} | {_cell(r['field'])} | {_cell(r['reason'])} | {r['rows']:,} |"
                  for r in report.reasons]  # fmt: skip
    if out_dir:
        artefacts = ", ".join(f"`{path}`" for path in report.artefacts(out_dir))
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
    """A table cell: pipes and newlines would break the table; brackets would make a link."""
    text = "" if value is None else str(value)
    for char, escaped in (("|", "\\|"), ("\n", " "), ("[", "\\["), ("]", "\\]")):
        text = text.replace(char, escaped)
    return text


def readiness_markdown(report: BackfillReport) -> str:
    """Readiness before/after by country, as a markdown table (the console's rows)."""
    lines = [
        "# 3-D Secure readiness",
        "",
        f"**{report.ready_before:.1%}** ready before, **{report.ready_after:.1%}** after; "
        f"{report.done()}.",
        "",
        "| country | customers | ready before | ready after |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {row.country} | {row.customers:,} | {row.ready_before:,} | {row.ready_after:,} |"
        for row in report.countries()
    ]
    return "\n".join(lines)
