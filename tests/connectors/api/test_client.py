"""The Customer API client against real servers on loopback: the sandbox, and a small server
answering what gateways, proxies and portals answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from connectors.api.answers import Answer
from connectors.api.client import CustomerApi, RetryPolicy
from connectors.api.pacing.pacer import RequestPacer
from connectors.api.targets import Credentials
from connectors.errors import AuthError, TargetError
from sandbox.process import SandboxProcess
from tests.helpers import USER, CannedAnswer, OddServer


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


# -- answers no Customer API gives, but the world between us and it does ----------------------


CREDENTIALS = Credentials(user_uid="u", api_key="k")


def client(server: OddServer, sleeps: list[float] | None = None) -> CustomerApi:
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    policy = RetryPolicy(max_attempts=4, jitter=lambda s: s, sleep=sleep)
    return CustomerApi(server.url, CREDENTIALS, concurrency=2, retry=policy)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_stops_the_run_and_is_never_followed(odd_server: OddServer, status: int) -> None:
    login = "https://login.example.com/?token=abc"
    odd_server.answers = [CannedAnswer(status, b"", {"Location": login})]

    async def go() -> list[object]:
        async with client(odd_server) as api:
            creates = (api.create({"entity_id": "E1", "company_name": f"C{n}"}) for n in range(5))
            return await asyncio.gather(*creates, return_exceptions=True)

    results = asyncio.run(go())
    assert all(isinstance(r, TargetError) for r in results)
    assert "check target" in str(results[0]) and "token=abc" not in str(results[0])
    assert len(odd_server.seen) == 1  # the first answer stops the rest before they are sent


def test_a_200_that_is_not_json_stops_the_run(odd_server: OddServer) -> None:
    portal = b"<html><body>Sign in to the hotel Wi-Fi</body></html>"
    odd_server.answers = [CannedAnswer(200, portal, {"Content-Type": "text/html; charset=utf-8"})]

    async def go() -> object:
        async with client(odd_server) as api:
            return await api.create({"entity_id": "E1", "company_name": "Acme"})

    with pytest.raises(TargetError, match="text/html, not JSON"):
        asyncio.run(go())


def test_a_conflict_fails_the_row_without_retrying(odd_server: OddServer) -> None:
    odd_server.answers = [CannedAnswer(409, b'{"message": "Conflict"}')]

    async def go() -> object:
        async with client(odd_server) as api:
            return await api.update("c1", {"entity_id": "E1", "company_name": "Acme"})

    result = asyncio.run(go())
    assert result.answer is Answer.FAILED and result.reason == "Conflict"  # type: ignore[attr-defined]
    assert len(odd_server.seen) == 1


def test_a_408_is_retried_when_safe_and_reconciled_for_a_create(odd_server: OddServer) -> None:
    odd_server.answers = [CannedAnswer(408), CannedAnswer(200, b'{"id": "c1"}')]

    async def get() -> object:
        async with client(odd_server) as api:
            return await api.get("c1")

    got = asyncio.run(get())
    assert got.answer is Answer.DONE and len(odd_server.seen) == 2  # type: ignore[attr-defined]
    odd_server.answers = [CannedAnswer(408)]

    async def create() -> object:
        async with client(odd_server) as api:
            return await api.create({"entity_id": "E1", "company_name": "Acme"})

    # The server may have begun the create: the loader searches before sending it again.
    assert asyncio.run(create()).answer is Answer.AMBIGUOUS  # type: ignore[attr-defined]


def test_retry_after_of_an_hour_is_capped_and_kept_by_the_pacer(odd_server: OddServer) -> None:
    odd_server.answers = [
        CannedAnswer(429, b"{}", {"Retry-After": "3600"}),
        CannedAnswer(200, b"[]"),
    ]
    sleeps: list[float] = []
    paced: list[float] = []
    now = [0.0]

    async def pacer_sleep(seconds: float) -> None:  # the pacer's time, without waiting
        paced.append(seconds)
        now[0] += max(seconds, 0.0001)
        await asyncio.sleep(0)

    async def go() -> object:
        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        policy = RetryPolicy(max_attempts=4, jitter=lambda s: s, sleep=sleep)
        pacer = RequestPacer(None, lambda: now[0], pacer_sleep)
        async with CustomerApi(odd_server.url, CREDENTIALS, concurrency=2, retry=policy,
                               pacer=pacer) as api:  # fmt: skip
            return await api.search('id=="x"')

    assert asyncio.run(go()).answer is Answer.DONE  # type: ignore[attr-defined]
    # The retry itself waits a moment; the pacer holds it (and every other request) behind a
    # wall of at most a minute, from a second early: an hour is not believed.
    assert sleeps == [0.025]
    assert sum(paced) == pytest.approx(59.0, abs=0.1)


def test_plain_http_to_loopback_never_goes_through_a_proxy(
    odd_server: OddServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy that is not there: a client that used it would fail to connect.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    odd_server.answers = [CannedAnswer(200, b'{"id": "c1"}')]

    async def go() -> object:
        async with client(odd_server) as api:
            return await api.get("c1")

    assert asyncio.run(go()).answer is Answer.DONE  # type: ignore[attr-defined]
    assert odd_server.seen == ["GET /oidc/customer-service/v2/customer/c1"]


def test_retry_after_as_an_http_date_is_read_and_the_pacer_holds_the_retry() -> None:
    from sandbox.faults import FaultSettings

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    faults = FaultSettings(rate_limit=4, burst=1, retry_after="date")
    with SandboxProcess(users={"u": "k"}, faults=faults) as server:

        async def go() -> list[object]:
            policy = RetryPolicy(jitter=lambda s: s, sleep=sleep)
            async with CustomerApi(server.url, CREDENTIALS, retry=policy, concurrency=2) as api:
                return list(await asyncio.gather(*(api.get(str(uuid.uuid4())) for _ in range(3))))

        results = asyncio.run(go())
        limited = server.stats()["rate_limited"]
    assert all(r.answer is Answer.NOT_FOUND for r in results)  # type: ignore[attr-defined]
    assert limited >= 1 and len(waits) == limited
    # The date is read (parse_retry_after) and kept by the pacer, which holds the retry: the
    # retry's own wait is a moment, not the date's whole second slept out by every request.
    # The date is a bucket's 0.25 s on, rounded up to the whole second: 0.25-1.25 s away. The
    # retry's own backoff starts at 0.025 s and doubles: a request refused a fourth time (the
    # pacer's probes every 0.2 s meet a bucket refilled every 0.25 s in some phases) waits 0.1.
    assert all(0.0 < w < 0.25 for w in waits), waits


def test_a_certificate_that_does_not_verify_stops_at_once_in_one_line(tmp_path: Path) -> None:
    # An HTTPS server whose certificate no trusted authority signed (a proxy intercepting
    # TLS, a misconfigured gateway): before, eight attempts a request, then "failed".
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme

    authority = trustme.CA()
    accepted: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

    class CountingServer(ThreadingHTTPServer):
        def get_request(self):  # type: ignore[no-untyped-def]
            accepted.append(1)
            return super().get_request()

    server = CountingServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    # The handshake in the handler's thread, where its failure closes the connection cleanly.
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/oidc/customer-service"

    async def go() -> None:
        async with CustomerApi(url, Credentials(user_uid="u", api_key="k")) as api:
            with pytest.raises(TargetError, match=r"certificate verify failed .* for 127\.0\.0\.1"):
                await api.get("x")

    try:
        asyncio.run(go())
    finally:
        server.shutdown()
        server.server_close()
    assert len(accepted) == 1


def test_a_lone_503_is_a_servers_fault_retried_without_slowing(odd_server: OddServer) -> None:
    odd_server.answers = [CannedAnswer(503), CannedAnswer(200, b'{"id": "c1"}')]

    async def go() -> tuple[object, int, int]:
        async with client(odd_server) as api:
            got = await api.get("c1")
            return got, api.counters.rate_limited, api._pacer.refusals

    got, limited, refusals = asyncio.run(go())
    assert got.answer is Answer.DONE and (limited, refusals) == (0, 0)  # type: ignore[attr-defined]


def test_a_limit_answered_with_503s_slows_the_pacer_with_no_storm() -> None:
    from sandbox.faults import FaultSettings

    # nginx's limit_req answers 503, no Retry-After; the limit is not told to custsync.
    faults = FaultSettings(rate_limit=40, burst=5, limit_status=503, retry_after="none")
    with SandboxProcess(users={"u": "k"}, faults=faults) as server:

        async def go() -> tuple[int, int, int]:
            async with CustomerApi(server.url, CREDENTIALS, concurrency=8) as api:
                await asyncio.gather(*(api.get(str(uuid.uuid4())) for _ in range(160)))
                return api.counters.requests, api.counters.rate_limited, api._pacer.refusals

        requests, limited, refusals = asyncio.run(go())
        refused = server.stats()["by_status"].get("503", 0)
    # The 503s came in runs: counted as the limit's and told to the pacer, which slowed down;
    # without that, one refused for every two sent (a storm: issue 28).
    assert limited > 0 and refusals > 0
    assert refused < 0.10 * requests, (refused, requests)


def test_requests_a_cap_in_flight_held_back_go_at_the_pace_when_it_is_forgotten() -> None:
    """Requests wait on a learnt cap with their pacer's slots taken (to go the moment a place
    frees); when the cap is forgotten (refusals under it: a rate limit's) those slots are
    long past. Sent on them, they went out at once: 50 refused in 20 ms behind a cap of 8
    (issue 28)."""
    from connectors.api.pacing.concurrency import InFlightCap
    from sandbox.faults import FaultSettings

    cap = InFlightCap()
    now = time.monotonic()  # the client's clock, which tells the cap when it answers
    for _ in range(150):  # one out at a time, all admitted; then a send with two out refused
        cap.observe(1, False, now)
    cap.observe(2, True, now)
    assert cap.limit == 1
    with SandboxProcess(users={"u": "k"}, faults=FaultSettings(latency_ms=50)) as server:

        async def go() -> tuple[int, int]:
            pacer = RequestPacer(40.0)
            async with CustomerApi(server.url, CREDENTIALS, pacer=pacer, cap=cap,
                                   concurrency=16) as api:  # fmt: skip
                tasks = [asyncio.ensure_future(api.get(str(uuid.uuid4()))) for _ in range(60)]
                await asyncio.sleep(1.0)  # one out at a time: 20 answered a second at most
                held = server.stats()["peak_concurrency"]
                # Refusals under it: it was no cap, and is forgotten.
                cap.observe(1, True, time.monotonic())
                cap.observe(1, True, time.monotonic())
                assert cap.limit is None
                await asyncio.gather(*tasks)
                return held, api.counters.requests

        held, requests = asyncio.run(go())
        peak = server.stats()["peak_concurrency"]
    assert held == 1 and requests == 60
    # At the pace (39/s, answers in 50 ms): two or three out. The 15 requests that had waited
    # on the cap holding their slots went out at once before.
    assert peak <= 6, peak
