"""The ``custsync`` command line. Commands import their machinery lazily: start-up stays cheap."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from schemas.errors import CustsyncError, InputError

if TYPE_CHECKING:  # the heavy modules load only with the command that needs them
    from connectors.export_files import ReadOptions
    from flows.sync_run import SyncOutcome
    from flows.sync_steps import SyncConfig
    from schemas.normalize import Profile

app = typer.Typer(
    name="custsync",
    help="Load and keep CRM customers in the Verifone Customer API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Options:
    """Global flags, set by the callback."""

    verbose = False
    quiet = False


@app.callback()
def _global(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
) -> None:
    Options.verbose, Options.quiet = verbose, quiet
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and a search URL carries shopper e-mails and names:
    # its request lines never reach our logs, even with -v.
    for chatty in ("httpx", "httpcore", "hpack"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def fail(message: str, code: int) -> typer.Exit:
    """Print one clear line on stderr; the caller raises the returned Exit."""
    typer.echo(f"custsync: error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8765,
    db: Annotated[str, typer.Option(help="SQLite file for the customers, or :memory:.")] = (
        ".custsync/sandbox.db"
    ),
    user: Annotated[
        list[str] | None,
        typer.Option(
            help="Accepted Basic credentials UID:KEY (repeatable).",
            envvar="CUSTSYNC_SANDBOX_USERS",
        ),
    ] = None,
    read_only_user: Annotated[
        list[str] | None,
        typer.Option(
            help="Basic credentials UID:KEY that may read but not write (403).",
            envvar="CUSTSYNC_SANDBOX_READ_ONLY_USERS",
        ),
    ] = None,
    jwt_secret: Annotated[
        str | None,
        typer.Option(
            help="Accept HS256 Bearer JWTs signed with this.", envvar="CUSTSYNC_SANDBOX_JWT_SECRET"
        ),
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option(help="Token bucket: requests per second (429 past it).")
    ] = None,
    burst: Annotated[
        int | None, typer.Option(help="Token bucket size (default: one second).")
    ] = None,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.")] = 0.0,
    error_rate: Annotated[float, typer.Option(help="Share of requests answered 500.")] = 0.0,
    reset_rate: Annotated[
        float, typer.Option(help="Share of connections dropped unanswered.")
    ] = 0.0,
    lost_response_rate: Annotated[
        float, typer.Option(help="Share of writes committed, then their response dropped.")
    ] = 0.0,
    max_page_size: Annotated[
        int | None, typer.Option(help="Cap on the customers a search page returns.")
    ] = None,
    max_url_length: Annotated[
        int | None, typer.Option(help="Longer request URLs are answered 414.")
    ] = None,
    empty_search_404: Annotated[
        bool, typer.Option("--empty-search-404", help="Answer searches that match nothing 404.")
    ] = False,
    echo_rejected_values: Annotated[
        bool,
        typer.Option("--echo-rejected-values", help="400s quote the values they refuse."),
    ] = False,
    lowercase_emails: Annotated[
        bool, typer.Option("--lowercase-emails", help="Store e-mail addresses lower-cased.")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Seed for the fault dice.")] = None,
) -> None:
    """Run the local Customer API in the foreground (Ctrl-C stops it)."""
    from sandbox.auth import AuthConfig, parse_user_pairs
    from sandbox.faults import FaultSettings
    from sandbox.server import SandboxConfig, serve

    try:
        auth = AuthConfig(
            users=parse_user_pairs(_split_pairs(user)),
            read_only_users=parse_user_pairs(_split_pairs(read_only_user)),
            jwt_secret=jwt_secret,
        )
        faults = FaultSettings(
            rate_limit=rate_limit,
            burst=burst,
            latency_ms=latency_ms,
            error_rate=error_rate,
            reset_rate=reset_rate,
            lost_response_rate=lost_response_rate,
            max_page_size=max_page_size,
            max_url_length=max_url_length,
            empty_search_404=empty_search_404,
            echo_rejected_values=echo_rejected_values,
            lowercase_emails=lowercase_emails,
        )
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("custsync: warning: the sandbox is listening beyond loopback", err=True)
    serve(SandboxConfig(host=host, port=port, db=db, auth=auth, faults=faults, seed=seed))


SourcesArg = Annotated[list[str], typer.Argument(help="CSV or Parquet exports: paths or globs.")]
MappingOpt = Annotated[
    Path | None, typer.Option("--mapping", help="Column mapping (TOML).", dir_okay=False)
]
ProfileOpt = Annotated[
    str, typer.Option("--profile", help="api: Customer API rules; 3ds: also 3-D Secure.")
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="Source encoding (default: UTF-8, BOM or not).")
]
DelimiterOpt = Annotated[
    str | None, typer.Option("--delimiter", help="CSV delimiter (default: detect , ; tab).")
]


def _profile(value: str) -> Profile:
    if value not in ("api", "3ds"):
        raise InputError(f"--profile must be api or 3ds, not {value!r}")
    return value  # type: ignore[return-value]


def _read_options(encoding: str | None, delimiter: str | None) -> ReadOptions:
    from connectors.export_files import ReadOptions

    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise InputError("--delimiter must be one character (or 'tab')")
    return ReadOptions(encoding=encoding, delimiter=delimiter)


@app.command()
def validate(
    sources: SourcesArg,
    mapping: MappingOpt = None,
    profile: ProfileOpt = "api",
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Artefact folder (default out/<run-id>/).")
    ] = None,
) -> None:
    """Check exports against the Customer API (and 3DS) rules; write rejects.csv, report.json."""
    from flows.summary import print_validation
    from flows.validate_run import run_validate

    with errors_as_exit():
        run = run_validate(
            sources,
            mapping,
            _profile(profile),
            _read_options(encoding, delimiter),
            out or default_out_dir("validate"),
        )
    if not Options.quiet:
        print_validation(run.report, run.out_dir)


@app.command()
def sync(
    sources: SourcesArg,
    mapping: MappingOpt = None,
    target: Annotated[
        str,
        typer.Option(help="local (embedded sandbox), sandbox, us-sandbox, emea, us, nz, or a URL."),
    ] = "local",
    entity_id: Annotated[
        str | None,
        typer.Option("--entity-id", help="Entity for every row (env VERIFONE_ENTITY_ID)."),
    ] = None,
    state: Annotated[
        str, typer.Option(help="State store: SQLite path or postgresql:// URL.")
    ] = ".custsync/state.db",
    out: Annotated[
        Path | None, typer.Option(help="Artefact folder (default out/<run-id>/).")
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option("--rate-limit", help="Requests per second allowed.")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at most.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan only; send and change nothing.")
    ] = False,
    profile: ProfileOpt = "api",
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    match_on: Annotated[
        list[str] | None,
        typer.Option(help="Adopt an existing customer with these fields instead of creating one."),
    ] = None,
    delete_missing: Annotated[
        bool, typer.Option("--delete-missing", help="Delete customers whose id left the export.")
    ] = False,
    max_deletes: Annotated[
        int | None, typer.Option(help="Deletions allowed (default: 5% of known customers).")
    ] = None,
) -> None:
    """Validate exports and upsert every valid row into the Customer API; write the UUIDs back."""
    from flows.summary import print_sync
    from flows.sync_steps import SyncConfig

    with errors_as_exit():
        if rate_limit is not None and rate_limit <= 0:
            raise InputError("--rate-limit must be positive")
        if concurrency is not None and concurrency < 1:
            raise InputError("--concurrency must be at least 1")
        config = SyncConfig(
            sources=sources,
            mapping_path=mapping,
            target=target,
            entity_id=entity_id,
            state=state,
            out_dir=out,
            rate_limit=rate_limit,
            concurrency=concurrency,
            dry_run=dry_run,
            profile=_profile(profile),
            read_options=_read_options(encoding, delimiter),
            match_on=_match_fields(match_on),
            delete_missing=delete_missing,
            max_deletes=max_deletes,
        )
        with progress_bar(enabled=not Options.quiet) as progress:
            outcome = _run(config, progress)
    if not Options.quiet:
        print_sync(outcome.report, outcome.out_dir)
    if outcome.error:
        typer.echo(f"custsync: error: {outcome.error}", err=True)
    raise typer.Exit(outcome.exit_code)


mappings_app = typer.Typer(help="The external id -> customer UUID mappings in the state store.")
app.add_typer(mappings_app, name="mappings")


@mappings_app.command("export")
def mappings_export(
    out: Annotated[Path, typer.Option(help="Target file: .csv or .parquet.")],
    state: Annotated[
        str, typer.Option(help="State store: SQLite path or postgresql:// URL.")
    ] = ".custsync/state.db",
) -> None:
    """Write every known mapping (entity_id, external_id, customer_id, status, updated_at)."""
    from connectors.artifacts import export_mappings
    from connectors.state_store import StateStore

    with errors_as_exit():
        if not state.startswith(("postgresql://", "postgres://")) and not Path(state).exists():
            raise InputError(f"no state store at {state}")
        store = StateStore.open(state)
        try:
            mappings = store.mappings()
        finally:
            store.close()
        path = export_mappings(mappings, out)
    if not Options.quiet:
        typer.echo(f"custsync: {mappings.height:,} mappings written to {path}")


def _run(config: SyncConfig, progress: Callable[[int, int], None] | None) -> SyncOutcome:
    """Inside the sync-customers flow when a Prefect API is configured (PREFECT_API_URL);
    directly otherwise, since Prefect would first start a temporary server (flows/sync_run.py)."""
    import os

    from flows.runner import InlineRunner, PrefectRunner
    from flows.sync_run import run_sync

    if not os.environ.get("PREFECT_API_URL"):
        return run_sync(config, on_start=_announce_target, runner=InlineRunner(progress))
    from prefect import flow

    @flow(name="sync-customers", log_prints=False, persist_result=False)
    def sync_customers_cli() -> SyncOutcome:
        return run_sync(config, on_start=_announce_target, runner=PrefectRunner(progress))

    return sync_customers_cli()


@app.command("backfill-3ds")
def backfill_3ds(
    sources: SourcesArg,
    mapping: MappingOpt = None,
    target: Annotated[str, typer.Option(help="Target name or URL, as for sync.")] = "local",
    entity_id: Annotated[str | None, typer.Option("--entity-id")] = None,
    state: Annotated[str, typer.Option(help="State store path or URL.")] = ".custsync/state.db",
    out: Annotated[Path | None, typer.Option(help="Artefact folder.")] = None,
    rate_limit: Annotated[float | None, typer.Option("--rate-limit")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Judge and report; update nothing.")
    ] = False,
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
) -> None:
    """Make the billing records of customers already in the API 3-D Secure ready."""
    from flows.backfill import run_backfill
    from flows.runner import InlineRunner
    from flows.summary import print_backfill
    from flows.sync_steps import SyncConfig

    with errors_as_exit():
        if not state.startswith(("postgresql://", "postgres://")) and not Path(state).exists():
            raise InputError(f"no state store at {state}: backfill-3ds works on synced customers")
        config = SyncConfig(
            sources=sources, mapping_path=mapping, target=target, entity_id=entity_id,
            state=state, out_dir=out, rate_limit=rate_limit, dry_run=dry_run,
            read_options=_read_options(encoding, delimiter),
        )  # fmt: skip
        with progress_bar(enabled=not Options.quiet, label="backfilling rows") as progress:
            outcome = run_backfill(config, runner=InlineRunner(progress))
    if not Options.quiet:
        print_backfill(outcome.report, outcome.out_dir)
    if outcome.error:
        typer.echo(f"custsync: error: {outcome.error}", err=True)
    raise typer.Exit(outcome.exit_code)


@app.command()
def serve(
    sources: SourcesArg,
    mapping: MappingOpt = None,
    cron: Annotated[str, typer.Option(help="When to run (cron, UTC).")] = "0 2 * * *",
    target: Annotated[str, typer.Option(help="Target name or URL, as for sync.")] = "local",
    entity_id: Annotated[str | None, typer.Option("--entity-id")] = None,
    state: Annotated[str, typer.Option(help="State store path or URL.")] = ".custsync/state.db",
    rate_limit: Annotated[float | None, typer.Option("--rate-limit")] = None,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "nightly-sync",
) -> None:
    """Serve the nightly sync from this machine on a cron schedule (needs a Prefect server:
    PREFECT_API_URL). Credentials come from this process's environment."""
    import os

    with errors_as_exit():
        if not os.environ.get("PREFECT_API_URL"):
            raise InputError(
                "custsync serve needs a Prefect server: run `prefect server start` and set "
                "PREFECT_API_URL (schedules are refused by Prefect's temporary server)"
            )
        from flows.sync_flow import serve_parameters, sync_customers

        parameters = serve_parameters(
            sources,
            mapping,
            target,
            entity_id or os.environ.get("VERIFONE_ENTITY_ID"),
            state,
            rate_limit,
        )
        sync_customers.serve(name=name, cron=cron, parameters=parameters, limit=1)


def _announce_target(description: str) -> None:
    if not Options.quiet:
        typer.echo(f"custsync: target: {description}", err=True)


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


def _match_fields(values: list[str] | None) -> tuple[str, ...]:
    from schemas.api_fields import FIELDS_BY_PATH

    fields = tuple(f.strip() for value in values or [] for f in value.split(",") if f.strip())
    for field in fields:
        if field not in FIELDS_BY_PATH or field == "entity_id":
            raise InputError(f"--match-on: {field!r} is not an API field")
    return fields


def _split_pairs(values: list[str] | None) -> list[str]:
    # From the environment the pairs arrive as one space-separated string.
    return [pair for value in values or [] for pair in value.split()]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo(
            "custsync: interrupted; every finished row is recorded, rerun to go on", err=True
        )
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, no traceback without -v
        if Options.verbose:
            raise
        typer.echo(
            f"custsync: error: unexpected {type(exc).__name__}: {exc} (run with -v)", err=True
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
