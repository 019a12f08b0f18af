"""``custsync runs``: the runs a state store recorded, as a table or as JSON for scripts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from connectors.errors import InputError
from connectors.state.db import DEFAULT_STATE
from engine.history import COLUMNS, COUNTS, duration, read_store, run_row
from flows.cli_support import (
    Options,
    OutputOpt,
    StateOpt,
    errors_as_exit,
    stdout_console,
    wants_json,
)

if TYPE_CHECKING:  # Rich loads with the table, not with every command
    from rich.console import Console

runs_app = typer.Typer(
    help="The runs recorded in the state store: custsync runs [--last N], runs show RUN_ID.",
    invoke_without_command=True,
)


@runs_app.callback()
def runs(
    context: typer.Context, state: StateOpt = DEFAULT_STATE,
    last: Annotated[int, typer.Option(help="How many of the latest runs.")] = 20,
    output: OutputOpt = "text",
) -> None:  # fmt: skip
    """List the latest runs: when, command, target, counts, duration, outcome."""
    if context.invoked_subcommand is not None:
        return
    with errors_as_exit():
        as_json = wants_json(output)
        if last < 1:
            raise InputError("--last must be at least 1")
        records = read_store(state, lambda store: store.runs.last(last))
    if as_json:
        typer.echo(json.dumps(records, indent=2))
    elif not Options.quiet:
        print_runs(records)


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="A run id, as `custsync runs` lists them.")],
    state: StateOpt = DEFAULT_STATE, output: OutputOpt = "text",
) -> None:  # fmt: skip
    """Print one run's record and report."""
    with errors_as_exit():
        as_json = wants_json(output)
        record = read_store(state, lambda store: store.runs.get(run_id))
        if record is None:
            raise InputError(f"no run {run_id!r} in {state}; `custsync runs` lists them")
    if as_json:
        typer.echo(json.dumps(record, indent=2))
    elif not Options.quiet:
        print_run(record)


def print_runs(records: list[dict[str, Any]], console: Console | None = None) -> None:
    """The runs as a table, oldest first (the latest last, nearest the prompt), in 80 columns:
    one space between columns, the target cut with an ellipsis past 15 characters."""
    from rich import box
    from rich.table import Table

    console = console or stdout_console()
    if not records:
        console.print("no runs recorded yet")
        return
    table = Table(title="custsync runs (custsync runs show RUN_ID for one in full)",
                  box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False)  # fmt: skip
    table.add_column("run id", no_wrap=True)
    for name in COLUMNS:
        wide = {"max_width": 15, "overflow": "ellipsis"} if name == "target" else {}
        table.add_column(name, justify="right" if name in COUNTS else "left", no_wrap=True, **wide)  # type: ignore[arg-type]
    for record in records:
        table.add_row(str(record["run_id"]), *run_row(record))
    console.print(table)


# What `runs show` prints, in groups: (title, [(label, report key)]).
SHOWN = (
    ("rows", [("read", "rows_read"), ("valid", "rows_valid"), ("rejected", "rows_rejected"),
              ("values left out", "values_left_out"), ("names split", "names_split")]),
    ("customers", [("created", "created"), ("updated", "updated"), ("unchanged", "unchanged"),
                   ("adopted", "adopted"), ("deleted", "deleted"), ("failed", "failed"),
                   ("rejected by the API", "api_rejected"),
                   ("3-D Secure ready before", "ready_before"),
                   ("3-D Secure ready after", "ready_after")]),
    ("requests", [("sent", "requests"), ("retried", "retries"),
                  ("rate limited", "rate_limited"), ("reconciled", "reconciliations")]),
    ("CRM", [("UUIDs due", "crm_update_rows"), ("confirmed", "crm_confirmed"),
             ("refused", "crm_failed"), ("why it stopped", "crm_error")]),
)  # fmt: skip


def print_run(record: dict[str, Any], console: Console | None = None) -> None:
    """One run as a report: what, where, when and how it ended; its counts in groups; its
    commonest problems as a table (``--output json`` for the record as stored)."""
    from rich.table import Table

    from flows.summary import problems_table

    console = console or stdout_console()
    report = record.get("report") or {}
    took = duration(record.get("started_at"), record.get("finished_at"))
    head = Table(title=f"run {record['run_id']}", show_header=False)
    for name in ("what", "value"):
        head.add_column(name)
    for label, value in (
        ("command", record.get("command")), ("target", record.get("target")),
        ("started", record.get("started_at")), ("finished", record.get("finished_at")),
        ("took", took), ("outcome", record.get("status")),
        ("why", report.get("over_limit") or report.get("stopped_by")),
        ("dry run", "yes" if report.get("dry_run") else None),
    ):  # fmt: skip
        if value:
            head.add_row(label, str(value))
    console.print(head)
    for title, keys in SHOWN:
        rows = [(label, report[key]) for label, key in keys if report.get(key) not in (None, 0)]
        if not rows:
            continue
        group = Table(title=title, show_header=False)
        group.add_column("what")
        group.add_column("count", justify="right")
        for label, value in rows:
            shown = f"{value:.1%}" if isinstance(value, float) else (
                f"{value:,}" if isinstance(value, int) else str(value))  # fmt: skip
            group.add_row(label, shown)
        console.print(group)
    if report.get("reasons"):
        console.print(problems_table("Commonest problems", report["reasons"]))
