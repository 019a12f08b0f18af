"""A Prefect work pool as the place a migration's shards run (``engine/migrate.py``'s
``ShardPool``): each shard a flow run of a deployment, submitted as a child of the running
``migrate-customers`` flow run, watched by its state, marked crashed when its worker is gone."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.shards import Shard

SHARD_TAG = "custsync-migrate"


def register_deployment(flow: Any, name: str, work_pool: str, root: str, entrypoint: str) -> str:
    """``flow``'s deployment ``name`` on ``work_pool`` (made or updated), run from the folder
    ``root`` on every worker's machine; its full name."""
    source = flow.from_source(root, entrypoint)
    source.deploy(name, work_pool_name=work_pool, print_next_steps=False, build=False, push=False)
    return f"{flow.name}/{name}"


class ProgressArtifact:
    """A Prefect progress artifact of the current flow run, made at the first update and
    updated at most once a percent (not per row)."""

    def __init__(self, key: str, description: str) -> None:
        self._key, self._description = key, description
        self._id: Any = None
        self._percent = -1.0

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total``."""
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        percent = 100.0 * done / total if total else 100.0
        if self._id is None:
            self._id = create_progress_artifact(
                progress=percent, key=self._key, description=self._description
            )
        elif percent - self._percent >= 1.0 or (percent == 100.0 and self._percent < 100.0):
            update_progress_artifact(self._id, progress=percent)
        else:
            return
        self._percent = percent


def publish_summary(markdown: str, table: list[dict[str, Any]]) -> None:
    """A finished run's summary (markdown) and its first rejects (a table, if any) as
    artifacts of the current flow run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(markdown, key="sync-summary", description="Sync summary")
    if table:
        create_table_artifact(table, key="sync-rejects", description="Rejected rows (first 500)")


def ensure_process_pool(name: str) -> bool:
    """The work pool ``name`` (a process pool made if missing); True when it was made."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True


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
