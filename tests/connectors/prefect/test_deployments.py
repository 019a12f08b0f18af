"""``custsync serve`` never takes over a deployment it did not make: checked against a real
Prefect server (prefect_test_harness) holding a work-pool deployment of ``sync-customers``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from connectors.errors import InputError
from connectors.prefect.deployments import SERVE_TAG, check_serve_name
from tests.helpers import ROOT


async def deploy(name: str, tags: list[str], pool: str | None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from flows.sync_flow import sync_customers

    async with get_client() as client:
        flow_id = await client.create_flow(sync_customers)
        if pool is not None:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"),
                                          overwrite=True)  # fmt: skip
        await client.create_deployment(flow_id=flow_id, name=name, tags=tags,
                                       work_pool_name=pool)  # fmt: skip


@pytest.mark.slow
def test_serve_refuses_a_deployment_it_did_not_make(prefect_harness: None) -> None:
    asyncio.run(deploy("nightly-sync", [], "custsync"))  # as prefect.yaml's, on a work pool
    asyncio.run(deploy("nightly-sync-served", [SERVE_TAG], None))  # as serve makes them
    with pytest.raises(InputError) as refused:
        check_serve_name("sync-customers", "nightly-sync")
    message = str(refused.value)
    assert (
        "work pool custsync" in message and "pass name another" in message and "\n" not in message
    )
    check_serve_name("sync-customers", "nightly-sync-served")  # its own: served again
    check_serve_name("sync-customers", "brand-new")  # none yet

    # Through the CLI: one line, exit 2, nothing served.
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    served = subprocess.run(
        [sys.executable, "-m", "flows", "serve", "data/salesforce_contacts.csv", "--name",
         "nightly-sync"], capture_output=True, text=True, env=env, timeout=120,
        cwd=ROOT,
    )  # fmt: skip
    assert served.returncode == 2
    # The CLI names the setting by its flag.
    shown = message.replace("pass name another", "pass --name another")
    assert served.stderr.strip().splitlines() == [f"custsync: error: {shown}"]
