"""The Salesforce stand-in is strict where Salesforce is: raw HTTP against the sandbox as a real
server, the answers compared with what Salesforce documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.auth import CrmLogins
from sandbox.process import SandboxProcess
from tests.helpers import bearer_client

SF = "sf-standin-token"
DATA = "/services/data/v62.0"


@pytest.fixture
def server() -> Iterator[SandboxProcess]:
    with SandboxProcess(crm=CrmLogins(salesforce_tokens=(SF,))) as running:
        yield running


def test_salesforce_jobs_are_strict_about_their_lifecycle(server: SandboxProcess) -> None:
    server.admin("POST", "/_sandbox/salesforce", {"records": {"Contact": ["003000000000001"]},
                 "fields": {"Contact": ["X__c"]}, "polls_to_complete": 2})  # fmt: skip
    with bearer_client(server, SF) as sf:
        job = sf.post(f"{DATA}/jobs/ingest", json={"object": "Contact", "operation": "update"})
        assert job.status_code == 200 and job.json()["state"] == "Open"
        assert job.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
        path = f"{DATA}/jobs/ingest/{job.json()['id']}"
        early = sf.get(f"{path}/successfulResults/")
        assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
        body = b"Id,X__c\n003000000000001,u1\n"
        assert sf.put(f"{path}/batches", content=body,
                      headers={"Content-Type": "text/csv"}).status_code == 201  # fmt: skip
        twice = sf.put(f"{path}/batches", content=body, headers={"Content-Type": "text/csv"})
        assert twice.status_code == 409
        assert sf.patch(path, json={"state": "UploadComplete"}).json()["state"] == "UploadComplete"
        states = [sf.get(path).json()["state"] for _ in range(2)]
        assert states == ["InProgress", "JobComplete"]
        done = sf.get(f"{path}/successfulResults/").text.splitlines()
        assert done == ['"sf__Id","sf__Created","Id","X__c"',
                        '"003000000000001AAA","false","003000000000001","u1"']  # fmt: skip


def test_salesforce_refuses_a_bad_token_an_unknown_field_and_too_many_records(
    server: SandboxProcess,
) -> None:
    with bearer_client(server, "nope") as bad:
        refused = bad.patch(f"{DATA}/composite/sobjects", json={"records": []})
        assert refused.status_code == 401
        assert refused.json() == [{"message": "Session expired or invalid",
                                   "errorCode": "INVALID_SESSION_ID"}]  # fmt: skip
    record = {"attributes": {"type": "Contact"}, "id": "003000000000001", "Nope__c": "u"}
    with bearer_client(server, SF) as sf:
        unknown = sf.patch(f"{DATA}/composite/sobjects", json={"records": [record]})
        assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALID_FIELD"
        many = sf.patch(f"{DATA}/composite/sobjects", json={"records": [record] * 201})
        assert many.status_code == 400 and many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
