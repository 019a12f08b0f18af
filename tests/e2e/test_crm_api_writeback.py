"""UUIDs back into the CRM through its API (issue 27), through the real CLI, against the
sandbox serving the Customer API and the Salesforce and HubSpot stand-ins as real servers:
marked only once confirmed, refusals reported and offered again, a CRM that is down costs the
write-back (exit 3) and not the sync, ``custsync writeback`` catches up, a dry run pushes
nothing, a missing CRM credential stops the run before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.auth import CrmLogins
from sandbox.process import SandboxProcess
from tests.helpers import ENV, HEADER, KEY, USER, custsync, export, read_csv, sync

SF_TOKEN = "00Dsf-e2e-token-31c9"
HS_TOKEN = "pat-na1-e2e-token-8d2a"
SF_FIELD = "Verifone_Customer_ID__c"
HS_PROPERTY = "verifone_customer_id"


def contact_ids(n: int) -> list[str]:
    return [f"0035g{i:010d}QAA" for i in range(n)]


def rows_for(ids: list[str]) -> list[list[str]]:
    return [[i, f"p{n}@example.com", "Ann", f"Lee{n}", "London", "GB"] for n, i in enumerate(ids)]


def mapping(tmp: Path, crm: str) -> Path:
    columns = "\n".join(f'"{c}" = "{c}"' for c in HEADER[1:])
    field = SF_FIELD if crm == "salesforce" else HS_PROPERTY
    id_column = "Id" if crm == "salesforce" else "Record ID"
    path = tmp / f"{crm}.toml"
    writeback = f'crm = "{crm}"\nid_column = "{id_column}"\nuuid_field = "{field}"\n'
    path.write_text(f'external_id = "external_id"\n[columns]\n{columns}\n[writeback]\n{writeback}')
    return path


@pytest.fixture
def server() -> Any:
    logins = CrmLogins(salesforce_tokens=(SF_TOKEN,), hubspot_tokens=(HS_TOKEN,))
    with SandboxProcess(users={USER: KEY}, crm=logins) as running:
        yield running


def salesforce_env(server: SandboxProcess) -> dict[str, str]:
    return {**ENV, "SALESFORCE_INSTANCE_URL": server.root, "SALESFORCE_ACCESS_TOKEN": SF_TOKEN}


def hubspot_env(server: SandboxProcess) -> dict[str, str]:
    return {**ENV, "HUBSPOT_API_URL": server.root, "HUBSPOT_ACCESS_TOKEN": HS_TOKEN}


def held(server: SandboxProcess, crm: str) -> dict[str, str | None]:
    if crm == "salesforce":
        records = server.admin("GET", "/_sandbox/salesforce").json()["records"]["Contact"]
        return {r["Id"]: r.get(SF_FIELD) for r in records.values()}
    records = server.admin("GET", "/_sandbox/hubspot").json()["records"]["contacts"]
    return {k: v.get(HS_PROPERTY) for k, v in records.items()}


def test_salesforce_gets_each_new_uuid_once_and_a_refusal_again_next_night(
    tmp_path: Path, server: SandboxProcess,
) -> None:  # fmt: skip
    ids = contact_ids(6)
    server.admin("POST", "/_sandbox/salesforce", {"records": {"Contact": ids[:5]},
                 "deleted": ids[5:], "fields": {"Contact": [SF_FIELD]}})  # fmt: skip
    source = export(tmp_path / "a.csv", rows_for(ids))
    sf = mapping(tmp_path, "salesforce")
    env = salesforce_env(server)
    code, report, mappings, err = sync(server, tmp_path, source, "one", "--mapping", str(sf),
                                       env=env)  # fmt: skip
    # Synced, every one; the CRM holds five: exit 3, its reason in one line and in rejects.csv.
    assert code == 3 and report["created"] == 6, err
    assert err.strip().splitlines()[-1] == ("custsync: error: the CRM refused 1 of 6 records "
        "(rejects.csv, crm_failed); they are offered again on the next run")  # fmt: skip
    made = {m["external_id"]: m["customer_id"] for m in mappings}
    assert held(server, "salesforce") == {i: made[i] for i in ids[:5]}
    assert (report["crm_update_rows"], report["crm_confirmed"], report["crm_failed"]) == (6, 5, 1)
    failed = [r for r in read_csv(tmp_path / "one" / "rejects.csv") if r["action"] == "crm_failed"]
    assert [(r["external_id"], r["field"], r["reason"]) for r in failed] == [
        (ids[5], SF_FIELD, "the CRM refused it: ENTITY_IS_DELETED:entity is deleted")
    ]
    record = read_csv(tmp_path / "one" / "crm-update.csv")
    assert {r["Id"]: r["crm_result"] for r in record} == {
        **dict.fromkeys(ids[:5], "confirmed"), ids[5]: "failed"}  # fmt: skip

    # The next night: nothing changed, so only the refused one is offered again (one call).
    before = server.admin("GET", "/_sandbox/salesforce").json()["calls"]["collections"]
    code, report, _, err = sync(server, tmp_path, source, "two", "--mapping", str(sf), env=env)
    assert code == 3 and report["unchanged"] == 6 and report["crm_update_rows"] == 1, err
    assert server.admin("GET", "/_sandbox/salesforce").json()["calls"]["collections"] == before + 1
    for path in (tmp_path / "one").iterdir():
        assert SF_TOKEN not in path.read_text(errors="replace")
    assert SF_TOKEN not in err


def test_a_crm_that_is_down_costs_the_write_back_not_the_sync_and_writeback_catches_up(
    tmp_path: Path, server: SandboxProcess,
) -> None:  # fmt: skip
    ids = [str(7000 + i) for i in range(30)]
    server.admin("POST", "/_sandbox/hubspot", {"records": {"contacts": ids},
                 "properties": {"contacts": [HS_PROPERTY]}, "fail_next": 10_000})  # fmt: skip
    source = export(tmp_path / "a.csv", rows_for(ids))
    hs = mapping(tmp_path, "hubspot")
    # Two attempts a call here (six by default, over about 8 s).
    env = {**hubspot_env(server), "CUSTSYNC_CRM_ATTEMPTS": "2"}
    code, report, mappings, err = sync(server, tmp_path, source, "one", "--mapping", str(hs),
                                       env=env)  # fmt: skip
    assert code == 3 and report["created"] == 30 and report["crm_confirmed"] == 0, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("custsync: error: the write-back stopped: HubSpot did not answer")
    assert "Traceback" not in err and HS_TOKEN not in err
    assert report["crm_error"].startswith("HubSpot did not answer the write-back")
    assert all(value is None for value in held(server, "hubspot").values())

    # Back up: a dry run says what would go and pushes nothing; then writeback pushes it.
    server.admin("POST", "/_sandbox/hubspot", {"fail_next": 0})
    state = str(tmp_path / "state.db")
    dry = custsync("writeback", "--mapping", str(hs), "--state", state, "--out",
                   str(tmp_path / "dry"), "--dry-run", env=env)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert len(read_csv(tmp_path / "dry" / "crm-update.csv")) == 30
    calls = _calls_so_far(server)
    assert all(value is None for value in held(server, "hubspot").values())
    caught_up = custsync("writeback", "--mapping", str(hs), "--state", state, "--out",
                         str(tmp_path / "catch-up"), "--output", "json", env=env)  # fmt: skip
    assert caught_up.returncode == 0, caught_up.stderr
    assert _calls_so_far(server) == calls + 1  # the dry run made none; 30 records, one batch
    pushed = json.loads(caught_up.stdout)
    assert (pushed["due"], pushed["crm_confirmed"], pushed["crm_failed"]) == (30, 30, 0)
    made = {m["external_id"]: m["customer_id"] for m in mappings}
    assert held(server, "hubspot") == made
    # Nothing is due any more: the next writeback pushes nothing.
    again = custsync("writeback", "--mapping", str(hs), "--state", state, "--out",
                     str(tmp_path / "again"), "--output", "json", env=env)  # fmt: skip
    assert again.returncode == 0 and json.loads(again.stdout)["due"] == 0


def _calls_so_far(server: SandboxProcess) -> int:
    return int(server.admin("GET", "/_sandbox/hubspot").json()["calls"])


def test_a_missing_crm_credential_stops_the_run_before_anything_is_sent(
    tmp_path: Path, server: SandboxProcess,
) -> None:  # fmt: skip
    source = export(tmp_path / "a.csv", rows_for(contact_ids(3)))
    for crm, needs in (("salesforce", "SALESFORCE_INSTANCE_URL"),
                       ("hubspot", "HUBSPOT_ACCESS_TOKEN")):  # fmt: skip
        code, _, _, err = sync(server, tmp_path, source, crm, "--mapping",
                               str(mapping(tmp_path, crm)))  # fmt: skip
        assert code == 2 and needs in err and "Traceback" not in err, err
    assert server.stats()["requests"] == 0
    # A plain-HTTP CRM beyond loopback is refused the same way.
    env = {**ENV, "HUBSPOT_ACCESS_TOKEN": HS_TOKEN, "HUBSPOT_API_URL": "http://crm.example.com"}
    code, _, _, err = sync(server, tmp_path, source, "plain", "--mapping",
                           str(mapping(tmp_path, "hubspot")), env=env)  # fmt: skip
    assert code == 2 and "plain HTTP is allowed only to loopback" in err
    assert server.stats()["requests"] == 0


def test_a_sync_dry_run_says_what_would_go_back_and_pushes_nothing(
    tmp_path: Path, server: SandboxProcess,
) -> None:  # fmt: skip
    ids = contact_ids(4)
    server.admin("POST", "/_sandbox/salesforce", {"records": {"Contact": ids},
                 "fields": {"Contact": [SF_FIELD]}})  # fmt: skip
    source = export(tmp_path / "a.csv", rows_for(ids))
    sf = str(mapping(tmp_path, "salesforce"))
    wrong = {**salesforce_env(server), "SALESFORCE_ACCESS_TOKEN": "wrong"}
    code, _, _, err = sync(server, tmp_path, source, "one", "--mapping", sf, env=wrong)
    assert code == 3 and "INVALID_SESSION_ID" in err and "wrong" not in err.split("INVALID")[0]
    code, report, _, err = sync(server, tmp_path, source, "dry", "--mapping", sf, "--dry-run")
    assert code == 0 and report["crm_update_rows"] == 4 and "crm_confirmed" not in report, err
    assert len(read_csv(tmp_path / "dry" / "crm-update.csv")) == 4
    # Neither run wrote a UUID: the refused token counted no call, the dry run made none.
    assert server.admin("GET", "/_sandbox/salesforce").json()["calls"] == {}
    assert all(value is None for value in held(server, "salesforce").values())


def test_a_backfill_changes_no_uuid_so_it_needs_no_crm_and_writes_nothing_back(
    tmp_path: Path, server: SandboxProcess,
) -> None:  # fmt: skip
    ids = [str(9000 + i) for i in range(3)]
    server.admin("POST", "/_sandbox/hubspot", {"records": {"contacts": ids},
                 "properties": {"contacts": [HS_PROPERTY]}})  # fmt: skip
    source = export(tmp_path / "a.csv", rows_for(ids))
    hs = str(mapping(tmp_path, "hubspot"))
    code, _, _, err = sync(server, tmp_path, source, "one", "--mapping", hs,
                           env=hubspot_env(server))  # fmt: skip
    assert code == 0, err
    calls = _calls_so_far(server)
    # No HubSpot token in its environment, and none needed.
    backfill = custsync("backfill-3ds", str(source), "--mapping", hs, "--target", server.url,
                        "--entity-id", "E1", "--state", str(tmp_path / "state.db"),
                        "--out", str(tmp_path / "backfill"), env=ENV)  # fmt: skip
    assert backfill.returncode == 0, backfill.stderr
    assert _calls_so_far(server) == calls
    assert not (tmp_path / "backfill" / "crm-update.csv").exists()
