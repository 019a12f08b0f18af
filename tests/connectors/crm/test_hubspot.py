"""The HubSpot writer against its stand-in as a real server: batches of 100 read record by
record (200 and 207), paced to the 10-second window, the daily limit, a missing property."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from connectors.crm.hubspot import HubSpotWriter
from connectors.crm.logins import HubSpotLogin
from connectors.crm.updates import PushResult, UuidUpdate
from connectors.errors import CrmError
from connectors.tuning import CrmTuning
from sandbox.process import SandboxProcess
from tests.helpers import HS_TOKEN

PROPERTY = "verifone_customer_id"


def portal(server: SandboxProcess, **change: Any) -> dict[str, Any]:
    body = {"properties": {"contacts": [PROPERTY]}, **change}
    response = server.admin("POST", "/_sandbox/hubspot", body)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def push(server: SandboxProcess, updates: list[UuidUpdate], token: str = HS_TOKEN,
         prop: str = PROPERTY) -> tuple[list[PushResult], HubSpotWriter]:  # fmt: skip
    writer = HubSpotWriter(HubSpotLogin(token, server.root), "contacts", prop, CrmTuning())
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


def test_batches_of_100_answers_read_record_by_record(crm_server: SandboxProcess) -> None:
    records = [str(1000 + i) for i in range(250)]
    gone = records[:3]
    portal(crm_server, records={"contacts": records}, archived=gone, fail_next=1)
    updates = [UuidUpdate(r, f"u-{r}") for r in records[1:]] + [UuidUpdate(gone[0], None)]
    answers, writer = push(crm_server, updates)
    # 207 for the batch with archived records: its others confirmed; a clear of one is done.
    assert confirmed(answers) == sorted([*records[3:], gone[0]])
    refusals = {u.record_id: why for a in answers for u, why in a.refused}
    assert set(refusals) == set(gone[1:])
    assert all(why.startswith("OBJECT_NOT_FOUND:Could not get some") for why in refusals.values())
    held = portal(crm_server)["records"]["contacts"]
    assert held[records[10]][PROPERTY] == f"u-{records[10]}"
    assert writer.calls == 4 and writer.connection.retries == 1  # 3 batches, one 502 retried


def test_the_ten_second_window_is_kept_without_429s(crm_server: SandboxProcess) -> None:
    records = [str(5000 + i) for i in range(600)]
    portal(crm_server, records={"contacts": records}, per_interval=3, interval_ms=1000)
    started = time.perf_counter()
    answers, _ = push(crm_server, [UuidUpdate(r, "u") for r in records])
    took = time.perf_counter() - started
    assert confirmed(answers) == sorted(records)
    # Six batches at 3 a second, paced from the headers of the first answer: at most the
    # first window's volley is refused, and the run lasts about two seconds, not six.
    assert portal(crm_server)["refused"] <= 3 and 1.0 < took < 6.0


def test_a_spent_daily_limit_and_a_missing_property_stop_in_one_line(
    crm_server: SandboxProcess,
) -> None:
    portal(crm_server, records={"contacts": ["1"]}, daily=10, daily_used=10)
    with pytest.raises(CrmError, match="daily API limit is spent"):
        push(crm_server, [UuidUpdate("1", "u")])
    portal(crm_server, daily=1000, daily_used=950)
    with pytest.raises(CrmError, match="nearly spent"):  # 10% left to other integrations
        push(crm_server, [UuidUpdate("1", "u")] * 3 + [UuidUpdate(str(i), "u") for i in range(300)])
    portal(crm_server, daily_used=0)
    with pytest.raises(CrmError, match="PROPERTY_DOESNT_EXIST"):
        push(crm_server, [UuidUpdate("1", "u")], prop="no_such_property")


def test_a_wrong_token_stops_and_is_never_told(crm_server: SandboxProcess) -> None:
    with pytest.raises(CrmError, match="INVALID_AUTHENTICATION") as stopped:
        push(crm_server, [UuidUpdate("1", "u")], token="pat-na1-wrong")
    assert "pat-na1-wrong" not in str(stopped.value)
