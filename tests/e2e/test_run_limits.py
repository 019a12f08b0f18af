"""A nightly run a team need not watch (issue 17, item 6): ``--max-rejected PCT`` and
``--max-failed N`` make a run fail (exit 1, one line saying why, recorded as failed) when what
it found is past them; within them it succeeds. Through the real CLI against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from sandbox.process import SandboxProcess
from tests.helpers import ENV, KEY, USER, custsync, export, people, read_csv, sync


def test_too_many_rejected_rows_fail_the_run_after_the_valid_ones_are_sent(tmp_path: Path) -> None:
    rows = people(10)
    for row in rows[:3]:
        row[2] = row[3] = ""  # no name: the row cannot make a customer
    source = export(tmp_path / "a.csv", rows)
    with SandboxProcess(users={USER: KEY}) as server:
        code, report, _, err = sync(server, tmp_path, source, "one", "--max-rejected", "20")
        assert code == 1 and report["created"] == 7 and report["rows_rejected"] == 3
        assert err.strip().splitlines()[-1] == (
            "custsync: error: 3 of 10 rows rejected (30.0%), over --max-rejected 20%"
        )
        assert report["over_limit"].startswith("3 of 10 rows rejected")
        listed = json.loads(custsync("runs", "--state", str(tmp_path / "state.db"),
                                     "--output", "json").stdout)  # fmt: skip
        assert listed[-1]["status"] == "failed"
        # The reasons, counted, where people look: report.json and the console's table.
        assert [(r["action"], r["rows"]) for r in report["reasons"]] == [("rejected", 3)]
        shown = custsync("sync", str(source), "--target", server.url, "--entity-id", "E1",
                         "--state", str(tmp_path / "state.db"), "--out", str(tmp_path / "five"),
                         env=ENV).stdout  # fmt: skip
        assert "Commonest reasons" in shown and report["reasons"][0]["reason"] in shown
        # Within the limit (and a dry run is held to it too, for a pre-flight check).
        code, report, _, _ = sync(server, tmp_path, source, "two", "--max-rejected", "30")
        assert code == 0 and "over_limit" not in report and report["unchanged"] == 7
        assert sync(server, tmp_path, source, "three", "--dry-run", "--max-rejected", "5")[0] == 1
        bad = sync(server, tmp_path, source, "four", "--max-rejected", "120")
        assert bad[0] == 2 and "--max-rejected must be a percentage" in bad[3]


def test_failed_rows_are_tolerated_up_to_max_failed(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        for email in ("p0@example.com", "p0@example.com", "p1@example.com", "p1@example.com"):
            httpx.post(f"{server.url}/v2/customer", auth=(USER, KEY), json={
                "entity_id": "E1", "email_address": email, "company_name": "Shop",
            }).raise_for_status()  # two customers each, made elsewhere: conflicts  # fmt: skip
        source = export(tmp_path / "a.csv", people(5))
        code, report, _, err = sync(server, tmp_path, source, "one", "--match-on",
                                    "email_address", "--max-failed", "1")  # fmt: skip
        assert code == 1 and report["failed"] == 2 and report["created"] == 3
        assert "custsync: error: 2 rows failed, over --max-failed 1" in err
        code, report, _, err = sync(server, tmp_path, source, "two", "--match-on",
                                    "email_address", "--max-failed", "2")  # fmt: skip
        assert code == 0 and report["failed"] == 2, err
        # Without the flag, any failed row fails the run, as always.
        code, report, _, _ = sync(server, tmp_path, source, "three", "--match-on", "email_address")
        assert code == 1 and report["failed"] == 2


def test_a_create_an_earlier_run_left_that_cannot_be_settled_is_in_rejects(tmp_path: Path) -> None:
    from connectors.state.store import StateStore
    from sandbox.faults import FaultSettings

    store = StateStore.open(str(tmp_path / "state.db"))
    store.journal.mark("E1", "GONE", "h", {"entity_id": "E1", "company_name": "Left Ltd"}, "r0")
    store.close()
    # Every search refused (its URL too long for this gateway): the earlier create cannot be
    # looked for, so it stays pending and failed, and says so where people look.
    with SandboxProcess(users={USER: KEY}, faults=FaultSettings(max_url_length=64)) as server:
        code, report, _, err = sync(server, tmp_path, export(tmp_path / "a.csv", people(2)),
                                           "one")  # fmt: skip
    assert code == 1 and report["failed"] == 1 and report["created"] == 2, err
    rejects = read_csv(tmp_path / "one" / "rejects.csv")
    gone = [r for r in rejects if r["external_id"] == "GONE"]
    assert len(gone) == 1 and gone[0]["action"] == "failed" and gone[0]["row"] == ""
    assert "could not reconcile" in gone[0]["reason"]
    assert [(r["action"], r["rows"]) for r in report["reasons"]] == [("failed", 1)]
