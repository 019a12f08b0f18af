"""The Customer API client against the sandbox on loopback: refused credentials."""

from __future__ import annotations

import asyncio
import uuid

from connectors.api_config import Credentials
from connectors.customer_api import CustomerApi
from sandbox.process import SandboxProcess
from connectors.errors import AuthError
from tests.conftest import USER


def test_refused_credentials_cost_one_401_whatever_is_queued(
    sandbox_server: SandboxProcess,
) -> None:
    async def go() -> list[object]:
        credentials = Credentials(user_uid=USER, api_key="wrong-key")
        async with CustomerApi(sandbox_server.url, credentials, concurrency=8) as api:
            # gather does not cancel the rest when one fails: they stay queued on the client.
            requests = (api.get(str(uuid.uuid4())) for _ in range(20))
            return await asyncio.gather(*requests, return_exceptions=True)

    before = sandbox_server.stats()["by_status"].get("401", 0)
    results = asyncio.run(go())
    assert all(isinstance(r, AuthError) for r in results)
    assert all("wrong-key" not in str(r) for r in results)
    assert sandbox_server.stats()["by_status"].get("401", 0) - before == 1
