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
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from connectors.errors import CustsyncError, InputError
from schemas.messages import named

if TYPE_CHECKING:  # the heavy modules load only with the command that needs them
    from rich.console import Console

    from engine.outcome import RunOutcome

R = TypeVar("R")


class Options:
    """Global flags, set by the callback."""

    verbose = False
    quiet = False


INTERRUPTED = "interrupted; every finished row is recorded, rerun to go on"


def flags_without_a_type() -> None:
    """Typer 0.29 shows a flag's type as ``<bool>`` in ``--help``, as if it took a value (a
    user typed ``--dry-run true``), and the exports argument's as ``<list[str]>``: a flag
    shows none, and the argument its help alone."""
    from typer.core import TyperArgument, TyperOption

    option_type = TyperOption.display_type_rich
    argument_type = TyperArgument.display_type_rich

    def flag_type(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else option_type(self, ctx)

    def list_type(self: TyperArgument, ctx: Any) -> str | None:
        return None if self.nargs != 1 else argument_type(self, ctx)

    TyperOption.display_type_rich = flag_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = list_type  # type: ignore[method-assign,assignment]


def fail(message: str, code: int) -> typer.Exit:
    """Print one clear line on stderr; the caller raises the returned Exit."""
    typer.echo(f"custsync: error: {message}", err=True)
    return typer.Exit(code)


SourcesArg = Annotated[list[str], typer.Argument(help="CSV/Parquet exports: paths, globs, URLs.")]
MappingOpt = Annotated[
    Path | None, typer.Option("--mapping", help="Column mapping (TOML).", dir_okay=False)
]
ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile", help="api: Customer API rules; 3ds: also 3-D Secure.", metavar="api|3ds"
    ),
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
    str | None, typer.Option("--delimiter", help="CSV delimiter (default: detect , ; tab |).")
]


StateOpt = Annotated[str, typer.Option(help="State store: SQLite path or postgresql:// URL.")]
OutOpt = Annotated[Path | None, typer.Option(help="Artefact folder (default out/<run-id>/).")]
OutputOpt = Annotated[
    str,
    typer.Option(
        "--output", help="text (default), or json: the report alone on stdout.", metavar="text|json"
    ),
]


def stdout_console() -> Console:
    """Rich on stdout; piped or redirected, lines as long as they are (a path or a table
    wrapped at 80 columns breaks every script and log that reads them).

    Every value it shows is text as it is: export values (an external id ``[/x]``, or
    ``[link=https://evil.example]0035ABC[/link]``), API messages and paths reach its tables,
    and Rich would read their brackets as markup (a crash, a hidden hyperlink) and ``:name:``
    as an emoji. Nothing of custsync's own output uses markup."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else 1000
    return Console(width=width, markup=False, emoji=False, highlight=False)


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


# A run config's fields that the flags name otherwise than ``--field-name``.
FLAGS = {"sources": "SOURCE", "max_rejected_pct": "--max-rejected"}


def flag(field: str) -> str:
    """The flag that sets a run config's field."""
    return FLAGS.get(field, "--" + field.replace("_", "-"))


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn custsync errors into one line on stderr and their exit code (traceback with -v)."""
    try:
        yield
    except CustsyncError as exc:
        if Options.verbose:
            logging.getLogger("custsync").exception("stopped")
        raise fail(named(exc.template, flag), exc.exit_code) from None
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (cli.main): Click would say "Aborted!"
        raise fail(INTERRUPTED, 130) from None


def end(outcome: RunOutcome[R], as_json: bool, show: Callable[[R, Path], None]) -> NoReturn:
    """How every command that runs ends: its report (as JSON on stdout for scripts, or shown),
    the one line saying why if it did not succeed (even with -q), and its exit code."""
    report: Any = outcome.report
    if as_json:
        print_json(report if isinstance(report, dict) else report.as_json())
    elif not Options.quiet:
        show(outcome.report, outcome.out_dir)
    failed = report.get("failed", 0) if isinstance(report, dict) else report.failed
    say_why(outcome.error, outcome.exit_code, failed, outcome.out_dir)
    raise typer.Exit(outcome.exit_code)


def say_why(error: str | None, exit_code: int, failed: int, out_dir: Path) -> None:
    """On stderr, the one line a run that did not succeed ends with, even with -q."""
    if error:
        typer.echo(f"custsync: error: {named(error, flag)}", err=True)
    elif exit_code != 0:
        rows = f"{failed:,} row{'s' if failed != 1 else ''} failed" if failed else "the run failed"
        typer.echo(f"custsync: {rows}; reasons in {out_dir}/rejects.csv", err=True)
