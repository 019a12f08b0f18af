"""A CRM's HTTP: redirects and refused TLS stop, 5xx and lost connections are retried, no proxy
from the environment is ever used, 401 after one renewal stops."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from connectors.api.retry import RetryPolicy
from connectors.crm.connection import CrmConnection
from connectors.errors import CrmError
from tests.helpers import CannedAnswer, OddServer, untrusted_tls_server


def call(url: str, renewals: list[bool] | None = None, attempts: int = 3) -> int:
    async def token(renew: bool) -> str:
        if renewals is not None:
            renewals.append(renew)
        return "tok"

    async def go() -> int:
        async def instant(_: float) -> None:
            return None

        policy = RetryPolicy(max_attempts=attempts, sleep=instant)
        connection = CrmConnection("TestCRM", url, token, policy)
        try:
            response = await connection.send("GET", "/x")
            return response.status_code
        finally:
            await connection.aclose()

    return asyncio.run(go())


def test_a_redirect_stops_and_5xx_is_retried(odd_server: OddServer) -> None:
    odd_server.answers = [CannedAnswer(302, b"", {"Location": "https://elsewhere.example"})]
    with pytest.raises(CrmError, match="redirect"):
        call(odd_server.url)
    odd_server.answers = [CannedAnswer(503), CannedAnswer(503), CannedAnswer(200)]
    odd_server.seen.clear()
    assert call(odd_server.url) == 200 and len(odd_server.seen) == 3
    odd_server.answers = [CannedAnswer(500)]
    with pytest.raises(CrmError, match="TestCRM did not answer the write-back: gave up after 3"):
        call(odd_server.url)


def test_a_401_renews_the_token_once_then_stops(odd_server: OddServer) -> None:
    odd_server.answers = [CannedAnswer(401, b'[{"errorCode": "INVALID_SESSION_ID"}]')]
    renewals: list[bool] = []
    with pytest.raises(CrmError, match=r"refused the credentials \(401\): INVALID_SESSION_ID"):
        call(odd_server.url, renewals)
    assert renewals == [False, True]


def test_no_proxy_from_the_environment(odd_server: OddServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    odd_server.answers = [CannedAnswer(200)]
    assert call(odd_server.url) == 200


@pytest.fixture
def untrusted_https() -> Iterator[str]:
    with untrusted_tls_server() as root:
        yield root


def test_a_certificate_that_does_not_verify_stops_at_once(untrusted_https: str) -> None:
    with pytest.raises(CrmError, match="certificate verify failed"):
        call(untrusted_https, attempts=5)
