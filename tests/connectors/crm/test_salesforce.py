"""The Salesforce writer against its stand-in as a real server: sObject Collections and Bulk API
2.0, the job followed to its end, results matched by Id, refusals told apart, the allocation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.crm.logins import SalesforceLogin
from connectors.crm.salesforce import SalesforceWriter
from connectors.crm.updates import PushResult, UuidUpdate
from connectors.errors import CrmError
from connectors.tuning import CrmTuning
from sandbox.process import SandboxProcess
from tests.helpers import SF_CLIENT as CLIENT
from tests.helpers import SF_TOKEN

FIELD = "Verifone_Customer_ID__c"
QUICK = CrmTuning(poll_first_s=0.01, poll_max_s=0.05, round_wait_s=0.0)
BULK = QUICK.model_copy(update={"bulk_from": 1})


def ids(n: int, start: int = 0) -> list[str]:
    return [f"0035g{i:010d}AAA" for i in range(start, start + n)]


def org(server: SandboxProcess, **change: Any) -> dict[str, Any]:
    body = {"fields": {"Contact": [FIELD]}, **change}
    response = server.admin("POST", "/_sandbox/salesforce", body)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def held(server: SandboxProcess) -> dict[str, str | None]:
    records = org(server)["records"].get("Contact", {})
    return {r["Id"]: r.get(FIELD) for r in records.values()}


def push(
    server: SandboxProcess, updates: list[UuidUpdate], tuning: CrmTuning = QUICK,
    login: SalesforceLogin | None = None, field: str = FIELD,
) -> tuple[list[PushResult], SalesforceWriter]:  # fmt: skip
    writer = SalesforceWriter(
        login or SalesforceLogin(instance_url=server.root, access_token=SF_TOKEN),
        "Contact", field, tuning,
    )  # fmt: skip
    answers: list[PushResult] = []

    async def go() -> None:
        try:
            await writer.push(updates, answers.append)
        finally:
            await writer.aclose()

    asyncio.run(go())
    return answers, writer


def confirmed(answers: list[PushResult]) -> list[str]:
    return sorted(u.record_id for a in answers for u in a.confirmed)


def refused(answers: list[PushResult]) -> dict[str, str]:
    return {u.record_id: why for a in answers for u, why in a.refused}


def test_a_bulk_job_is_followed_to_its_end_and_read_by_id(crm_server: SandboxProcess) -> None:
    records = ids(40)
    org(crm_server, records={"Contact": records}, polls_to_complete=3)
    updates = [UuidUpdate(r, f"uuid-{r}") for r in records]
    answers, writer = push(crm_server, updates, BULK)
    assert confirmed(answers) == sorted(records)
    assert held(crm_server) == {r: f"uuid-{r}" for r in records}
    # create, upload, UploadComplete, 3 polls, 3 result sets: the stand-in shuffled them all.
    assert writer.calls == 9 and len(writer.jobs) == 1
    assert org(crm_server)["jobs"] == {writer.jobs[0]: "JobComplete"}


def test_bulk_refusals_with_salesforce_reasons_locks_retried_clears_done(
    crm_server: SandboxProcess,
) -> None:
    live, deleted, locked, stranger = ids(5), ids(1, 100), ids(1, 200), ids(1, 300)
    cleared_gone = ids(1, 400)
    org(crm_server, records={"Contact": live + locked}, deleted=deleted + cleared_gone,
        locked={locked[0]: 2})  # fmt: skip
    updates = [UuidUpdate(r, "u-" + r) for r in live[:4] + deleted + locked + stranger]
    updates += [UuidUpdate(live[4], None), UuidUpdate(cleared_gone[0], None)]
    answers, _ = push(crm_server, updates, BULK)
    # The lock held for two rounds; the third took it. A clear of a deleted record is done.
    assert confirmed(answers) == sorted(live + locked + cleared_gone)
    assert refused(answers) == {
        deleted[0]: "ENTITY_IS_DELETED:entity is deleted",
        stranger[0]: "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id",
    }
    state = held(crm_server)
    assert state[live[4]] is None and state[locked[0]] == "u-" + locked[0]


def test_a_lock_that_outlasts_every_round_is_refused_with_its_reason(
    crm_server: SandboxProcess,
) -> None:
    locked = ids(1)
    org(crm_server, records={"Contact": locked}, locked={locked[0]: 99})
    answers, _ = push(crm_server, [UuidUpdate(locked[0], "u")], BULK)
    assert refused(answers) == {locked[0]: "UNABLE_TO_LOCK_ROW:unable to obtain exclusive "
                                "access to this record"}  # fmt: skip
    assert len(answers[-1].refused) == 1 and not confirmed(answers)


def test_an_unknown_field_fails_the_job_in_one_line(crm_server: SandboxProcess) -> None:
    records = ids(3)
    org(crm_server, records={"Contact": records})
    with pytest.raises(CrmError, match="Failed: InvalidBatch : Field name not found : Nope__c"):
        push(crm_server, [UuidUpdate(r, "u") for r in records], BULK, field="Nope__c")


def test_a_job_failing_half_way_keeps_what_it_confirmed(crm_server: SandboxProcess) -> None:
    records = ids(20)
    org(crm_server, records={"Contact": records}, fail_job_after=8)
    answers: list[PushResult] = []
    login = SalesforceLogin(instance_url=crm_server.root, access_token=SF_TOKEN)
    writer = SalesforceWriter(login, "Contact", FIELD, BULK)

    async def go() -> None:
        try:
            await writer.push([UuidUpdate(r, "u") for r in records], answers.append)
        finally:
            await writer.aclose()

    with pytest.raises(CrmError, match=r"Failed: .*12 records not processed, 12 offered again"):
        asyncio.run(go())
    assert len(confirmed(answers)) == 8  # told before the error, so they are marked


def test_collections_for_a_small_night_200_a_call_in_order(crm_server: SandboxProcess) -> None:
    records = ids(250)
    org(crm_server, records={"Contact": records[:-1]}, deleted=records[-1:], fail_next=2)
    answers, writer = push(crm_server, [UuidUpdate(r, "u-" + r) for r in records])
    assert confirmed(answers) == sorted(records[:-1])
    assert refused(answers) == {records[-1]: "ENTITY_IS_DELETED:entity is deleted"}
    # Two calls of 200 and 50, the first after two 503s retried.
    assert org(crm_server)["calls"] == {"collections": 4} and writer.calls == 4
    assert writer.connection.retries == 2


def test_the_daily_allocation_is_respected(crm_server: SandboxProcess) -> None:
    records = ids(450)
    org(crm_server, records={"Contact": records}, api_limit=100, api_used=88)
    # Each call tells the usage; the write-back stops before the org's reserve (10 of 100):
    # after two calls of the three (89, 90 used), a third would leave 9.
    with pytest.raises(CrmError, match=r"nearly spent \(90 of 100 calls used"):
        push(crm_server, [UuidUpdate(r, "u") for r in records])
    assert org(crm_server)["calls"]["collections"] == 2
    org(crm_server, api_limit=100, api_used=100)
    with pytest.raises(CrmError, match="REQUEST_LIMIT_EXCEEDED") as refused_:
        push(crm_server, [UuidUpdate(records[0], "u")])
    assert "\n" not in str(refused_.value)


def test_client_credentials_get_a_token_and_a_wrong_secret_stops(
    crm_server: SandboxProcess,
) -> None:
    records = ids(2)
    org(crm_server, records={"Contact": records})
    login = SalesforceLogin(login_url=crm_server.root, client_id=CLIENT[0],
                            client_secret=CLIENT[1])  # fmt: skip
    answers, _ = push(crm_server, [UuidUpdate(r, "u") for r in records], login=login)
    assert confirmed(answers) == records
    wrong = SalesforceLogin(login_url=crm_server.root, client_id=CLIENT[0],
                            client_secret="not-it")  # fmt: skip
    with pytest.raises(CrmError, match="refused the client credentials") as stopped:
        push(crm_server, [UuidUpdate(records[0], "u")], login=wrong)
    assert "not-it" not in str(stopped.value) and CLIENT[1] not in repr(login)


def test_a_wrong_token_stops_and_is_never_told(crm_server: SandboxProcess) -> None:
    login = SalesforceLogin(instance_url=crm_server.root, access_token="stolen-or-stale")
    with pytest.raises(CrmError, match="INVALID_SESSION_ID") as stopped:
        push(crm_server, [UuidUpdate(ids(1)[0], "u")], login=login)
    assert "stolen-or-stale" not in str(stopped.value)
