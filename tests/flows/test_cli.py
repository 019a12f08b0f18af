"""``custsync sync`` end to end over HTTP against the sandbox server, as users run it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER, CannedAnswer, OddServer, custsync, export, people, read_csv

HEADER = ["external_id", "email_address", "billing.first_name", "billing.last_name", "billing.city",
          "billing.country_code"]  # fmt: skip
ENV = {"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": KEY}


class Run:
    """One sync run's exit code and artefacts."""

    def __init__(self, result: Any, out: Path) -> None:
        self.code, self.stderr, self.stdout = result.returncode, result.stderr, result.stdout
        self.report = (
            json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
        )
        self.mappings = read_csv(out / "mappings.csv")
        self.rejects = read_csv(out / "rejects.csv")


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Any]:
    return {
        "entity": f"e2e-{uuid.uuid4().hex[:8]}",
        "state": str(tmp_path / "state.db"),
        "tmp": tmp_path,
    }


def sync(ws: dict[str, Any], server: SandboxProcess, source: Path, name: str, *extra: str,
         env: dict[str, str] | None = None) -> Run:  # fmt: skip
    out = ws["tmp"] / name
    result = custsync(
        "sync", str(source), "--target", server.url, "--entity-id", ws["entity"],
        "--state", ws["state"], "--out", str(out), *extra, env=ENV if env is None else env,
    )  # fmt: skip
    return Run(result, out)


def server_customers(server: SandboxProcess, entity: str) -> dict[str, dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/v2/customer",
        params={"search": f'entity_id=="{entity}"', "page_size": 1000},
        auth=(USER, KEY),
    )
    return {c["id"]: c for c in response.json()}


def test_first_sync_creates_and_the_mapping_matches_the_server(
    sandbox_server: SandboxProcess, workspace: dict[str, Any]
) -> None:
    source = export(workspace["tmp"] / "a.csv", people(12))
    run = sync(workspace, sandbox_server, source, "first")
    assert run.code == 0, run.stderr
    # One request more than the creates: the look for twins before the first (a new entity).
    assert run.report["created"] == 12 and run.report["requests"] == 13
    on_server = server_customers(sandbox_server, workspace["entity"])
    assert {m["customer_id"] for m in run.mappings} == set(on_server)
    for mapping in run.mappings:
        customer = on_server[mapping["customer_id"]]
        n = mapping["external_id"][1:]
        assert customer["email_address"] == f"p{n}@example.com"
        assert customer["billing"]["last_name"] == f"Lee{n}"
        assert mapping["status"] == "created"
    assert "target:" in run.stderr


def test_unchanged_rerun_sends_nothing(
    sandbox_server: SandboxProcess, workspace: dict[str, Any]
) -> None:
    source = export(workspace["tmp"] / "a.csv", people(8))
    assert sync(workspace, sandbox_server, source, "one").code == 0
    before = sandbox_server.stats()["requests"]
    again = sync(workspace, sandbox_server, source, "two")
    assert again.code == 0
    assert again.report["unchanged"] == 8 and again.report["requests"] == 0
    assert sandbox_server.stats()["requests"] == before
    assert {m["status"] for m in again.mappings} == {"unchanged"}


def test_a_changed_row_is_updated(
    sandbox_server: SandboxProcess, workspace: dict[str, Any]
) -> None:
    rows = people(5)
    first = sync(workspace, sandbox_server, export(workspace["tmp"] / "a.csv", rows), "one")
    rows[2][4] = "Leeds"
    second = sync(workspace, sandbox_server, export(workspace["tmp"] / "b.csv", rows), "two")
    assert (second.report["updated"], second.report["unchanged"], second.report["requests"]) == (
        1,
        4,
        1,
    )
    changed = next(m for m in second.mappings if m["external_id"] == "X2")
    assert changed["status"] == "updated"
    assert (
        changed["customer_id"]
        == next(m for m in first.mappings if m["external_id"] == "X2")["customer_id"]
    )
    assert (
        server_customers(sandbox_server, workspace["entity"])[changed["customer_id"]]["billing"][
            "city"
        ]
        == "Leeds"
    )


def test_a_vanished_customer_is_recreated(
    sandbox_server: SandboxProcess, workspace: dict[str, Any]
) -> None:
    rows = people(3)
    first = sync(workspace, sandbox_server, export(workspace["tmp"] / "a.csv", rows), "one")
    gone = next(m["customer_id"] for m in first.mappings if m["external_id"] == "X1")
    httpx.delete(f"{sandbox_server.url}/v2/customer/{gone}", auth=(USER, KEY)).raise_for_status()
    rows[1][4] = "York"
    second = sync(workspace, sandbox_server, export(workspace["tmp"] / "b.csv", rows), "two")
    assert second.code == 0
    assert second.report["recreated"] == 1 and second.report["created"] == 1
    new = next(m for m in second.mappings if m["external_id"] == "X1")
    assert new["status"] == "created" and new["customer_id"] != gone
    assert new["customer_id"] in server_customers(sandbox_server, workspace["entity"])


def test_validation_rejects_land_in_rejects_and_the_run_goes_on(
    sandbox_server: SandboxProcess, workspace: dict[str, Any]
) -> None:
    rows = [*people(3), ["X9", "not-an-email", "Bo", "", "Paris", "Narnia"],
            ["X8", "not-an-email", "Cy", "Wu", "Paris", "Narnia"]]  # fmt: skip
    run = sync(workspace, sandbox_server, export(workspace["tmp"] / "a.csv", rows), "one")
    assert run.code == 0
    # X9 cannot make a customer (a first name alone); X8 can, without its e-mail and country.
    assert run.report["created"] == 4 and run.report["rows_rejected"] == 1
    assert run.report["values_left_out"] == 2
    assert {(r["external_id"], r["field"], r["action"]) for r in run.rejects} == {
        ("X9", "email_address", "rejected"), ("X9", "billing.country_code", "rejected"),
        ("X9", "company_name", "rejected"),
        ("X8", "email_address", "left_out"), ("X8", "billing.country_code", "left_out"),
    }  # fmt: skip
    status = {m["external_id"]: m["status"] for m in run.mappings}
    assert (status["X9"], status["X8"]) == ("rejected", "created")


def test_wrong_credentials_stop_the_run_with_exit_1(
    sandbox_server: SandboxProcess, workspace: dict[str, Any]
) -> None:
    source = export(workspace["tmp"] / "a.csv", people(300))
    before = sandbox_server.stats()["by_status"].get("401", 0)
    run = sync(workspace, sandbox_server, source, "one",
               env={"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": "wrong"})  # fmt: skip
    assert run.code == 1
    assert "refused" in run.stderr and "wrong" not in run.stderr
    assert "Traceback" not in run.stderr
    # Stopped at once: one request until the credentials are proven, so a single 401.
    assert sandbox_server.stats()["by_status"].get("401", 0) - before == 1


def test_missing_credentials_for_a_remote_target_is_exit_2_before_reading(tmp_path: Path) -> None:
    result = custsync("sync", str(tmp_path / "does-not-exist.csv"), "--target", "emea",
                      "--entity-id", "E1", "--state", str(tmp_path / "s.db"))  # fmt: skip
    assert result.returncode == 2
    assert "VERIFONE_USER_UID" in result.stderr and "does-not-exist" not in result.stderr
    assert not (tmp_path / "s.db").exists()


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    result = custsync(
        "sync", "x.csv", "--target", "http://example.com/oidc/customer-service", env=ENV
    )
    assert result.returncode == 2 and "loopback" in result.stderr


def test_dry_run_changes_nothing(sandbox_server: SandboxProcess, workspace: dict[str, Any]) -> None:
    source = export(workspace["tmp"] / "a.csv", people(4))
    before = sandbox_server.stats()["requests"]
    run = sync(workspace, sandbox_server, source, "dry", "--dry-run")
    assert run.code == 0
    assert run.report["plan"] == {"create": 4} and run.report["requests"] == 0
    assert sandbox_server.stats()["requests"] == before
    assert not Path(workspace["state"]).exists()
    plan = read_csv(workspace["tmp"] / "dry" / "plan.csv")
    assert {p["action"] for p in plan} == {"create"}


def test_429_with_retry_after_is_honoured(workspace: dict[str, Any]) -> None:
    faults = FaultSettings(rate_limit=8, burst=4)
    with SandboxProcess(users={USER: KEY}, faults=faults) as server:
        source = export(workspace["tmp"] / "a.csv", people(20))
        run = sync(workspace, server, source, "one")
        assert run.code == 0, run.stderr
        assert run.report["created"] == 20
        assert (
            run.report["rate_limited"] > 0 and run.report["retries"] >= run.report["rate_limited"]
        )
        server.set_faults(FaultSettings())  # the check's own read must not meet the limit
        assert len(server_customers(server, workspace["entity"])) == 20


def test_client_rate_limit_avoids_429s(workspace: dict[str, Any]) -> None:
    with SandboxProcess(users={USER: KEY}, faults=FaultSettings(rate_limit=20, burst=20)) as server:
        source = export(workspace["tmp"] / "a.csv", people(40))
        run = sync(workspace, server, source, "one", "--rate-limit", "15")
        assert run.code == 0 and run.report["created"] == 40
        assert run.report["rate_limited"] == 0


def test_mappings_export(sandbox_server: SandboxProcess, workspace: dict[str, Any]) -> None:
    import polars as pl

    source = export(workspace["tmp"] / "a.csv", people(3))
    sync(workspace, sandbox_server, source, "one")
    target = workspace["tmp"] / "all.parquet"
    result = custsync("mappings", "export", "--state", workspace["state"], "--out", str(target))
    assert result.returncode == 0, result.stderr
    exported = pl.read_parquet(target)
    assert sorted(exported["external_id"].to_list()) == ["X0", "X1", "X2"]
    assert exported["customer_id"].null_count() == 0


def test_an_unknown_rate_limit_is_found_without_a_429_storm(workspace: dict[str, Any]) -> None:
    with SandboxProcess(users={USER: KEY}, faults=FaultSettings(rate_limit=30, burst=30)) as server:
        source = export(workspace["tmp"] / "a.csv", people(300))
        run = sync(workspace, server, source, "one")
        assert run.code == 0, run.stderr
        assert run.report["created"] == 300
        # Without the pacer every request past the limit would be refused and retried.
        assert run.report["rate_limited"] < 0.25 * run.report["requests"]


def test_a_target_that_redirects_stops_the_run_in_one_line(
    odd_server: OddServer, tmp_path: Path
) -> None:
    odd_server.answers = [CannedAnswer(302, b"", {"Location": "https://portal.example.com/login"})]
    source = export(tmp_path / "a.csv", people(5))
    where = ["--state", str(tmp_path / "s.db"), "--out", str(tmp_path / "o")]
    result = custsync("sync", str(source), "--target", odd_server.url, "--entity-id", "E1",
                      *where, env=ENV)  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("custsync: error")]
    assert len(errors) == 1 and "check --target" in errors[0] and "unexpected" not in result.stderr
    assert len(odd_server.seen) == 1  # the first answer stopped the rest
    statuses = {row["status"] for row in read_csv(tmp_path / "o" / "mappings.csv")}
    assert "rejected" not in statuses  # before: every row "rejected", exit 0


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("http://someone:S3CRET-KEY@127.0.0.1:8765/oidc/customer-service", "must not carry"),
        ("http://127.0.0.1:8765/oidc/customer-service\n", "control character"),
        ("http://127.0.0.1:port/oidc/customer-service", "not a URL"),
    ],
)
def test_a_target_that_cannot_be_used_is_one_line_exit_2(
    tmp_path: Path, target: str, said: str
) -> None:
    source = export(tmp_path / "a.csv", people(1))
    result = custsync("sync", str(source), "--target", target, "--state", str(tmp_path / "s.db"),
                      env=ENV)  # fmt: skip
    assert result.returncode == 2 and said in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "unexpected" not in result.stderr
    assert "S3CRET" not in result.stderr


def test_out_naming_a_file_is_exit_2_before_anything_is_sent(
    sandbox_server: SandboxProcess, tmp_path: Path
) -> None:
    source = export(tmp_path / "a.csv", people(2))
    taken = tmp_path / "taken"
    taken.write_text("a file of the user's")
    before = sandbox_server.stats()["requests"]
    sync = ["sync", str(source), "--target", sandbox_server.url, "--entity-id", "E1",
            "--state", str(tmp_path / "s.db")]  # fmt: skip
    for command in (sync, ["validate", str(source)]):
        result = custsync(*command, "--out", str(taken), env=ENV)
        assert result.returncode == 2 and "is a file, not a folder" in result.stderr
    assert sandbox_server.stats()["requests"] == before
    assert taken.read_text() == "a file of the user's"
