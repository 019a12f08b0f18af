"""The ``backfill-3ds`` Prefect flow: the 3DS backfill as a deployment, with a readiness
report as a markdown artifact."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State

from connectors.errors import CustsyncError, RunError
from connectors.prefect.secrets import load_credentials_into_environment
from connectors.state.db import DEFAULT_STATE
from engine.backfill import run_backfill
from engine.config import SyncConfig
from flows.prefect_runner import PrefectRunner, failed_in_one_line
from schemas.run_summary import readiness_markdown


@flow(name="backfill-3ds", log_prints=False, persist_result=False)
def backfill_3ds(
    sources: list[str], mapping: str | None = None, target: str = "local",
    entity_id: str | None = None, state: str = DEFAULT_STATE, out: str | None = None,
    rate_limit: float | None = None, dry_run: bool = False,
    credentials_blocks: dict[str, str] | None = None,
) -> dict[str, Any] | State[Any]:  # fmt: skip
    """Make the billing records of customers already in the API 3-D Secure ready."""
    parameters = dict(locals())
    try:
        load_credentials_into_environment(credentials_blocks)
        outcome = run_backfill(SyncConfig.from_parameters(parameters), runner=PrefectRunner())
        create_markdown_artifact(readiness_markdown(outcome.report), key="readiness")
        if outcome.exit_code != 0:
            raise RunError(outcome.error or "some updates failed")
    except CustsyncError as exc:
        return failed_in_one_line(exc)
    return outcome.report.as_json()
