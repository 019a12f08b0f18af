"""The ``sync-customers`` Prefect flow: the one definition that the CLI (under a Prefect
server), deployments, work pools and ``custsync serve`` all run.

A thin shell over ``engine/sync.py``: each step is a Prefect task, progress and the summary are
artifacts, and a run with failed rows (or stopped by the API) ends in a Failed flow run, after
writing its artefacts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow

from connectors.errors import RunError
from connectors.export_files import ReadOptions
from connectors.state.db import DEFAULT_STATE
from engine.config import SyncConfig
from engine.sync import SyncOutcome, run_sync
from flows.prefect_runner import WATCHER, PrefectRunner, Watcher
from flows.secrets import load_credentials_into_environment


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
        match_required=bool(parameters.get("match_required", False)),
        delete_missing=bool(parameters.get("delete_missing", False)),
        max_deletes=parameters.get("max_deletes"),
        strict=bool(parameters.get("strict", False)),
        new_target=bool(parameters.get("new_target", False)),
    )


def parameters_from_config(config: SyncConfig) -> dict[str, Any]:
    """The flow parameters of a SyncConfig (the inverse of ``config_from_parameters``)."""
    return {
        "sources": list(config.sources),
        "mapping": str(config.mapping_path) if config.mapping_path else None,
        "target": config.target,
        "entity_id": config.entity_id,
        "state": config.state,
        "out": str(config.out_dir) if config.out_dir else None,
        "rate_limit": config.rate_limit,
        "concurrency": config.concurrency,
        "dry_run": config.dry_run,
        "profile": config.profile,
        "encoding": config.read_options.encoding,
        "delimiter": config.read_options.delimiter,
        "match_on": list(config.match_on) or None,
        "match_required": config.match_required,
        "delete_missing": config.delete_missing,
        "max_deletes": config.max_deletes,
        "strict": config.strict,
        "new_target": config.new_target,
    }


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
    match_required: bool = False,
    delete_missing: bool = False,
    max_deletes: int | None = None,
    strict: bool = False,
    new_target: bool = False,
) -> dict[str, Any]:
    """Validate CRM exports and upsert them into the Customer API; write the UUIDs back.

    ``credentials_blocks`` names Prefect Secret blocks to read credentials from, e.g.
    ``{"VERIFONE_USER_UID": "verifone-uid", "VERIFONE_API_KEY": "verifone-key"}``.
    """
    parameters = dict(locals())
    load_credentials_into_environment(credentials_blocks)
    watcher = WATCHER.get()
    outcome = run_sync(
        config_from_parameters(parameters),
        on_start=watcher.on_start if watcher else None,
        runner=PrefectRunner(watcher.progress if watcher else None),
    )
    if watcher is not None:
        watcher.outcome = outcome
    if outcome.exit_code != 0:
        failed = f"{outcome.report.failed} rows failed; see {outcome.out_dir}"
        raise RunError(outcome.error or failed)
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
        sync_customers(**parameters_from_config(config))
    except RunError:
        if watcher.outcome is None:  # stopped before it had an outcome (the sandbox, say)
            raise
    finally:
        WATCHER.reset(token)
    assert watcher.outcome is not None
    return watcher.outcome


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
