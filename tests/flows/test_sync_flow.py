"""The sync-customers Prefect flow, run for real (prefect_test_harness) against the sandbox."""

from __future__ import annotations

import asyncio
import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.process import SandboxProcess
from tests.conftest import KEY, USER


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    # The temporary server takes ~20 s to start on a 2-core machine: once per session.
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.mark.slow
def test_flow_syncs_and_publishes_artifacts(
    prefect_harness: None,
    sandbox_server: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client

    from flows.sync_flow import sync_customers

    monkeypatch.setenv("VERIFONE_USER_UID", USER)
    monkeypatch.setenv("VERIFONE_API_KEY", KEY)
    source = tmp_path / "a.csv"
    source.write_text(
        "external_id,billing.first_name,billing.last_name,billing.country_code\n"
        "F1,Ann,Lee,GB\nF2,Bob,Ray,US\nF3,Cid,,FR\n"
    )
    entity = f"flow-{uuid.uuid4().hex[:8]}"
    report = sync_customers(
        sources=[str(source)], target=sandbox_server.url, entity_id=entity,
        state=str(tmp_path / "state.db"), out=str(tmp_path / "out"),
    )  # fmt: skip
    assert (report["created"], report["rows_rejected"]) == (2, 1)
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


@pytest.mark.slow
def test_backfill_flow_publishes_readiness(
    prefect_harness: None,
    sandbox_server: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client

    from flows.backfill_flow import backfill_3ds
    from flows.sync_flow import sync_customers

    monkeypatch.setenv("VERIFONE_USER_UID", USER)
    monkeypatch.setenv("VERIFONE_API_KEY", KEY)
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
    sync_customers(sources=[str(thin)], out=str(tmp_path / "o1"), **common)
    report = backfill_3ds(sources=[str(rich)], out=str(tmp_path / "o2"), **common)
    assert (report["ready_before"], report["ready_after"], report["updated"]) == (0.0, 1.0, 1)

    async def keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts() if a.key}

    assert "readiness" in asyncio.run(keys())


def test_credentials_come_from_secret_blocks_named_in_the_deployment(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from prefect.blocks.system import Secret

    from flows.secrets import load_credentials_into_environment

    monkeypatch.delenv("VERIFONE_API_KEY", raising=False)
    Secret(value="key-from-a-block").save("verifone-api-key-test", overwrite=True)
    load_credentials_into_environment({"VERIFONE_API_KEY": "verifone-api-key-test"})
    assert os.environ["VERIFONE_API_KEY"] == "key-from-a-block"
    monkeypatch.delenv("VERIFONE_API_KEY")
    with pytest.raises(ValueError, match="not one of"):
        load_credentials_into_environment({"PATH": "verifone-api-key-test"})
