"""The ``migrate-customers`` flow, parent of a migration (``engine/migrate.py``), where
``custsync migrate`` runs or on a worker; its shards are ``sync-customers`` runs of the
``migrate-shard`` deployment it registers on the pool (no ``prefect deploy`` first). It takes
the shards' ``SyncConfig`` as it is, and returns the migration's outcome."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from connectors.errors import CustsyncError, RunError
from connectors.prefect import artifacts, deployments, pool
from connectors.prefect.secrets import read_secret_blocks
from engine import migrate
from engine.config import SyncConfig
from engine.migrate import MigrationProgress
from engine.outcome import RunOutcome
from flows.prefect_runner import failed_in_one_line, outcome_of
from flows.run_secrets import kept_apart, resolved
from flows.sync_flow import sync_customers
from schemas.report import SyncReport

ROOT, ENTRYPOINT = Path(__file__).resolve().parents[1], "flows/sync_flow.py:sync_customers"
# Set by the CLI around its call: the console's progress line (the outcome is the result).
CONSOLE: ContextVar[Callable[[MigrationProgress], None] | None] = ContextVar(
    "custsync_migrate", default=None
)


@flow(name="migrate-customers", log_prints=False, persist_result=False)
def migrate_customers(
    config: SyncConfig, shards: int = 4, work_pool: str = "custsync",
    credentials_blocks: dict[str, str] | None = None,
    entity_credentials_blocks: dict[str, dict[str, str]] | None = None,
) -> RunOutcome[SyncReport] | State[Any]:  # fmt: skip
    """Split the exports into shards by entity and id, sync each on the work pool's workers,
    merge their artefacts; fails (after every shard ended) if any shard failed for good.
    ``entity_credentials_blocks``: each entity's own Secret blocks, for its shards."""
    from prefect.runtime import flow_run

    console = CONSOLE.get()
    try:
        parent, every, own = migrate.credentials_parameters(credentials_blocks,
                                                            entity_credentials_blocks)  # fmt: skip
        secrets = read_secret_blocks(parent)
        # The shards get the config as it came (a signature or password by reference, which
        # each resolves on its worker); this run works with it resolved.
        for_shards = migrate.for_workers(config)
        config = migrate.for_workers(resolved(config))
        plan = migrate.plan_migration(config, shards, secrets.credentials())
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
        out_dir = Path(config.out or f"out/migrate-{migration_id}")
        outcome = migrate.Migration(config, plan, pool.PrefectShardPool(shard_flow), out_dir,
                                    show, migration_id, every, own,
                                    shard_config=for_shards).run()  # fmt: skip
    except CustsyncError as exc:
        return failed_in_one_line(exc)
    if outcome.exit_code:
        return failed_in_one_line(RunError(outcome.error or "the migration failed"), outcome)
    return outcome


def run_migration(
    config: SyncConfig,
    shards: int,
    work_pool: str,
    console: Callable[[MigrationProgress], None] | None,
) -> RunOutcome[SyncReport]:
    """``custsync migrate``: the migration's parent as a flow run in this process."""
    token = CONSOLE.set(console)
    try:
        with kept_apart(config) as stored:  # until every shard has ended
            state = migrate_customers(stored, shards, work_pool, return_state=True)
    finally:
        CONSOLE.reset(token)
    return outcome_of(state)
