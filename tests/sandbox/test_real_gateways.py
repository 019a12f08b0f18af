"""nginx and HAProxy in front of the sandbox, configured as people configure them, refuse as
they are documented to: nginx with 503 by default (no Retry-After), HAProxy with the status its
deny names, counting refused requests too."""

from __future__ import annotations

import httpx

from sandbox.process import SandboxProcess
from sandbox.real_gateways import HaproxyGateway, NginxGateway
from tests.helpers import needs_gateway

MISSING = "/v2/customer/00000000-0000-0000-0000-000000000001"


def statuses(url: str, n: int) -> list[int]:
    with httpx.Client(auth=("u", "k"), trust_env=False, timeout=10) as client:
        return [client.get(url + MISSING).status_code for _ in range(n)]


def test_nginx_limit_req_answers_503_without_retry_after() -> None:
    needs_gateway("nginx")
    with SandboxProcess(users={"u": "k"}) as sandbox, NginxGateway(sandbox.root, rate=2) as nginx:
        seen = statuses(nginx.url, 6)
        with httpx.Client(trust_env=False) as client:
            refused = client.get(nginx.url + MISSING)
    assert seen[0] == 404 and set(seen[1:]) == {503}  # the sandbox answered the first
    assert refused.status_code == 503 and "retry-after" not in refused.headers


def test_haproxy_counts_refused_requests_too() -> None:
    needs_gateway("haproxy")
    with (
        SandboxProcess(users={"u": "k"}) as sandbox,
        HaproxyGateway(sandbox.root, limit=3, period_s=2) as haproxy,
    ):
        seen = statuses(haproxy.url, 8)
    assert seen == [404] * 3 + [429] * 5
