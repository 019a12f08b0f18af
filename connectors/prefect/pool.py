"""A Prefect work pool as the place a migration's shards run (``engine/migrate.py``'s
``ShardPool``): the pool made if missing, each shard a flow run of a deployment, submitted as a
child of the running ``migrate-customers`` flow run, watched by its state, marked crashed when
its worker is gone."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.shards import Shard

SHARD_TAG = "custsync-migrate"


def ensure_process_pool(name: str) -> bool:
    """The work pool ``name`` (a process pool made if missing); True when it was made.

    Made, or found made: a worker started at the same time as the migration makes the pool
    it was told to poll when it does not exist yet, and a look before making it lost that
    race (a traceback, exit 1) once in a few starts on a busy machine."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True
        except ObjectAlreadyExists:
            return False


class PrefectShardPool:
    """Shards as flow runs of one deployment."""

    def __init__(self, deployment: str) -> None:
        self.deployment = deployment

    def submit(self, shard: Shard, parameters: dict[str, Any]) -> str:
        """One shard's flow run, a child of the current flow run; not waited for."""
        from prefect.deployments import run_deployment

        run = run_deployment(
            self.deployment,
            parameters=parameters,
            timeout=0,
            as_subflow=True,
            flow_run_name=f"shard {shard.label}",
            tags=[SHARD_TAG],
        )
        return str(run.id)  # type: ignore[union-attr]

    def states(self, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """Each run's state type and message."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        if not run_ids:
            return {}
        ids = FlowRunFilterId(any_=[uuid.UUID(r) for r in run_ids])
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=ids))
        seen: dict[str, tuple[str, str | None]] = {}
        for run in runs:
            state = run.state
            seen[str(run.id)] = (state.type.value, state.message) if state else ("SCHEDULED", None)
        return seen

    def give_up(self, run_id: str, why: str) -> None:
        """The run's worker is gone: its flow run is crashed, so the server stops counting it."""
        from prefect.client.orchestration import get_client
        from prefect.states import Crashed

        with get_client(sync_client=True) as client:
            client.set_flow_run_state(uuid.UUID(run_id), Crashed(message=why), force=True)

    def withdraw(self, run_id: str, why: str) -> None:
        """The run is not needed (a live run took its attempt over): cancelled, so no worker
        starts it; one that already did finds the attempt taken and steps aside."""
        from prefect.client.orchestration import get_client
        from prefect.states import Cancelled

        with get_client(sync_client=True) as client:
            client.set_flow_run_state(uuid.UUID(run_id), Cancelled(message=why), force=True)
