"""The backfill-3ds Prefect flow, run for real (prefect_test_harness) against the sandbox."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from sandbox.process import SandboxProcess


@pytest.mark.slow
def test_backfill_flow_publishes_readiness(
    api_credentials: None,
    prefect_harness: None,
    sandbox_server: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client

    from engine.config import SyncConfig
    from engine.outcome import RunOutcome
    from flows.backfill_flow import backfill_3ds
    from flows.sync_flow import sync_customers

    entity = f"bflow-{uuid.uuid4().hex[:8]}"
    thin = tmp_path / "thin.csv"
    thin.write_text(
        "external_id,billing.first_name,billing.last_name,email_address\nG1,Ann,Lee,a@example.com\n"
    )
    rich = tmp_path / "rich.csv"
    rich.write_text(
        "external_id,billing.first_name,billing.last_name,billing.address_1,billing.city,"
        "billing.postal_code,billing.country_code\nG1,Ann,Lee,1 High St,London,SW1A 1AA,GB\n"
    )
    common = {"target": sandbox_server.url, "entity_id": entity, "state": str(tmp_path / "s.db")}
    sync_customers(SyncConfig(sources=[str(thin)], out=tmp_path / "o1", **common))
    outcome = backfill_3ds(SyncConfig(sources=[str(rich)], out=tmp_path / "o2", **common))
    assert isinstance(outcome, RunOutcome)
    report = outcome.report
    assert (report.ready_before, report.ready_after, report.updated) == (0.0, 1.0, 1)

    async def keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts() if a.key}

    assert "readiness" in asyncio.run(keys())
