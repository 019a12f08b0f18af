"""``custsync runs``: the runs a state store recorded, as a table or as JSON for scripts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from connectors.errors import InputError
from connectors.state.db import DEFAULT_STATE
from engine.history import COLUMNS, COUNTS, read_store, run_row
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
    """The runs as a table, oldest first (the latest last, nearest the prompt)."""
    from rich.table import Table

    console = console or stdout_console()
    if not records:
        console.print("no runs recorded yet")
        return
    table = Table(title="custsync runs")
    table.add_column("run id", no_wrap=True)
    for name in COLUMNS:
        table.add_column(name, justify="right" if name in COUNTS else "left")
    for record in records:
        table.add_row(str(record["run_id"]), *run_row(record))
    console.print(table)


def print_run(record: dict[str, Any], console: Console | None = None) -> None:
    """One run: its record, then every key of its report."""
    from rich.table import Table

    console = console or stdout_console()
    table = Table(title=f"run {record['run_id']}", show_header=False)
    for name in ("what", "value"):
        table.add_column(name)
    for key in ("command", "target", "started_at", "finished_at", "status"):
        table.add_row(key, str(record.get(key) or ""))
    for key, value in (record.get("report") or {}).items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    console.print(table)
