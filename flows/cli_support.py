"""What the commands of the CLI share: global options, flag types, progress, errors."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from connectors.errors import CustsyncError, InputError

if TYPE_CHECKING:  # the heavy modules load only with the command that needs them
    from rich.console import Console


class Options:
    """Global flags, set by the callback."""

    verbose = False
    quiet = False


INTERRUPTED = "interrupted; every finished row is recorded, rerun to go on"


def fail(message: str, code: int) -> typer.Exit:
    """Print one clear line on stderr; the caller raises the returned Exit."""
    typer.echo(f"custsync: error: {message}", err=True)
    return typer.Exit(code)


SourcesArg = Annotated[list[str], typer.Argument(help="CSV/Parquet exports: paths, globs, URLs.")]
MappingOpt = Annotated[
    Path | None, typer.Option("--mapping", help="Column mapping (TOML).", dir_okay=False)
]
ProfileOpt = Annotated[
    str, typer.Option("--profile", help="api: Customer API rules; 3ds: also 3-D Secure.")
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="Source encoding (default: UTF-8, BOM or not).")
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict", help="Reject a row for any invalid value (else the value is left out)."
    ),
]
DelimiterOpt = Annotated[
    str | None, typer.Option("--delimiter", help="CSV delimiter (default: detect , ; tab).")
]


StateOpt = Annotated[str, typer.Option(help="State store: SQLite path or postgresql:// URL.")]
OutOpt = Annotated[Path | None, typer.Option(help="Artefact folder (default out/<run-id>/).")]
OutputOpt = Annotated[
    str, typer.Option("--output", help="text (default), or json: the report alone on stdout.")
]


def stdout_console() -> Console:
    """Rich on stdout; piped or redirected, lines as long as they are (a path or a table
    wrapped at 80 columns breaks every script and log that reads them)."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=1000)


def wants_json(output: str) -> bool:
    """--output, checked: whether the report goes to stdout as JSON."""
    if output not in ("text", "json"):
        raise InputError(f"--output must be text or json, not {output!r}")
    return output == "json"


def print_json(report: dict[str, Any]) -> None:
    """A report for scripts: JSON on stdout, nothing else there."""
    typer.echo(json.dumps(report, indent=2, default=str))


@contextmanager
def progress_bar(
    enabled: bool, label: str = "syncing rows"
) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar (rows/s, ETA) on a terminal; nothing when piped or quiet."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("sync", total=None, rate="-")
        started = time.perf_counter()

        def update(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-6)
            bar.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

        yield update


def default_out_dir(kind: str) -> Path:
    """``out/<kind>-<UTC timestamp>/``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("out") / f"{kind}-{stamp}"


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn custsync errors into one line on stderr and their exit code (traceback with -v)."""
    try:
        yield
    except CustsyncError as exc:
        if Options.verbose:
            logging.getLogger("custsync").exception("stopped")
        raise fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (cli.main): Click would say "Aborted!"
        raise fail(INTERRUPTED, 130) from None


def say_why(error: str | None, exit_code: int, failed: int, out_dir: Path) -> None:
    """On stderr, the one line a run that did not succeed ends with, even with -q."""
    if error:
        typer.echo(f"custsync: error: {error}", err=True)
    elif exit_code != 0:
        rows = f"{failed:,} row{'s' if failed != 1 else ''} failed" if failed else "the run failed"
        typer.echo(f"custsync: {rows}; reasons in {out_dir}/rejects.csv", err=True)
