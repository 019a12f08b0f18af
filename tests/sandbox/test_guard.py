"""What the sandbox refuses whatever its knobs say (sandbox/guard.py), against a real server:
each of the review's findings reproduced (a web page reconfiguring it, DNS rebinding, a
catastrophic regex, unbounded bodies and heads)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from sandbox.command import parser
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.helpers import person

USER, KEY = "u", "k"
CUSTOMERS = "/oidc/customer-service/v2/customer"


@pytest.fixture(scope="module")
def server() -> SandboxProcess:
    with SandboxProcess(users={USER: KEY}) as running:
        yield running  # type: ignore[misc]


def raw(server: SandboxProcess, method: str, path: str, **kwargs: object) -> httpx.Response:
    with httpx.Client(base_url=server.root, trust_env=False, timeout=10) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def test_knobs_need_the_sandboxs_credentials_and_json(server: SandboxProcess) -> None:
    # A cross-site form post: no credentials, text/plain. Before: it turned every answer 500.
    evil = raw(server, "POST", "/_sandbox/faults", content=b'{"error_rate": 1}',
               headers={"Content-Type": "text/plain"})  # fmt: skip
    assert evil.status_code == 401
    assert raw(server, "GET", "/_sandbox/stats").status_code == 401
    creds = server._admin_headers()
    plain = raw(server, "POST", "/_sandbox/faults", content=b'{"error_rate": 1}',
                headers={**creds, "Content-Type": "text/plain"})  # fmt: skip
    assert plain.status_code == 415
    assert server.stats()["faults"]["error_rate"] == 0  # nothing changed
    assert raw(server, "GET", "/_sandbox/openapi.json").status_code == 200  # a public document


def test_an_open_sandbox_still_refuses_a_form_post() -> None:
    with SandboxProcess() as server:
        evil = raw(server, "POST", "/_sandbox/faults", content=b'{"error_rate": 1}',
                   headers={"Content-Type": "text/plain"})  # fmt: skip
        assert evil.status_code == 415
        assert server.stats()["faults"]["error_rate"] == 0


def test_a_host_that_is_not_the_servers_is_refused(server: SandboxProcess) -> None:
    # DNS rebinding: a page's own host name resolving to 127.0.0.1.
    port = server.root.rsplit(":", 1)[1]
    for path in (CUSTOMERS + "?search=entity_id==E1", "/_sandbox/stats"):
        answer = raw(server, "GET", path, auth=(USER, KEY),
                     headers={"Host": f"attacker.example:{port}"})  # fmt: skip
        assert answer.status_code == 421
    ok = raw(server, "GET", CUSTOMERS + "?search=entity_id==E1", auth=(USER, KEY),
             headers={"Host": f"localhost:{port}"})  # fmt: skip
    assert ok.status_code in (200, 404)


def test_bodies_over_a_mebibyte_get_413(server: SandboxProcess) -> None:
    big = person(company_name="x" * (1024 * 1024))
    declared = raw(server, "POST", CUSTOMERS, auth=(USER, KEY), json=big)
    assert declared.status_code == 413

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 32768  # 1.25 MiB, no Content-Length

    streamed = raw(server, "POST", CUSTOMERS, auth=(USER, KEY), content=chunks(),
                   headers={"Content-Type": "application/json"})  # fmt: skip
    assert streamed.status_code == 413
    assert server.stats()["writes"].get("create", 0) == 0


def test_a_catastrophic_regex_is_cut_short(server: SandboxProcess) -> None:
    for n in range(3):
        body = person(company_name="a" * 28 + "!", email_address=f"r{n}@example.com")
        raw(server, "POST", CUSTOMERS, auth=(USER, KEY), json=body)
    # (a|aa)+$ on 28 a's and a '!': the stdlib's engine backtracks for many seconds.
    search = 'entity_id==E1;company_name=regex="(a|aa)+$"'
    answer = raw(server, "GET", CUSTOMERS, auth=(USER, KEY), params={"search": search})
    assert answer.status_code == 400 and "regex" in answer.text and "took over" in answer.text
    plain = raw(server, "GET", CUSTOMERS, auth=(USER, KEY),
                params={"search": 'entity_id==E1;company_name=regex="^a+!$"'})  # fmt: skip
    assert plain.status_code == 200 and len(plain.json()) == 3


@pytest.mark.slow
def test_a_request_head_must_arrive_within_ten_seconds(server: SandboxProcess) -> None:
    host, port = server.root.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as slow:
        slow.sendall(b"GET /_sandbox/openapi.json HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 20


def test_the_standalone_sandbox_does_not_serve_the_local_targets_shoppers() -> None:
    from engine.target import LOCAL_SANDBOX_DB

    assert parser().parse_args([]).db != LOCAL_SANDBOX_DB


def test_admin_helpers_know_the_credentials() -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        server.set_faults(FaultSettings(latency_ms=3))
        assert server.stats()["faults"]["latency_ms"] == 3
