"""``custsync migrate``: the parent of a migration, in this process; its shards on a work pool."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from connectors.errors import InputError, RunError
from flows.cli_support import MappingOpt, Options, OutOpt, SourcesArg, errors_as_exit, say_why


def migrate(
    sources: SourcesArg, mapping: MappingOpt = None,
    target: Annotated[str, typer.Option(help="Target name or URL every worker reaches.")] = "emea",
    entity_id: Annotated[str | None, typer.Option("--entity-id")] = None,
    state: Annotated[str, typer.Option(help="The store every shard shares (postgresql://).")] = "",
    shards: Annotated[int, typer.Option(help="Shards per entity (by a hash of the id).")] = 4,
    work_pool: Annotated[str, typer.Option(help="Prefect process work pool.")] = "custsync",
    out: OutOpt = None, rate_limit: Annotated[float | None, typer.Option("--rate-limit")] = None,
    match_on: Annotated[list[str] | None, typer.Option(help="As for sync.")] = None,
) -> None:  # fmt: skip
    """Sync a big export in shards on a Prefect work pool's workers (PREFECT_API_URL)."""
    from flows.migrate_flow import CONSOLE, OUTCOME, migrate_customers
    from flows.summary import migrate_line, print_sync

    with errors_as_exit():
        if not os.environ.get("PREFECT_API_URL"):
            raise InputError("custsync migrate needs a Prefect server: set PREFECT_API_URL")
        outcomes: list[Any] = []
        console, got = CONSOLE.set(None if Options.quiet else migrate_line), OUTCOME.set(outcomes)
        try:
            migrate_customers(sources, str(mapping) if mapping else None, target, entity_id,
                              state, shards, work_pool, str(out) if out else None, rate_limit,
                              match_on)  # fmt: skip
        except RunError:
            if not outcomes:
                raise
        finally:
            CONSOLE.reset(console)
            OUTCOME.reset(got)
    outcome = outcomes[0]
    if not Options.quiet:
        print_sync(outcome.report, outcome.out_dir)
    say_why(outcome.error, outcome.exit_code, outcome.report.failed, outcome.out_dir)
    raise typer.Exit(outcome.exit_code)
