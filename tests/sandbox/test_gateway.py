"""The gateway's order, over real HTTP: URL length, then rate limit, then auth, then faults."""

from __future__ import annotations

import uuid

import httpx

from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess


def test_limits_come_before_credentials_as_at_a_real_gateway() -> None:
    faults = FaultSettings(max_url_length=200, rate_limit=1, burst=1, retry_after="none")
    with SandboxProcess(users={"u": "k"}, faults=faults) as server:
        with httpx.Client(base_url=server.url, timeout=10) as anonymous:
            long = anonymous.get("/v2/customer", params={"search": "x" * 300})
            first = anonymous.get(f"/v2/customer/{uuid.uuid4()}")  # takes the one token
            second = anonymous.get(f"/v2/customer/{uuid.uuid4()}")
        stats = server.stats()
    assert long.status_code == 414 and first.status_code == 401
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert stats["by_status"] == {"401": 1, "414": 1, "429": 1}
    assert stats["by_operation"] == {"get": 2, "search": 1}


def test_an_undocumented_method_is_405_with_allow(sandbox_server: SandboxProcess) -> None:
    from tests.helpers import KEY, USER

    with httpx.Client(base_url=sandbox_server.url, auth=(USER, KEY), timeout=10) as api:
        answer = api.put("/v2/customer", json={})
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET, POST"
    assert answer.json()["details"] == {"method": "PUT"}
