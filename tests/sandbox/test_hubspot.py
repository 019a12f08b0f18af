"""The HubSpot stand-in is strict where HubSpot is: raw HTTP against the sandbox as a real
server, the answers compared with what HubSpot documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.auth import CrmLogins
from sandbox.process import SandboxProcess
from tests.helpers import bearer_client

HS = "pat-na1-standin-token"


@pytest.fixture
def server() -> Iterator[SandboxProcess]:
    with SandboxProcess(crm=CrmLogins(hubspot_tokens=(HS,))) as running:
        yield running


def test_hubspot_tells_its_limits_and_refuses_past_them_without_retry_after(
    server: SandboxProcess,
) -> None:
    server.admin("POST", "/_sandbox/hubspot", {"records": {"contacts": ["1"]},
                 "per_interval": 2, "interval_ms": 10_000})  # fmt: skip
    update = {"inputs": [{"id": "1", "properties": {"email": "x"}}]}
    with bearer_client(server, HS) as hs:
        answers = [hs.post("/crm/v3/objects/contacts/batch/update", json=update) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "2"
    assert answers[1].headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert "retry-after" not in answers[2].headers
    assert answers[2].json()["policyName"] == "TEN_SECONDLY_ROLLING"


def test_hubspot_fails_a_whole_batch_for_an_unknown_property(server: SandboxProcess) -> None:
    update = {"inputs": [{"id": "1", "properties": {"nope": "x"}}]}
    with bearer_client(server, HS) as hs:
        answer = hs.post("/crm/v3/objects/contacts/batch/update", json=update)
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in answer.json()["message"]
