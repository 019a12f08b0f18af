"""The ``backfill-3ds`` Prefect flow: the 3DS backfill as a deployment, with a readiness
report as a markdown artifact. It takes the run's ``SyncConfig`` as it is."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State

from connectors.errors import CustsyncError, RunError
from connectors.prefect.secrets import read_secret_blocks
from engine.backfill import run_backfill
from engine.config import SyncConfig
from engine.outcome import RunOutcome
from flows.prefect_runner import PrefectRunner, failed_in_one_line
from flows.run_secrets import resolved
from schemas.report import BackfillReport
from schemas.run_summary import readiness_markdown


@flow(name="backfill-3ds", log_prints=False, persist_result=False)
def backfill_3ds(
    config: SyncConfig, credentials_blocks: dict[str, str] | None = None
) -> RunOutcome[BackfillReport] | State[Any]:
    """Make the billing records of customers already in the API 3-D Secure ready."""
    try:
        config = resolved(config)
        secrets = read_secret_blocks(credentials_blocks)
        if secrets.entity_id is not None and config.entity_id is None:
            config = config.model_copy(update={"entity_id": secrets.entity_id})
        outcome = run_backfill(config, PrefectRunner(), secrets.credentials())
        create_markdown_artifact(
            readiness_markdown(outcome.report), key="readiness",
            description="3-D Secure readiness by billing country, before and after this run",
        )  # fmt: skip
    except CustsyncError as exc:
        return failed_in_one_line(exc)
    if outcome.exit_code != 0:
        return failed_in_one_line(RunError(outcome.error or "some updates failed"), outcome)
    return outcome
