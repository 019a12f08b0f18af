"""The ``custsync`` command line. Commands import their machinery lazily: start-up stays cheap."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from connectors.errors import InputError
from connectors.state.db import DEFAULT_STATE
from flows.cli_support import (
    INTERRUPTED,
    DelimiterOpt,
    EncodingOpt,
    MappingOpt,
    Options,
    OutOpt,
    OutputOpt,
    ProfileOpt,
    SourcesArg,
    StateOpt,
    StrictOpt,
    default_out_dir,
    end,
    errors_as_exit,
    fail,
    flags_without_a_type,
    progress_bar,
    wants_json,
)
from flows.migrate_cli import migrate
from flows.run_history import runs_app

if TYPE_CHECKING:
    from engine.config import SyncConfig
    from engine.outcome import RunOutcome
    from schemas.report import SyncReport

HELP = "Load and keep CRM customers in the Verifone Customer API."
flags_without_a_type()
app = typer.Typer(name="custsync", help=HELP, no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)  # fmt: skip


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"custsync {version('custsync')}")
        raise typer.Exit(0)


@app.callback()
def _global(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    _version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version.")] = False,
) -> None:  # fmt: skip
    Options.verbose, Options.quiet = verbose, quiet
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and a search URL carries shopper e-mails and names:
    # its request lines never reach our logs, even with -v.
    for chatty in ("httpx", "httpcore", "hpack"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sandbox(context: typer.Context) -> None:
    """Run the local Customer API in the foreground (Ctrl-C stops it); --help for its flags."""
    from sandbox.command import main as sandbox_main

    raise typer.Exit(sandbox_main(list(context.args)))


@app.command()
def validate(
    sources: SourcesArg, mapping: MappingOpt = None, profile: ProfileOpt = "api",
    encoding: EncodingOpt = None, delimiter: DelimiterOpt = None, out: OutOpt = None,
    strict: StrictOpt = False, output: OutputOpt = "text",
) -> None:  # fmt: skip
    """Check exports against the Customer API (and 3DS) rules; write rejects.csv, report.json."""
    from engine.config import SyncConfig
    from engine.validate import run_validate
    from flows.summary import print_validation

    with errors_as_exit():
        as_json = wants_json(output)
        config = SyncConfig.checked(
            sources=sources, mapping=mapping, profile=profile, encoding=encoding,
            delimiter=delimiter, strict=strict,
        )  # fmt: skip
        outcome = run_validate(
            config.sources,
            config.mapping,
            config.profile,
            config.read_options,
            out or default_out_dir("validate"),
            strict=config.strict,
        )
    end(outcome, as_json, print_validation)


@app.command()
def sync(
    sources: SourcesArg, mapping: MappingOpt = None,
    target: Annotated[str, typer.Option(
        help="local (embedded sandbox), sandbox, us-sandbox, emea, us, nz, or a URL.")] = "local",
    entity_id: Annotated[str | None, typer.Option(
        "--entity-id", help="Entity for every row (env VERIFONE_ENTITY_ID).")] = None,
    state: StateOpt = DEFAULT_STATE, out: OutOpt = None,
    rate_limit: Annotated[float | None, typer.Option(
        "--rate-limit", help="Requests per second allowed.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at most.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Plan only; send and change nothing.")] = False,
    profile: ProfileOpt = "api", encoding: EncodingOpt = None, delimiter: DelimiterOpt = None,
    match_on: Annotated[list[str] | None, typer.Option(
        help="Adopt an existing customer with these fields instead of creating one.",
        metavar="FIELD")] = None,
    match_required: Annotated[bool, typer.Option(
        "--match-required", help="With --match-on: reject a row whose match fields are empty.",
    )] = False,
    delete_missing: Annotated[bool, typer.Option(
        "--delete-missing", help="Delete customers whose id left the export.")] = False,
    max_deletes: Annotated[int | None, typer.Option(
        help="Deletions allowed (default: 5% of known customers).")] = None,
    strict: StrictOpt = False,
    new_target: Annotated[bool, typer.Option("--new-target", help=(
        "The state store's mappings belong to another API: forget them, start afresh."))] = False,
    ignore_existing: Annotated[bool, typer.Option("--ignore-existing", help=(
        "Customers the API holds of an entity the store knows none of are not this export's: "
        "create beside them (else the run stops: they may be its twins)."))] = False,
    crm_update: Annotated[str, typer.Option(
        help="With a \\[writeback] mapping: changed UUIDs since the last, or full.",
        metavar="changed|full")] = "changed",
    max_rejected: Annotated[float | None, typer.Option(
        "--max-rejected", help="Fail the run (exit 1) past this % of rows rejected.")] = None,
    max_failed: Annotated[int, typer.Option(
        "--max-failed", help="Failed rows tolerated (default 0: any fails).")] = 0,
    output: OutputOpt = "text",
) -> None:  # fmt: skip
    """Validate exports and upsert every valid row into the Customer API; write the UUIDs back."""
    from engine.config import SyncConfig
    from flows.summary import print_sync

    with errors_as_exit():
        as_json = wants_json(output)
        config = SyncConfig.checked(
            sources=sources, mapping=mapping, target=target, entity_id=entity_id, state=state,
            out=out, rate_limit=rate_limit, concurrency=concurrency, dry_run=dry_run,
            profile=profile, encoding=encoding, delimiter=delimiter, match_on=match_on or (),
            match_required=match_required, delete_missing=delete_missing,
            max_deletes=max_deletes, strict=strict, new_target=new_target,
            ignore_existing=ignore_existing, crm_update=crm_update,
            max_rejected_pct=max_rejected, max_failed=max_failed,
        )  # fmt: skip
        with progress_bar(enabled=not Options.quiet) as progress:
            outcome = _run(config, progress)
    end(outcome, as_json, print_sync)


app.command()(migrate)


@app.command()
def writeback(
    mapping: Annotated[Path, typer.Option(
        help="The mapping file whose \\[writeback] says where.")],
    state: StateOpt = DEFAULT_STATE, out: OutOpt = None,
    entity_id: Annotated[str | None, typer.Option(
        "--entity-id", help="Only this entity's customers (default: every entity).")] = None,
    crm_update: Annotated[str, typer.Option(
        help="changed UUIDs since the CRM last confirmed them, or full.",
        metavar="changed|full")] = "changed",
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Write what would be pushed; push and mark nothing.")] = False,
    output: OutputOpt = "text",
) -> None:  # fmt: skip
    """Push the UUIDs the CRM does not hold yet, without syncing (after a CRM outage, say)."""
    from engine.writeback import run_writeback
    from flows.summary import print_writeback

    with errors_as_exit():
        as_json = wants_json(output)
        if crm_update not in ("changed", "full"):
            raise InputError(f"--crm-update must be changed or full, not {crm_update!r}")
        outcome = run_writeback(state, mapping, out or default_out_dir("writeback"), entity_id,
                                full=crm_update == "full", dry_run=dry_run)  # fmt: skip
    end(outcome, as_json, print_writeback)


mappings_app = typer.Typer(help="The external id -> customer UUID mappings in the state store.")
app.add_typer(mappings_app, name="mappings")
app.add_typer(runs_app, name="runs")


@mappings_app.command("export")
def mappings_export(
    out: Annotated[Path, typer.Option(help="Target file: .csv or .parquet.")],
    state: StateOpt = DEFAULT_STATE) -> None:  # fmt: skip
    """Write every known mapping (entity_id, external_id, customer_id, status, updated_at)."""
    from connectors.reports.artifacts import export_mappings
    from engine.history import read_store

    with errors_as_exit():
        mappings = read_store(state, lambda store: store.customers.mappings())
        path = export_mappings(mappings, out)
    if not Options.quiet:
        typer.echo(f"custsync: {mappings.height:,} mappings written to {path}")


def _run(config: SyncConfig, progress: Callable[[int, int], None] | None) -> RunOutcome[SyncReport]:
    """Inside the sync-customers flow when a Prefect API is configured (PREFECT_API_URL);
    directly otherwise, since Prefect would first start a temporary server (~20 s)."""
    if not os.environ.get("PREFECT_API_URL"):
        from engine.runner import InlineRunner
        from engine.sync import run_sync

        return run_sync(config, on_start=_announce_target, runner=InlineRunner(progress))
    from flows.sync_flow import run_as_flow

    return run_as_flow(config, on_start=_announce_target, progress=progress)


@app.command("backfill-3ds")
def backfill_3ds(
    sources: SourcesArg, mapping: MappingOpt = None,
    target: Annotated[str, typer.Option(help="Target name or URL, as for sync.")] = "local",
    entity_id: Annotated[str | None, typer.Option(
        "--entity-id", help="Entity for every row (env VERIFONE_ENTITY_ID), as for sync.")] = None,
    state: StateOpt = DEFAULT_STATE,
    out: Annotated[Path | None, typer.Option(help="Artefact folder.")] = None,
    rate_limit: Annotated[float | None, typer.Option(
        "--rate-limit", help="Requests per second allowed, as for sync.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Judge and report; update nothing.")] = False,
    encoding: EncodingOpt = None, delimiter: DelimiterOpt = None, output: OutputOpt = "text",
) -> None:  # fmt: skip
    """Make the billing records of customers already in the API 3-D Secure ready."""
    from connectors.state.db import state_exists
    from engine.backfill import run_backfill
    from engine.config import SyncConfig
    from engine.runner import InlineRunner
    from flows.summary import print_backfill

    with errors_as_exit():
        as_json = wants_json(output)
        if not state_exists(state):
            raise InputError(f"no state store at {state}: backfill-3ds works on synced customers")
        config = SyncConfig.checked(
            sources=sources, mapping=mapping, target=target, entity_id=entity_id, state=state,
            out=out, rate_limit=rate_limit, dry_run=dry_run, encoding=encoding,
            delimiter=delimiter,
        )  # fmt: skip
        with progress_bar(enabled=not Options.quiet, label="backfilling rows") as progress:
            outcome = run_backfill(config, runner=InlineRunner(progress))
    end(outcome, as_json, print_backfill)


@app.command()
def serve(
    sources: SourcesArg, mapping: MappingOpt = None,
    cron: Annotated[str, typer.Option(help="When to run (cron, UTC).")] = "0 2 * * *",
    target: Annotated[str, typer.Option(help="Target name or URL, as for sync.")] = "local",
    entity_id: Annotated[str | None, typer.Option("--entity-id")] = None,
    state: StateOpt = DEFAULT_STATE,
    rate_limit: Annotated[float | None, typer.Option("--rate-limit")] = None,
    name: Annotated[str, typer.Option(
        help="Deployment name (never one serve did not make).")] = "nightly-sync-served",
) -> None:  # fmt: skip
    """Serve the nightly sync from this machine on a cron schedule (needs a Prefect server:
    PREFECT_API_URL). Credentials come from this process's environment."""
    with errors_as_exit():
        from connectors.prefect.deployments import check_cron

        check_cron(cron)
        if not os.environ.get("PREFECT_API_URL"):
            raise InputError(
                "custsync serve needs a Prefect server: run `prefect server start` and set "
                "PREFECT_API_URL (schedules are refused by Prefect's temporary server)"
            )
        from connectors.prefect.deployments import SERVE_TAG, check_serve_name
        from connectors.prefect.secrets import RUN_SECRETS_PREFIX
        from engine.config import SyncConfig
        from flows.run_secrets import kept_apart
        from flows.sync_flow import deployment_parameters, sync_customers

        check_serve_name(sync_customers.name, name)
        entity = entity_id or os.environ.get("VERIFONE_ENTITY_ID")
        config = SyncConfig.checked(
            sources=sources, mapping=mapping, target=target, entity_id=entity, state=state,
            rate_limit=rate_limit,
        )  # fmt: skip
        tags = [SERVE_TAG]  # what check_serve_name knows serve's own by
        # A signature or password waits in a Secret block named after the deployment while
        # this process serves it (its runs resolve it here), never in the stored parameters.
        with kept_apart(config, f"{RUN_SECRETS_PREFIX}serve-{name}") as stored:
            parameters = deployment_parameters(stored)
            sync_customers.serve(name=name, cron=cron, parameters=parameters, limit=1, tags=tags)


@app.command()
def alerts(
    notify: Annotated[str, typer.Option(help="Notification block TYPE/NAME: slack-webhook/ops.")],
    name: Annotated[str, typer.Option(help="Automation name.")] = "custsync: a run failed",
) -> None:
    """Be told of every failed sync-customers or backfill-3ds flow run: a Prefect automation
    (on PREFECT_API_URL's server) that notifies through a block you made."""
    with errors_as_exit():
        if not os.environ.get("PREFECT_API_URL"):
            raise InputError("custsync alerts needs a Prefect server: set PREFECT_API_URL")
        from connectors.prefect.alerts import create_failure_alert

        automation = create_failure_alert(notify, name)
    if not Options.quiet:
        typer.echo(f"custsync: automation {name!r} ({automation}) notifies {notify} of failed runs")


def _announce_target(description: str) -> None:
    if not Options.quiet:  # on stderr: stdout is the report's, with --output json
        typer.echo(f"custsync: target: {description}", err=True)


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    # A worker cancelling the run, `kill`, systemd: stop as Ctrl-C does (the run recorded as
    # failed, every finished row kept), not dead in the middle of a write: by Ctrl-C's
    # handler, called here (while the API session's loop runs, its own, which cancels the work
    # cleanly). Not by relaying a SIGINT: a script's background job ignores SIGINT.
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def _ignore_sigint_but_keep_its_handler() -> None:
    """A POSIX shell starts a script's background job with SIGINT ignored: a Ctrl-C in the
    terminal is not for it. It stays so (SIGINT blocked), but the handler Python and the
    event loop install for Ctrl-C is there for SIGTERM to call."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> None:
    """Console-script entry point."""
    _ignore_sigint_but_keep_its_handler()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        app()
    except KeyboardInterrupt:
        fail(INTERRUPTED, 130)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, no traceback without -v
        if Options.verbose:
            raise
        # The exception's own text is not shown: it may quote a value from the export.
        fail(f"internal error ({type(exc).__name__}); rerun with -v for details", 1)
        sys.exit(1)


if __name__ == "__main__":
    main()
