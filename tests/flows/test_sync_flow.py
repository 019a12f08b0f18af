"""The sync-customers Prefect flow, run for real (prefect_test_harness) against the sandbox."""

from __future__ import annotations

import asyncio
import csv
import uuid
from pathlib import Path

import pytest

from sandbox.process import SandboxProcess


@pytest.mark.slow
def test_flow_syncs_and_publishes_artifacts(
    api_credentials: None,
    prefect_harness: None,
    sandbox_server: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client

    from engine.config import SyncConfig
    from engine.outcome import RunOutcome
    from flows.sync_flow import sync_customers

    source = tmp_path / "a.csv"
    source.write_text(
        "external_id,billing.first_name,billing.last_name,billing.country_code\n"
        "F1,Ann,Lee,GB\nF2,Bob,Ray,US\nF3,Cid,,FR\n"
    )
    entity = f"flow-{uuid.uuid4().hex[:8]}"
    outcome = sync_customers(
        SyncConfig(sources=[str(source)], target=sandbox_server.url, entity_id=entity,
                   state=str(tmp_path / "state.db"), out=tmp_path / "out")
    )  # fmt: skip
    assert isinstance(outcome, RunOutcome)
    assert (outcome.report.created, outcome.report.rows_rejected) == (2, 1)
    with (tmp_path / "out" / "mappings.csv").open() as handle:
        assert {r["external_id"] for r in csv.DictReader(handle)} == {"F1", "F2", "F3"}

    async def artifacts() -> dict[str, str]:
        async with get_client() as client:
            found = await client.read_artifacts()
        return {a.key: a.type for a in found if a.key}

    keys = asyncio.run(artifacts())
    assert keys.get("sync-summary") == "markdown"
    assert keys.get("sync-rejects") == "table"
    assert keys.get("sync-progress") == "progress"


def _flow_runs_named(name: str) -> list[tuple[str, str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def read() -> list[tuple[str, str]]:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[name]))
            )
        return [(str(r.id), r.state.type.value if r.state else "") for r in runs]

    return asyncio.run(read())


@pytest.mark.slow
def test_the_cli_runs_the_one_sync_flow_and_a_failed_run_is_a_failed_flow_run(
    api_credentials: None,
    prefect_harness: None,
    sandbox_server: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.config import SyncConfig
    from flows.sync_flow import run_as_flow

    source = tmp_path / "a.csv"
    source.write_text("external_id,billing.first_name,billing.last_name\nW1,Ann,Lee\n")
    entity = f"cli-flow-{uuid.uuid4().hex[:8]}"
    config = SyncConfig(sources=[str(source)], target=sandbox_server.url, entity_id=entity,
                        state=str(tmp_path / "s.db"), out=tmp_path / "ok")  # fmt: skip
    before = {run_id for run_id, _ in _flow_runs_named("sync-customers")}
    progress: list[tuple[int, int]] = []
    ok = run_as_flow(config, progress=lambda done, total: progress.append((done, total)))
    assert ok.exit_code == 0 and ok.report.created == 1 and progress[-1] == (1, 1)
    monkeypatch.setenv("VERIFONE_API_KEY", "wrong-key")
    config = config.model_copy(update={"out": tmp_path / "refused", "entity_id": entity + "-2"})
    refused = run_as_flow(config)
    # The outcome still comes back for the console, and the flow run says it failed.
    assert refused.exit_code == 1 and refused.error and "refused" in refused.error
    assert (tmp_path / "refused" / "report.json").exists()
    new = [state for run_id, state in _flow_runs_named("sync-customers") if run_id not in before]
    assert sorted(new) == ["COMPLETED", "FAILED"]


def test_only_one_flow_is_named_sync_customers() -> None:
    from prefect import Flow

    import flows.cli
    import flows.sync_flow

    found = [
        (module.__name__, name)
        for module in (flows.cli, flows.sync_flow)
        for name, value in vars(module).items()
        if isinstance(value, Flow) and value.name == "sync-customers"
    ]
    assert found == [("flows.sync_flow", "sync_customers")]
    assert "@flow" not in Path(flows.cli.__file__).read_text()


def test_a_config_travels_through_a_deployment_as_it_is(tmp_path: Path) -> None:
    """What a deployment stores (JSON) is what the flow receives: the same config."""
    import json

    from engine.config import ShardAssignment, SyncConfig
    from flows.sync_flow import sync_customers
    from schemas.shards import Shard

    config = SyncConfig(
        sources=["a.csv", "b/*.parquet"], mapping=tmp_path / "m.toml", target="emea",
        entity_id="E9", state="postgresql://h/db", out=tmp_path / "out", rate_limit=50.0,
        concurrency=8, dry_run=True, profile="3ds", encoding="cp1252", delimiter=";",
        match_on=("email_address",), delete_missing=True, max_deletes=3,
    )  # fmt: skip
    assignment = ShardAssignment(shard=Shard(1, 4, "E9", True), migration_id="m1", attempt=2)
    stored = json.loads(json.dumps({"config": config.model_dump(mode="json"),
                                    "assignment": assignment.model_dump(mode="json")}))  # fmt: skip
    received = sync_customers.validate_parameters(stored)
    assert received["config"] == config and received["assignment"] == assignment
    # A deployment's parameters are checked as the CLI's flags are, each field named.
    with pytest.raises(Exception, match="rate_limit"):
        sync_customers.validate_parameters({"config": {"sources": ["a"], "rate_limit": 0}})
    with pytest.raises(Exception, match="unknown_field"):
        sync_customers.validate_parameters({"config": {"sources": ["a"], "unknown_field": 1}})
