"""Rich summaries printed at the end of a command (counts only: no shopper data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from engine.migrate import MigrationProgress
from flows.cli_support import stdout_console
from schemas.report import NO_COUNTRY, BackfillReport, SyncReport


def print_validation(report: dict[str, Any], out_dir: Path, console: Console | None = None) -> None:
    """Rows read/valid/rejected, top reasons, and 3-D Secure readiness."""
    console = console or stdout_console()
    table = Table(title=f"custsync validate ({report['profile']} profile)", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, key in (
        ("rows read", "rows_read"),
        ("valid", "rows_valid"),
        ("rejected", "rows_rejected"),
        ("values left out", "values_left_out"),
        ("names split from a full name (a guess)", "names_split"),
    ):
        if key != "names_split" or report.get(key):
            table.add_row(label, f"{report.get(key, 0):,}")
    share = report["threeds_ready_share"]
    table.add_row("3-D Secure ready (of valid)", f"{report['threeds_ready']:,} ({share:.1%})")
    console.print(table)
    if report.get("problems"):
        title = "Problems: rows rejected (not sent), values left out (the customer sent)"
        console.print(problems_table(title, report["problems"]))
    console.print(f"artefacts: {out_dir}/rejects.csv, {out_dir}/report.json")


def problems_table(title: str, problems: list[dict[str, Any]]) -> Table:
    """rejects.csv's commonest problems: what became of the row, the API field and the
    export's column (where the CRM team fixes it), why, how many rows, and the first one."""
    table = Table(title=title)
    for name in ("action", "field", "column", "reason", "rows", "for example"):
        table.add_column(name, justify="right" if name == "rows" else "left")
    for row in problems:
        table.add_row(row["action"], row["field"], row.get("column") or "", row["reason"],
                      f"{row['rows']:,}", row.get("example") or "")  # fmt: skip
    return table


def print_sync(report: SyncReport, out_dir: Path, console: Console | None = None) -> None:
    """What the run did, per status, and where the artefacts are."""
    console = console or stdout_console()
    title = "custsync sync (dry run: nothing sent)" if report.dry_run else "custsync sync"
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in report.summary_rows():
        table.add_row(label, value)
    console.print(table)
    if report.reasons:
        console.print(problems_table("Commonest reasons (rejects.csv has every row)",
                                     report.reasons))  # fmt: skip
    console.print(f"artefacts: {', '.join(report.artefacts(out_dir))}")


def print_writeback(report: dict[str, Any], out_dir: Path, console: Console | None = None) -> None:
    """What ``custsync writeback`` pushed, and where its record is."""
    console = console or stdout_console()
    dry = bool(report.get("dry_run"))
    table = Table(title="custsync writeback" + (" (dry run: nothing pushed)" if dry else ""),
                  show_header=False)  # fmt: skip
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [("CRM", str(report["crm"])), ("UUIDs due", f"{report['due']:,}")]
    if not dry:
        rows += [("confirmed by the CRM", f"{report['crm_confirmed']:,}"),
                 ("refused by the CRM (rejects.csv, crm_failed)", f"{report['crm_failed']:,}"),
                 ("calls to the CRM", f"{report['crm_calls']:,}")]  # fmt: skip
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    console.print(f"artefacts: {report['crm_update']}, {out_dir}/report.json")


def print_backfill(report: BackfillReport, out_dir: Path, console: Console | None = None) -> None:
    """Readiness before and after, by country, and what was updated."""
    console = console or stdout_console()
    table = Table(title="3-D Secure readiness" + (" (dry run)" if report.dry_run else ""))
    table.add_column("billing country")
    table.add_column("ready before (of its customers then)", justify="right")
    table.add_column("ready after (of its customers now)", justify="right")
    for row in report.countries():
        table.add_row(row.country, row.figure("before"), row.figure("after"))
    table.add_row("all", f"{report.ready_before:.1%} (of {report.customers:,})",
                  f"{report.ready_after:.1%} (of {report.customers:,})")  # fmt: skip
    console.print(table)
    if any(row.country == NO_COUNTRY for row in report.countries()):
        console.print(f"{NO_COUNTRY}: customers with no billing country (3-D Secure needs one)")
    if report.problem_rows():
        problems = Table(title="Missing or invalid, by field")
        for name in ("field", "customers before", "after"):
            problems.add_column(name, justify="left" if name == "field" else "right")
        for name, before, after in report.problem_rows():
            problems.add_row(name, f"{before:,}", f"{after:,}")
        console.print(problems)
    console.print(f"{report.done()}; {report.failed:,} failed")
    console.print(
        f"artefacts: {out_dir}/readiness.csv, {out_dir}/readiness.html, {out_dir}/rejects.csv, "
        f"{out_dir}/report.json"
    )


def migrate_line(seen: MigrationProgress) -> None:
    """One line on stderr per look at the shards: rows, rows/s, ETA, shards by state."""
    eta = f"{seen.eta_s:,.0f} s" if seen.eta_s is not None else "-"
    typer.echo(f"custsync: {seen.done:,}/{seen.total:,} rows, {seen.rows_per_s:,.0f} rows/s, "
               f"ETA {eta}; shards: {seen.running} running, {seen.finished} done, "
               f"{seen.retrying} retrying of {seen.shards}", err=True)  # fmt: skip
