"""Signatures and passwords never in what Prefect stores of a run: a pre-signed URL and a
PostgreSQL password given to ``custsync sync`` / ``serve`` travel by a Secret block, resolved
where the run happens, and the block is gone when the run (or the serving) is."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.prefect.secrets import RUN_SECRETS_PREFIX
from sandbox.process import SandboxProcess
from tests.helpers import ENV, KEY, ROOT, USER, export, people, signed_file_server

pytestmark = pytest.mark.slow
SIGNATURE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def flow_runs(flow_name: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name]))
            )

    return asyncio.run(read())


def secret_blocks() -> list[str]:
    from prefect.client.orchestration import get_client

    async def read() -> list[str]:
        async with get_client() as client:
            documents = await client.read_block_documents()
        return [d.name for d in documents if d.name and d.name.startswith(RUN_SECRETS_PREFIX)]

    return asyncio.run(read())


def test_a_signed_source_reaches_the_run_but_not_its_stored_parameters(
    api_credentials: None, prefect_harness: None, sandbox_server: SandboxProcess,
    tmp_path: Path,
) -> None:  # fmt: skip
    from engine.config import SyncConfig
    from flows.sync_flow import run_as_flow, sync_customers

    body = export(tmp_path / "e.csv", people(3)).read_bytes()
    with signed_file_server(body, SIGNATURE) as signed:
        entity = f"signed-{uuid.uuid4().hex[:8]}"
        before = {run.id for run in flow_runs("sync-customers")}
        config = SyncConfig(sources=[signed], target=sandbox_server.url, entity_id=entity,
                            state=str(tmp_path / "s.db"), out=tmp_path / "out")  # fmt: skip
        outcome = run_as_flow(config)
        # The run fetched the file (the server refuses it without the signature)...
        assert outcome.exit_code == 0 and outcome.report.created == 3, outcome.error
        # ...and Prefect holds no signature: the parameters name a block, which is gone.
        (run,) = [run for run in flow_runs("sync-customers") if run.id not in before]
        stored = json.dumps(run.parameters)
        assert SIGNATURE not in stored and "X-Amz" not in stored
        assert run.parameters["config"]["sources"] == [signed.split("?")[0]]
        assert run.parameters["config"]["secrets_block"].startswith(RUN_SECRETS_PREFIX)
        assert secret_blocks() == []
        # A run whose block is gone (a rerun from the UI after its CLI ended) fails in one
        # line saying so, and never fetches without the signature.
        public = config.apart()[0].model_copy(update={"secrets_block": "custsync-secrets-gone"})
        state = sync_customers(public, return_state=True)
        assert state.is_failed() and "no Prefect Secret block 'custsync-secrets-gone'" in str(
            state.message
        )
    assert SIGNATURE not in (tmp_path / "out" / "report.json").read_text()


def in_prefect(
    env: dict[str, str], code: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``code`` run by a Python of its own against ``env``'s Prefect server."""
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def test_serve_keeps_the_signature_in_a_block_while_it_serves_and_drops_it_after(
    shared_prefect_server: dict[str, str], sandbox_server: SandboxProcess, tmp_path: Path,
) -> None:  # fmt: skip
    env = {**shared_prefect_server, **ENV}
    name = f"served-{uuid.uuid4().hex[:6]}"
    entity, block = f"E-{name}", f"{RUN_SECRETS_PREFIX}serve-{name}"
    body = export(tmp_path / "e.csv", people(4)).read_bytes()
    blocks = (
        "import asyncio\n"
        "from prefect.client.orchestration import get_client\n"
        "async def main():\n"
        "    async with get_client() as c:\n"
        "        print(sorted(d.name for d in await c.read_block_documents()))\n"
        "asyncio.run(main())\n"
    )
    run_it = (
        "import asyncio, json\n"
        "from prefect.client.orchestration import get_client\n"
        "from prefect.deployments import run_deployment\n"
        "async def main():\n"
        "    async with get_client() as c:\n"
        f"        d = await c.read_deployment_by_name('sync-customers/{name}')\n"
        "        print(json.dumps(d.parameters))\n"
        "asyncio.run(main())\n"
        f"print(run_deployment('sync-customers/{name}', timeout=240).state.type.value)\n"
    )
    with signed_file_server(body, SIGNATURE) as signed:
        serve = subprocess.Popen(
            [sys.executable, "-m", "flows", "serve", signed, "--target", sandbox_server.url,
             "--entity-id", entity, "--state", str(tmp_path / "s.db"), "--name", name],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while True:  # until serve has registered the deployment
                probe = in_prefect(env, run_it)
                if probe.returncode == 0 or time.monotonic() > deadline:
                    break
                assert serve.poll() is None, serve.communicate()[1][-3000:]
                time.sleep(2)
            assert probe.returncode == 0, probe.stderr[-3000:]
            parameters, state = probe.stdout.strip().splitlines()[-2:]
            serving = in_prefect(env, blocks).stdout
        finally:
            serve.send_signal(signal.SIGTERM)
            stdout, stderr = serve.communicate(timeout=60)
    assert state == "COMPLETED", (stdout + stderr)[-4000:]
    assert SIGNATURE not in parameters and "X-Amz" not in parameters
    assert json.loads(parameters)["config"]["secrets_block"] == block
    assert block in serving  # while it serves
    # The served run (a process of its own) fetched the file with its signature.
    with httpx.Client(base_url=sandbox_server.url, auth=(USER, KEY), timeout=30) as client:
        mine = client.get("/v2/customer", params={"search": f'entity_id=="{entity}"'}).json()
    assert len(mine) == 4
    assert SIGNATURE not in stdout + stderr
    left = in_prefect(env, blocks)
    assert left.returncode == 0 and block not in left.stdout, left.stderr[-2000:]
