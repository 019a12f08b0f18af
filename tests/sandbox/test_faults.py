"""Operating knobs over real HTTP: rate limit, latency, 5xx, resets, lost responses; persistence."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from sandbox.faults import FaultSettings, retry_after_header
from sandbox.process import SandboxProcess
from tests.helpers import person

AUTH = ("u", "k")


def client(server: SandboxProcess) -> httpx.Client:
    # No keep-alive reuse: each request its own connection, so a reset hits only that request.
    return httpx.Client(base_url=server.url, auth=AUTH, timeout=10)


def test_rate_limit_answers_429_with_retry_after() -> None:
    with SandboxProcess(users={"u": "k"}, faults=FaultSettings(rate_limit=5, burst=5)) as server:
        with client(server) as api:
            statuses = [api.get(f"/v2/customer/{uuid.uuid4()}") for _ in range(12)]
        limited = [r for r in statuses if r.status_code == 429]
        assert len(limited) >= 6  # 5 from the bucket, at most one refilled meanwhile
        assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
        assert limited[0].json()["code"] == 429
        assert server.stats()["rate_limited"] == len(limited)


def test_retry_after_is_whole_seconds_never_zero() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"


def test_latency_is_added() -> None:
    settings = FaultSettings(latency_ms=150)
    with SandboxProcess(users={"u": "k"}, faults=settings) as server, client(server) as api:
        api.get(f"/v2/customer/{uuid.uuid4()}")  # warm the connection
        started = time.perf_counter()
        api.get(f"/v2/customer/{uuid.uuid4()}")
        assert time.perf_counter() - started >= 0.15


def test_latency_varies_by_up_to_its_jitter() -> None:
    settings = FaultSettings(latency_ms=100, latency_jitter_ms=200)
    with SandboxProcess(users={"u": "k"}, faults=settings) as server, client(server) as api:
        api.get(f"/v2/customer/{uuid.uuid4()}")  # warm the connection
        took = []
        for _ in range(8):
            started = time.perf_counter()
            api.get(f"/v2/customer/{uuid.uuid4()}")
            took.append(time.perf_counter() - started)
    assert min(took) >= 0.1
    assert max(took) - min(took) >= 0.05  # eight draws from 0-200 ms more: not all alike


def test_injected_errors_are_500_error_responses_and_write_nothing() -> None:
    with SandboxProcess(users={"u": "k"}, faults=FaultSettings(error_rate=1.0)) as server:
        with client(server) as api:
            response = api.post("/v2/customer", json=person())
        assert response.status_code == 500
        assert response.json()["code"] == 500
        stats = server.stats()
        assert stats["injected_errors"] == 1 and stats["customers"] == 0


def test_resets_drop_the_connection_without_a_response() -> None:
    with SandboxProcess(users={"u": "k"}, faults=FaultSettings(reset_rate=1.0)) as server:
        with client(server) as api, pytest.raises(httpx.TransportError):
            api.post("/v2/customer", json=person())
        stats = server.stats()
        assert stats["resets"] == 1 and stats["customers"] == 0


def test_lost_response_commits_the_write_then_drops_the_connection() -> None:
    with SandboxProcess(users={"u": "k"}, faults=FaultSettings(lost_response_rate=1.0)) as server:
        with client(server) as api:
            with pytest.raises(httpx.TransportError):
                api.post("/v2/customer", json=person(email_address="lost@example.com"))
            # Reads are never lost: the customer is there for whoever looks.
            found = api.get("/v2/customer", params={"search": 'email_address=="lost@example.com"'})
        assert found.status_code == 200 and len(found.json()) == 1
        stats = server.stats()
        assert stats["lost_responses"] == 1 and stats["customers"] == 1
        assert stats["writes"]["create"] == 1


def test_fault_rates_are_rates() -> None:
    settings = FaultSettings(error_rate=0.3)
    with SandboxProcess(users={"u": "k"}, faults=settings, seed=7) as server, client(server) as api:
        codes = [api.get(f"/v2/customer/{uuid.uuid4()}").status_code for _ in range(300)]
    assert 60 <= codes.count(500) <= 120
    assert codes.count(500) + codes.count(404) == 300


def test_knobs_can_change_while_running() -> None:
    with SandboxProcess(users={"u": "k"}) as server:
        with client(server) as api:
            assert api.get(f"/v2/customer/{uuid.uuid4()}").status_code == 404
            server.set_faults(FaultSettings(error_rate=1.0))
            assert api.get(f"/v2/customer/{uuid.uuid4()}").status_code == 500
            server.set_faults(FaultSettings())
            assert api.get(f"/v2/customer/{uuid.uuid4()}").status_code == 404
        bad = server.admin("POST", "/_sandbox/faults", {"error_rate": 2})
        assert bad.status_code == 400


def test_stats_count_by_status_and_peak_concurrency() -> None:
    import concurrent.futures

    with SandboxProcess(users={"u": "k"}, faults=FaultSettings(latency_ms=200)) as server:

        def one(_: int) -> int:
            return httpx.get(f"{server.url}/v2/customer/{uuid.uuid4()}", auth=AUTH).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(one, range(8))) == [404] * 8
        stats = server.stats()
    assert stats["by_status"] == {"404": 8}
    assert stats["by_operation"] == {"get": 8}
    assert stats["peak_concurrency"] >= 4
    assert stats["in_flight"] == 0


def test_customers_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    with SandboxProcess(db=db, users={"u": "k"}) as server, client(server) as api:
        created = api.post("/v2/customer", json=person()).json()
    with SandboxProcess(db=db, users={"u": "k"}) as server, client(server) as api:
        assert api.get(f"/v2/customer/{created['id']}").json() == created
        assert server.stats()["customers"] == 1


@pytest.mark.parametrize("form", ["seconds", "date", "none"])
def test_retry_after_comes_in_every_form_gateways_use(form: str) -> None:
    import email.utils

    faults = FaultSettings(rate_limit=2, burst=1, retry_after=form)
    with SandboxProcess(users={"u": "k"}, faults=faults) as server, client(server) as api:
        answers = [api.get(f"/v2/customer/{uuid.uuid4()}") for _ in range(3)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited
    for answer in limited:
        header = answer.headers.get("Retry-After")
        if form == "none":
            assert header is None
        elif form == "date":
            moment = email.utils.parsedate_to_datetime(header)
            assert 0 < moment.timestamp() - time.time() <= 2
        else:
            assert header is not None and int(header) >= 1


def test_retry_after_as_a_date_is_at_least_the_wait() -> None:
    now = 1_800_000_000.25
    header = retry_after_header(1.2, "date", now=now)
    assert header == "Fri, 15 Jan 2027 08:00:03 GMT"
    assert retry_after_header(1.2, "seconds") == "2"
