"""prefect.yaml: every deployment points at a real flow with parameters that flow accepts."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import Flow

from tests.helpers import ROOT, custsync

DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def load_flow(entrypoint: str) -> Flow[..., Any]:
    path, name = entrypoint.split(":")
    spec = importlib.util.spec_from_file_location("deployed_module", ROOT / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    flow = getattr(module, name)
    assert isinstance(flow, Flow)
    return flow


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_deployment_points_at_a_flow_with_valid_parameters(deployment: dict[str, Any]) -> None:
    flow = load_flow(deployment["entrypoint"])
    validated = flow.validate_parameters(deployment["parameters"])
    assert validated["config"].sources
    assert deployment["work_pool"]["name"] == "custsync"
    assert deployment.get("concurrency_limit") == 1  # overlapping runs of one deployment wait


def test_no_secret_values_in_prefect_yaml() -> None:
    text = (ROOT / "prefect.yaml").read_text()
    assert "api_key:" not in text.lower().replace("verifone_api_key", "")
    for deployment in DEPLOYMENTS:
        blocks = deployment["parameters"].get("credentials_blocks", {})
        assert all(isinstance(v, str) and v.startswith("verifone-") for v in blocks.values())


def test_nightly_deployment_has_a_cron_schedule_off_until_edited() -> None:
    nightly = next(d for d in DEPLOYMENTS if d["name"] == "nightly-sync")
    assert nightly["schedules"][0]["cron"] == "0 2 * * *"
    assert nightly["schedules"][0]["active"] is False  # placeholders would fail every night


@pytest.mark.slow
def test_the_recipe_deploys_as_written_without_a_prompt(prefect_harness: None) -> None:
    """The README's commands, stdin closed: no question asked, every deployment made, the
    nightly schedule there but off."""
    import asyncio
    import os
    import subprocess
    import sys

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}

    def prefect(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "prefect", *args], cwd=ROOT, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    prefect("work-pool", "create", "custsync", "--type", "process")  # there already: fine
    deployed = prefect("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

    names = [f"{load_flow(d['entrypoint']).name}/{d['name']}" for d in DEPLOYMENTS]

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            return {name: await client.read_deployment_by_name(name) for name in names}

    found = asyncio.run(read())
    assert set(found) == set(names)
    nightly = found["sync-customers/nightly-sync"]
    assert nightly.schedules and not any(s.active for s in nightly.schedules)


def test_serve_refuses_without_a_prefect_server(tmp_path: Path) -> None:
    result = custsync("serve", str(ROOT / "data" / "salesforce_contacts.csv"),
                      env={"PREFECT_API_URL": ""})  # fmt: skip
    assert result.returncode == 2 and "prefect server start" in result.stderr


def test_serve_parameters_are_valid_for_the_flow() -> None:
    from engine.config import SyncConfig
    from flows.sync_flow import deployment_parameters, sync_customers

    config = SyncConfig(sources=["a.csv"], mapping=ROOT / "data/mappings/hubspot.toml",
                        rate_limit=50.0)  # fmt: skip
    parameters = deployment_parameters(config)
    mapping = str(ROOT / "data/mappings/hubspot.toml")
    assert parameters["config"] == {"sources": ["a.csv"], "rate_limit": 50.0, "mapping": mapping}
    assert sync_customers.validate_parameters(parameters)["config"] == config
