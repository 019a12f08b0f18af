"""``custsync migrate``: the parent of a migration, in this process; its shards on a work pool."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from connectors.errors import InputError
from flows.cli_support import MappingOpt, Options, OutOpt, SourcesArg, end, errors_as_exit


def migrate(
    sources: SourcesArg, mapping: MappingOpt = None,
    target: Annotated[str, typer.Option(help="Target name or URL every worker reaches.")] = "emea",
    entity_id: Annotated[str | None, typer.Option(
        "--entity-id", help="Entity for every row (env VERIFONE_ENTITY_ID), as for sync.")] = None,
    state: Annotated[str, typer.Option(help="The store every shard shares (postgresql://).")] = "",
    shards: Annotated[int, typer.Option(help="Shards per entity (by a hash of the id).")] = 4,
    work_pool: Annotated[str, typer.Option(help="Prefect process work pool.")] = "custsync",
    out: OutOpt = None, rate_limit: Annotated[float | None, typer.Option(
        "--rate-limit", help="Requests per second allowed, in total for every shard.")] = None,
    match_on: Annotated[list[str] | None, typer.Option(
        help="As for sync.", metavar="FIELD")] = None,
    ignore_existing: Annotated[bool, typer.Option(
        "--ignore-existing", help="As for sync.")] = False,
) -> None:  # fmt: skip
    """Sync a big export in shards on a Prefect work pool's workers (PREFECT_API_URL)."""
    from engine.config import SyncConfig
    from flows.migrate_flow import run_migration
    from flows.summary import migrate_line, print_sync

    with errors_as_exit():
        if not os.environ.get("PREFECT_API_URL"):
            raise InputError("custsync migrate needs a Prefect server: set PREFECT_API_URL")
        config = SyncConfig.checked(
            sources=sources, mapping=mapping, target=target, entity_id=entity_id, state=state,
            out=out, rate_limit=rate_limit, match_on=match_on or (),
            ignore_existing=ignore_existing,
        )  # fmt: skip
        outcome = run_migration(config, shards, work_pool, None if Options.quiet else migrate_line)
    end(outcome, False, print_sync)
