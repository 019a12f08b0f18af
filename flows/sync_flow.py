"""The ``sync-customers`` flow that the CLI (under a Prefect server), deployments, work pools,
``custsync serve`` and a migration's shards all run: a thin shell over ``engine/sync.py``
(steps as tasks, progress and summary as artifacts; failed rows: a Failed run, after its
artefacts). It takes the run's ``SyncConfig`` as it is, and returns the run's outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State

from connectors.errors import CustsyncError, RunError
from connectors.prefect.secrets import read_secret_blocks
from engine.config import ShardAssignment, SyncConfig
from engine.outcome import RunOutcome
from engine.sync import run_sync
from flows.prefect_runner import CONSOLE, Console, PrefectRunner, failed_in_one_line, outcome_of
from flows.run_secrets import kept_apart, resolved
from schemas.report import SyncReport


def _sync_customers(
    config: SyncConfig,
    credentials_blocks: dict[str, str] | None = None,
    assignment: ShardAssignment | None = None,
) -> RunOutcome[SyncReport] | State[Any]:
    """Validate CRM exports and upsert them into the Customer API; write the UUIDs back.

    ``credentials_blocks`` names Prefect Secret blocks to read credentials from, e.g.
    ``{"VERIFONE_USER_UID": "verifone-uid", "VERIFONE_API_KEY": "verifone-key"}``.
    ``assignment`` makes the run one shard of ``custsync migrate``.
    """
    console = CONSOLE.get()
    try:
        config = resolved(config)
        secrets = read_secret_blocks(credentials_blocks)
        if secrets.entity_id is not None and config.entity_id is None:
            config = config.model_copy(update={"entity_id": secrets.entity_id})
        outcome = run_sync(
            config,
            on_start=console.on_start if console else None,
            runner=PrefectRunner(console.progress if console else None),
            credentials=secrets.credentials(),
            assignment=assignment,
        )
    except CustsyncError as exc:
        return failed_in_one_line(exc)
    if outcome.exit_code != 0:
        failed = f"{outcome.report.failed:,} rows failed; see {outcome.out_dir}"
        return failed_in_one_line(RunError(outcome.error or failed), outcome)
    return outcome


# The flow wraps a function the module also holds by its own name: ``serve`` cloudpickles the
# flow into each run's process, and cloudpickle sends a function it cannot find at its module
# and name by value, globals and all (this module's ContextVar cannot be pickled, and string
# annotations no longer resolve): every served run crashed before it began.
sync_customers = flow(name="sync-customers", log_prints=False, persist_result=False)(
    _sync_customers
)


def deployment_parameters(config: SyncConfig) -> dict[str, Any]:
    """What a deployment of ``sync-customers`` stores for this config: the fields that differ
    from the defaults (a later custsync's defaults apply to the rest), as JSON."""
    return {"config": config.model_dump(mode="json", exclude_defaults=True)}


def run_as_flow(
    config: SyncConfig,
    on_start: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunOutcome[SyncReport]:
    """The CLI's sync as a ``sync-customers`` flow run: a failed run is a Failed flow run, and
    its outcome still comes back for the console. A signature or password in the config waits
    in a Secret block of the run's own meanwhile (``run_secrets.py``)."""
    token = CONSOLE.set(Console(progress, on_start))
    try:
        with kept_apart(config) as stored:
            state = sync_customers(stored, return_state=True)
    finally:
        CONSOLE.reset(token)
    return outcome_of(state)
