"""The ``sync-customers`` flow that the CLI (under a Prefect server), deployments, work pools,
``custsync serve`` and a migration's shards all run: a thin shell over ``engine/sync.py``
(steps as tasks, progress and summary as artifacts; failed rows: a Failed run, after its
artefacts)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from connectors.errors import CustsyncError, RunError
from connectors.prefect.secrets import load_credentials_into_environment
from connectors.state.db import DEFAULT_STATE
from engine.config import SyncConfig
from engine.sync import SyncOutcome, run_sync
from flows.prefect_runner import WATCHER, PrefectRunner, Watcher, failed_in_one_line


@flow(name="sync-customers", log_prints=False, persist_result=False)
def sync_customers(
    sources: list[str], mapping: str | None = None, target: str = "local",
    entity_id: str | None = None, state: str = DEFAULT_STATE, out: str | None = None,
    rate_limit: float | None = None, concurrency: int | None = None, dry_run: bool = False,
    profile: str = "api", encoding: str | None = None, delimiter: str | None = None,
    credentials_blocks: dict[str, str] | None = None, match_on: list[str] | None = None,
    match_required: bool = False, delete_missing: bool = False, max_deletes: int | None = None,
    strict: bool = False, new_target: bool = False, crm_update: str = "changed",
    max_rejected_pct: float | None = None, max_failed: int = 0,
    shard: list[Any] | None = None, migration: list[Any] | None = None,
) -> dict[str, Any] | State[Any]:  # fmt: skip
    """Validate CRM exports and upsert them into the Customer API; write the UUIDs back.

    ``credentials_blocks`` names Prefect Secret blocks to read credentials from, e.g.
    ``{"VERIFONE_USER_UID": "verifone-uid", "VERIFONE_API_KEY": "verifone-key"}``.
    ``shard`` and ``migration`` make the run one shard of ``custsync migrate``.
    """
    parameters = dict(locals())
    watcher = WATCHER.get()
    try:
        load_credentials_into_environment(credentials_blocks)
        outcome = run_sync(
            SyncConfig.from_parameters(parameters),
            on_start=watcher.on_start if watcher else None,
            runner=PrefectRunner(watcher.progress if watcher else None),
        )
        if watcher is not None:
            watcher.outcome = outcome
        if outcome.exit_code != 0:
            failed = f"{outcome.report.failed} rows failed; see {outcome.out_dir}"
            raise RunError(outcome.error or failed)
    except CustsyncError as exc:
        if watcher is not None:  # the CLI's run: it prints the line and exits with its code
            raise
        return failed_in_one_line(exc)
    return outcome.report.as_json()


def run_as_flow(
    config: SyncConfig,
    on_start: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncOutcome:
    """The CLI's sync as a ``sync-customers`` flow run: a failed run is a Failed flow run, and
    its outcome still comes back for the console."""
    watcher = Watcher(progress, on_start)
    token = WATCHER.set(watcher)
    try:
        sync_customers(**config.as_parameters())
    except RunError:
        if watcher.outcome is None:  # stopped before it had an outcome (the sandbox, say)
            raise
    finally:
        WATCHER.reset(token)
    assert watcher.outcome is not None
    return watcher.outcome


def serve_parameters(
    sources: list[str], mapping: Path | None, target: str, entity_id: str | None, state: str,
    rate_limit: float | None,
) -> dict[str, Any]:  # fmt: skip
    """Flow parameters for ``custsync serve`` (validated against the flow's signature)."""
    return sync_customers.validate_parameters({
        "sources": sources, "mapping": str(mapping) if mapping else None, "target": target,
        "entity_id": entity_id, "state": state, "rate_limit": rate_limit})  # fmt: skip
