"""The write-back marks a record only once the CRM confirmed it: a process killed between the
CRM's answer and the mark offers the same records again, and the CRM ends up holding each UUID
(written twice, harmlessly), none left out. Against the sandbox's HubSpot stand-in and a real
SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from connectors.crm.logins import HubSpotLogin
from connectors.state.store import StateStore
from engine.writeback import write_back
from sandbox.auth import CrmLogins
from sandbox.process import SandboxProcess
from schemas.mapping import Writeback
from tests.helpers import ENV, HEADER, HS_TOKEN, KEY, ROOT, USER, custsync, export, people, sync

PROPERTY = "verifone_customer_id"
WRITEBACK = Writeback("Record ID", PROPERTY, crm="hubspot", object="contacts")


def held(server: SandboxProcess) -> dict[str, str | None]:
    records = server.admin("GET", "/_sandbox/hubspot").json()["records"]["contacts"]
    return {k: v.get(PROPERTY) for k, v in records.items()}


def synced_but_not_given(tmp_path: Path, server: SandboxProcess, n: int) -> dict[str, str]:
    """A state store whose customers are all due for the CRM (it was down at the sync)."""
    ids = [f"X{i}" for i in range(n)]
    server.admin("POST", "/_sandbox/hubspot", {"records": {"contacts": ids},
                 "properties": {"contacts": [PROPERTY]}, "fail_next": 10**6})  # fmt: skip
    columns = "\n".join(f'"{c}" = "{c}"' for c in HEADER[1:])
    (tmp_path / "m.toml").write_text(
        f'external_id = "external_id"\n[columns]\n{columns}\n[writeback]\ncrm = "hubspot"\n'
        f'id_column = "Record ID"\nuuid_field = "{PROPERTY}"\n'
    )
    env = {**ENV, "HUBSPOT_ACCESS_TOKEN": HS_TOKEN, "HUBSPOT_API_URL": server.root,
           "CUSTSYNC_CRM_ATTEMPTS": "1"}  # fmt: skip
    source = export(tmp_path / "a.csv", people(n))
    code, _, mappings, err = sync(server, tmp_path, source, "sync", "--mapping",
                                  str(tmp_path / "m.toml"), env=env)  # fmt: skip
    assert code == 3, err
    server.admin("POST", "/_sandbox/hubspot", {"fail_next": 0})
    return {m["external_id"]: m["customer_id"] for m in mappings}


def test_a_writeback_killed_between_the_crms_answer_and_the_mark_offers_them_again(
    tmp_path: Path,
) -> None:
    with SandboxProcess(users={USER: KEY}, crm=CrmLogins(hubspot_tokens=(HS_TOKEN,))) as server:
        made = synced_but_not_given(tmp_path, server, 250)
        # HubSpot makes each update, then holds its answer back: the process dies meanwhile.
        server.admin("POST", "/_sandbox/hubspot", {"answer_delay_ms": 5_000})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VERIFONE_", "HUBSPOT"))}
        env |= {"HUBSPOT_ACCESS_TOKEN": HS_TOKEN, "HUBSPOT_API_URL": server.root}
        state = str(tmp_path / "state.db")
        args = [sys.executable, "-m", "flows", "writeback", "--mapping", str(tmp_path / "m.toml"),
                "--state", state, "--out", str(tmp_path / "killed")]  # fmt: skip
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while sum(v is not None for v in held(server).values()) < 100:  # the first batch is in
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        with StateStore.open(state) as store:
            assert store.writeback.due(["E1"]).height == 250  # nothing was marked
        server.admin("POST", "/_sandbox/hubspot", {"answer_delay_ms": 0})
        again = custsync("writeback", "--mapping", str(tmp_path / "m.toml"), "--state", state,
                         "--out", str(tmp_path / "again"), "--output", "json", env=env)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["crm_confirmed"] == 250
        assert held(server) == made
        with StateStore.open(state) as store:
            assert store.writeback.due(["E1"]).height == 0


def test_only_what_the_crm_confirmed_is_marked_and_its_refusals_follow_the_rejects(
    tmp_path: Path,
) -> None:
    with SandboxProcess(users={USER: KEY}, crm=CrmLogins(hubspot_tokens=(HS_TOKEN,))) as server:
        synced_but_not_given(tmp_path, server, 5)
        server.admin("POST", "/_sandbox/hubspot", {"archived": ["X1", "X3"]})
        out = tmp_path / "out"
        out.mkdir()
        (out / "rejects.csv").write_text(
            "external_id,row,field,reason,file,action,column\nX9,2,,dup,,rejected,\n"
        )
        login = HubSpotLogin(HS_TOKEN, server.root)
        with StateStore.open(str(tmp_path / "state.db")) as store:
            outcome = write_back(store, WRITEBACK, ["E1"], out, login=login)
            assert (outcome.due, outcome.confirmed, outcome.failed) == (5, 3, 2)
            still = store.writeback.due(["E1"]).get_column("external_id").to_list()
        assert still == ["X1", "X3"]
        rejects = pl.read_csv(out / "rejects.csv", infer_schema=False)
        assert rejects.get_column("action").to_list() == ["rejected", "crm_failed", "crm_failed"]
        assert rejects.get_column("reason")[1].startswith("the CRM refused it: OBJECT_NOT_FOUND")
        record = pl.read_csv(outcome.path, infer_schema=False)
        assert dict(record.select("Record ID", "crm_result").iter_rows()) == {
            "X0": "confirmed", "X1": "failed", "X2": "confirmed", "X3": "failed",
            "X4": "confirmed"}  # fmt: skip
        assert outcome.falls_short() is not None and "refused 2 of 5" in str(outcome.falls_short())
