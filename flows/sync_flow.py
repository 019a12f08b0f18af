"""The ``sync-customers`` Prefect flow: what deployments, work pools and ``custsync serve`` run.

A thin shell over flows/sync_run.py: each step is a Prefect task, progress and the summary are
artifacts, and a run with failed rows ends in a Failed flow run (after writing its artefacts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from connectors.export_files import ReadOptions
from flows.runner import PrefectRunner
from flows.secrets import load_credentials_into_environment
from flows.sync_run import SyncOutcome, run_sync
from flows.sync_steps import DEFAULT_STATE, SyncConfig
from schemas.errors import RunError


def config_from_parameters(parameters: dict[str, Any]) -> SyncConfig:
    """A SyncConfig from flow parameters (plain JSON types, as deployments store them)."""
    out = parameters.get("out")
    mapping = parameters.get("mapping")
    return SyncConfig(
        sources=list(parameters["sources"]),
        mapping_path=Path(mapping) if mapping else None,
        target=parameters.get("target") or "local",
        entity_id=parameters.get("entity_id"),
        state=parameters.get("state") or DEFAULT_STATE,
        out_dir=Path(out) if out else None,
        rate_limit=parameters.get("rate_limit"),
        concurrency=parameters.get("concurrency"),
        dry_run=bool(parameters.get("dry_run", False)),
        profile=parameters.get("profile") or "api",
        read_options=ReadOptions(parameters.get("encoding"), parameters.get("delimiter")),
        match_on=tuple(parameters.get("match_on") or ()),
        delete_missing=bool(parameters.get("delete_missing", False)),
        max_deletes=parameters.get("max_deletes"),
    )


def run_sync_flow_body(parameters: dict[str, Any]) -> SyncOutcome:
    """What the flow does, callable from the CLI inside a flow run."""
    load_credentials_into_environment(parameters.get("credentials_blocks"))
    return run_sync(config_from_parameters(parameters), runner=PrefectRunner())


@flow(name="sync-customers", log_prints=False, persist_result=False)
def sync_customers(
    sources: list[str],
    mapping: str | None = None,
    target: str = "local",
    entity_id: str | None = None,
    state: str = DEFAULT_STATE,
    out: str | None = None,
    rate_limit: float | None = None,
    concurrency: int | None = None,
    dry_run: bool = False,
    profile: str = "api",
    encoding: str | None = None,
    delimiter: str | None = None,
    credentials_blocks: dict[str, str] | None = None,
    match_on: list[str] | None = None,
    delete_missing: bool = False,
    max_deletes: int | None = None,
) -> dict[str, Any]:
    """Validate CRM exports and upsert them into the Customer API; write the UUIDs back.

    ``credentials_blocks`` names Prefect Secret blocks to read credentials from, e.g.
    ``{"VERIFONE_USER_UID": "verifone-uid", "VERIFONE_API_KEY": "verifone-key"}``.
    """
    parameters = {k: v for k, v in locals().items()}
    outcome = run_sync_flow_body(parameters)
    if outcome.exit_code != 0:
        raise RunError(
            outcome.error or f"{outcome.report['failed']} rows failed; see {outcome.out_dir}"
        )
    return outcome.report


def serve_parameters(
    sources: list[str],
    mapping: Path | None,
    target: str,
    entity_id: str | None,
    state: str,
    rate_limit: float | None,
) -> dict[str, Any]:
    """Flow parameters for ``custsync serve`` (validated against the flow's signature)."""
    parameters: dict[str, Any] = {
        "sources": sources,
        "mapping": str(mapping) if mapping else None,
        "target": target,
        "entity_id": entity_id,
        "state": state,
        "rate_limit": rate_limit,
    }
    return sync_customers.validate_parameters(parameters)
