"""For people and for scripts: ``custsync runs`` lists what the state store recorded,
``--output json`` puts the report alone on stdout, ``--version``, and a run that fails says so
in a line even with ``-q`` (issue 17, items 3-5) — through the real CLI, against the sandbox as
a real server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from sandbox.process import SandboxProcess
from tests.helpers import ENV, KEY, USER, custsync, export, people, person


def sync_json(server: SandboxProcess, tmp: Path, source: Path, name: str, *extra: str
              ) -> tuple[int, str, str]:  # fmt: skip
    result = custsync("sync", str(source), "--target", server.url, "--entity-id", "E1",
                      "--state", str(tmp / "state.db"), "--out", str(tmp / name),
                      "--output", "json", *extra, env=ENV)  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def test_runs_are_listed_and_shown_from_the_state_store(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    source = export(tmp_path / "a.csv", people(6))
    with SandboxProcess(users={USER: KEY}) as server:
        first = sync_json(server, tmp_path, source, "one")
        second = sync_json(server, tmp_path, source, "two")
    assert first[0] == second[0] == 0, first[2] + second[2]
    # --output json: the report alone on stdout, the same as report.json.
    report = json.loads(first[1])
    assert report == json.loads((tmp_path / "one" / "report.json").read_text())
    assert report["created"] == 6 and json.loads(second[1])["unchanged"] == 6

    listed = custsync("runs", "--state", state, "--output", "json")
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [r["run_id"] for r in runs] == [report["run_id"], json.loads(second[1])["run_id"]]
    assert [r["status"] for r in runs] == ["ok", "ok"]
    assert runs[0]["report"]["created"] == 6 and runs[1]["report"]["unchanged"] == 6
    assert len(json.loads(custsync("runs", "--state", state, "--last", "1",
                                   "--output", "json").stdout)) == 1  # fmt: skip

    # The table: one line per run in 80 columns, the target as its host and port.
    table = custsync("runs", "--state", state)
    assert table.returncode == 0
    lines = [line for line in table.stdout.splitlines() if report["run_id"] in line]
    host = server.url.removesuffix("/oidc/customer-service").removeprefix("http://")
    assert len(lines) == 1 and host in lines[0] and "oidc" not in lines[0]
    assert " 6 " in lines[0] and "ok" in lines[0]
    assert all(len(line) <= 80 for line in table.stdout.splitlines())

    shown = custsync("runs", "show", report["run_id"], "--state", state, "--output", "json")
    assert json.loads(shown.stdout)["report"] == report
    # As a report: grouped counts, the target once and whole, no JSON.
    text = custsync("runs", "show", report["run_id"], "--state", state).stdout
    assert report["run_id"] in text and text.count(server.url) == 1
    assert "rows" in text and "customers" in text and "created" in text
    assert "{" not in text and "False" not in text

    missing = custsync("runs", "show", "no-such-run", "--state", state)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"custsync: error: no run 'no-such-run' in {state}; `custsync runs` lists them"
    ]
    nowhere = custsync("runs", "--state", str(tmp_path / "none.db"))
    assert nowhere.returncode == 2 and "no state store" in nowhere.stderr
    assert not (tmp_path / "none.db").exists()  # asking never creates a store


def test_a_quiet_run_with_failed_rows_still_says_so_in_one_line(tmp_path: Path) -> None:
    # Two rows matching one customer on --match-on: both fail (a conflict), exit 1.
    rows = people(3)
    rows[1][1] = rows[2][1] = "shared@example.com"
    source = export(tmp_path / "a.csv", rows)
    with SandboxProcess(users={USER: KEY}) as server:
        made = httpx.post(f"{server.url}/v2/customer", auth=(USER, KEY),
                          json=person(email_address="shared@example.com"))  # fmt: skip
        made.raise_for_status()
        result = custsync("-q", "sync", str(source), "--target", server.url, "--entity-id",
                          "E1", "--state", str(tmp_path / "s.db"), "--out",
                          str(tmp_path / "o"), "--match-on", "email_address", env=ENV)  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"custsync: 2 rows failed; reasons in {tmp_path / 'o'}/rejects.csv"
    ]
    assert "shared@example.com" not in result.stderr


def test_validate_prints_its_report_as_json_and_bad_output_is_refused(tmp_path: Path) -> None:
    source = export(tmp_path / "a.csv", [*people(4), ["X9", "not-an-email", "", "", "", ""]])
    result = custsync("validate", str(source), "--out", str(tmp_path / "v"), "--output", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads((tmp_path / "v" / "report.json").read_text())
    refused = custsync("validate", str(source), "--output", "yaml")
    assert refused.returncode == 2
    assert "--output must be text or json" in refused.stderr


def test_version_is_the_package_version() -> None:
    from importlib.metadata import version

    result = custsync("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"custsync {version('custsync')}"
