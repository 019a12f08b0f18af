"""``custsync runs``: the runs a state store recorded, as a table or as JSON for scripts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from connectors.errors import InputError
from connectors.state.db import DEFAULT_STATE
from flows.cli_support import Options, OutputOpt, errors_as_exit, stdout_console, wants_json

if TYPE_CHECKING:  # Rich loads with the table, not with every command
    from rich.console import Console

runs_app = typer.Typer(
    help="The runs recorded in the state store: custsync runs [--last N], runs show RUN_ID.",
    invoke_without_command=True,
)
StateOpt = Annotated[str, typer.Option(help="State store: SQLite path or postgresql:// URL.")]
COLUMNS = ("started", "command", "target", "created", "updated", "unchanged", "rejected",
           "failed", "duration", "outcome")  # fmt: skip


@runs_app.callback()
def runs(
    context: typer.Context,
    state: StateOpt = DEFAULT_STATE,
    last: Annotated[int, typer.Option(help="How many of the latest runs.")] = 20,
    output: OutputOpt = "text",
) -> None:
    """List the latest runs: when, command, target, counts, duration, outcome."""
    if context.invoked_subcommand is not None:
        return
    with errors_as_exit():
        as_json = wants_json(output)
        if last < 1:
            raise InputError("--last must be at least 1")
        records = _records(state, lambda store: store.runs.last(last))
    if as_json:
        typer.echo(json.dumps(records, indent=2))
    elif not Options.quiet:
        print_runs(records)


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="A run id, as `custsync runs` lists them.")],
    state: StateOpt = DEFAULT_STATE,
    output: OutputOpt = "text",
) -> None:
    """Print one run's record and report."""
    with errors_as_exit():
        as_json = wants_json(output)
        record = _records(state, lambda store: store.runs.get(run_id))
        if record is None:
            raise InputError(f"no run {run_id!r} in {state}; `custsync runs` lists them")
    if as_json:
        typer.echo(json.dumps(record, indent=2))
    elif not Options.quiet:
        print_run(record)


def _records(state: str, read: Any) -> Any:
    from connectors.state.db import state_exists
    from connectors.state.store import StateStore

    if not state_exists(state):
        raise InputError(f"no state store at {state}")
    store = StateStore.open(state)
    try:
        return read(store)
    finally:
        store.close()


def run_row(record: dict[str, Any]) -> tuple[str, ...]:
    """One run as the table shows it (counts blank while it runs)."""
    report = record.get("report") or {}

    def count(key: str) -> str:
        return f"{report[key]:,}" if isinstance(report.get(key), int) else ""

    duration = _duration(record.get("started_at"), record.get("finished_at"))
    return (
        str(record.get("started_at") or "").replace("T", " ").removesuffix("Z"),
        str(record.get("command") or ""),
        str(record.get("target") or ""),
        count("created"),
        count("updated"),
        count("unchanged"),
        count("rows_rejected"),
        count("failed"),
        duration,
        str(record.get("status") or ""),
    )


def _duration(started: str | None, finished: str | None) -> str:
    if not started or not finished:
        return ""
    seconds = (_moment(finished) - _moment(started)).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


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
        justify = "right" if name in ("created", "updated", "unchanged", "rejected", "failed",
                                      "duration") else "left"  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for record in records:
        table.add_row(str(record["run_id"]), *run_row(record))
    console.print(table)


def print_run(record: dict[str, Any], console: Console | None = None) -> None:
    """One run: its record, then every key of its report."""
    from rich.table import Table

    console = console or stdout_console()
    table = Table(title=f"run {record['run_id']}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for key in ("command", "target", "started_at", "finished_at", "status"):
        table.add_row(key, str(record.get(key) or ""))
    for key, value in (record.get("report") or {}).items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    console.print(table)
