"""The ``migrate-customers`` flow, parent of a migration (``engine/migrate.py``), where
``custsync migrate`` runs or on a worker; its shards are ``sync-customers`` runs of the
``migrate-shard`` deployment it registers on the pool (no ``prefect deploy`` first)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from connectors.errors import CustsyncError, RunError
from connectors.prefect import artifacts, deployments, pool
from connectors.prefect.secrets import load_credentials_into_environment
from engine import migrate
from engine.migrate import MigrateOutcome, MigrationProgress
from flows.prefect_runner import failed_in_one_line
from flows.sync_flow import sync_customers

ROOT, ENTRYPOINT = Path(__file__).resolve().parents[1], "flows/sync_flow.py:sync_customers"
# Set by the CLI around its call: the console's progress, and where the outcome goes.
CONSOLE: ContextVar[Callable[[MigrationProgress], None] | None] = ContextVar("custsync_migrate")
OUTCOME: ContextVar[list[MigrateOutcome]] = ContextVar("custsync_migrate_outcome")


@flow(name="migrate-customers", log_prints=False, persist_result=False)
def migrate_customers(
    sources: list[str], mapping: str | None = None, target: str = "emea",
    entity_id: str | None = None, state: str = "", shards: int = 4,
    work_pool: str = "custsync", out: str | None = None, rate_limit: float | None = None,
    match_on: list[str] | None = None, credentials_blocks: dict[str, str] | None = None,
    entity_credentials_blocks: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any] | State[Any]:  # fmt: skip
    """Split the exports into shards by entity and id, sync each on the work pool's workers,
    merge their artefacts; fails (after every shard ended) if any shard failed for good.
    ``entity_credentials_blocks``: each entity's own Secret blocks, for its shards."""
    from prefect.runtime import flow_run

    console = CONSOLE.get(None)
    try:
        parent, every, own = migrate.credentials_parameters(credentials_blocks,
                                                            entity_credentials_blocks)  # fmt: skip
        load_credentials_into_environment(parent)
        config = migrate.migration_config(sources, mapping, target, entity_id, state,
                                          rate_limit, match_on)  # fmt: skip
        plan = migrate.plan_migration(config, shards)
        pool.ensure_process_pool(work_pool)
        shard_flow = deployments.register_deployment(sync_customers, "migrate-shard", work_pool,
                                                     str(ROOT), ENTRYPOINT)  # fmt: skip
        artifact = artifacts.ProgressArtifact("migrate-progress", "Rows of every shard done")

        def show(seen: MigrationProgress) -> None:
            if seen.total:
                artifact.update(seen.done, seen.total)
            if console is not None:
                console(seen)

        migration_id = str(flow_run.get_id() or "")[:13].rstrip("-") or None
        out_dir = Path(out or f"out/migrate-{migration_id}")
        outcome = migrate.Migration(config, plan, pool.PrefectShardPool(shard_flow), out_dir,
                                    show, migration_id, every, own).run()  # fmt: skip
        OUTCOME.get([]).append(outcome)
        if outcome.exit_code:
            raise RunError(outcome.error or "the migration failed")
    except CustsyncError as exc:
        if console is not None or OUTCOME.get(None) is not None:
            raise
        return failed_in_one_line(exc)
    return outcome.report.as_json()
