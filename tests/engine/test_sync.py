"""A sync streams its export in batches: where the batches cut changes nothing users see."""

from __future__ import annotations

import csv
import logging
import uuid
from pathlib import Path

import httpx
import pytest

from engine.config import SyncConfig
from engine.sync import run_sync
from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER, export, read_csv, write

ROWS = [
    ["A", "a@example.com", "Ann", "Lee", "London", "GB"],
    ["B", "not-an-email", "Bob", "Ray", "Paris", "FR"],
    ["C", "c@example.com", "Cy", "Wu", "Lyon", "FR"],
    ["A", "a2@example.com", "Ann", "Lee", "Leeds", "GB"],  # supersedes row 1 (other batch)
    ["D", "d@example.com", "Di", "Xu", "Rome", "IT"],
    ["B", "b@example.com", "Bob", "Ray", "Paris", "FR"],  # supersedes the invalid row 2
    ["E", "e@example.com", "Ed", "", "Oslo", "Narnia"],  # rejected: no last name, no company
    ["F", "f@example.com", "Fi", "Zu", "Bonn", "DE"],
    ["C", "c@example.com", "Cy", "", "Lyon", "Narnia"],  # supersedes row 3, rejected
]


pytestmark = pytest.mark.usefixtures("api_credentials")


Rows = list[dict[str, str]]


def run(server: SandboxProcess, tmp: Path, source: Path, name: str, read_rows: int,
        send_rows: int) -> tuple[int, dict, Rows, Rows]:  # fmt: skip
    config = SyncConfig(
        sources=[str(source)], target=server.url, entity_id=f"b-{name}-{uuid.uuid4().hex[:6]}",
        state=str(tmp / f"{name}.db"), out=tmp / name, batch_size=send_rows,
        read_batch_rows=read_rows,
    )  # fmt: skip
    outcome = run_sync(config)
    mappings = sorted(read_csv(tmp / name / "mappings.csv"), key=lambda m: m["external_id"])
    rejects = sorted(read_csv(tmp / name / "rejects.csv"), key=lambda r: (r["row"], r["field"]))
    return outcome.exit_code, outcome.report.as_json(), mappings, rejects


def test_small_batches_give_the_outcome_of_one_batch(
    sandbox_server: SandboxProcess, tmp_path: Path
) -> None:
    source = export(tmp_path / "a.csv", ROWS)
    code, report, mappings, rejects = run(sandbox_server, tmp_path, source, "one", 1000, 1000)
    assert code == 0
    assert {m["external_id"]: m["status"] for m in mappings} == {
        "A": "created", "B": "created", "C": "rejected", "D": "created", "E": "rejected",
        "F": "created",
    }  # fmt: skip
    for read_rows, send_rows in ((2, 1), (3, 2)):
        name = f"cut-{read_rows}-{send_rows}"
        code2, report2, mappings2, rejects2 = run(
            sandbox_server, tmp_path, source, name, read_rows, send_rows
        )
        assert code2 == 0
        strip = lambda ms: [(m["external_id"], m["status"]) for m in ms]  # noqa: E731
        assert strip(mappings2) == strip(mappings)
        assert rejects2 == rejects
        keys = ("rows_read", "rows_valid", "rows_rejected", "created", "rejected", "requests",
                "plan")  # fmt: skip
        assert {k: report2[k] for k in keys} == {k: report[k] for k in keys}
    # the winners were sent: A with its second e-mail
    # 4 creates, and the look for twins before the first (the entity is new to the store).
    assert report["rows_read"] == 9 and report["rows_valid"] == 4 and report["requests"] == 5
    # Each duplicate names the row kept in its place, whichever batch that row was read in.
    kept = "duplicate: row {} kept (the last of this external id)"
    assert {(r["row"], r["reason"]) for r in rejects if r["reason"].startswith("duplicate")} == {
        ("1", kept.format(4)),
        ("2", kept.format(6)),
        ("3", kept.format(9)),
    }


def test_an_unchanged_local_run_never_starts_the_embedded_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    source = export(tmp_path / "a.csv", ROWS[:1])
    config = SyncConfig(sources=[str(source)], out=tmp_path / "one")
    with caplog.at_level(logging.INFO, logger="custsync"):
        assert run_sync(config).report.created == 1
        assert "embedded sandbox started" in caplog.text
        caplog.clear()
        config = config.model_copy(update={"out": tmp_path / "two"})
        report = run_sync(config).report
    assert report.unchanged == 1 and report.requests == 0
    assert "embedded sandbox started" not in caplog.text


def test_mappings_of_a_rejected_known_customer_keep_its_uuid(
    sandbox_server: SandboxProcess, tmp_path: Path
) -> None:
    source = export(tmp_path / "a.csv", ROWS[:1])
    config = SyncConfig(
        sources=[str(source)], target=sandbox_server.url, entity_id="keep-" + uuid.uuid4().hex,
        state=str(tmp_path / "s.db"), out=tmp_path / "one",
    )  # fmt: skip
    run_sync(config)
    created = read_csv(tmp_path / "one" / "mappings.csv")[0]["customer_id"]
    bad = export(tmp_path / "b.csv", [["A", "a@example.com", "Ann", "", "London", "GB"]])
    config = config.model_copy(update={"sources": [str(bad)], "out": tmp_path / "two"})
    run_sync(config)
    assert read_csv(tmp_path / "two" / "mappings.csv") == [
        {"external_id": "A", "customer_id": created, "status": "rejected", "entity_id": ""}
    ]
    with httpx.Client(base_url=sandbox_server.url, auth=(USER, KEY)) as client:
        assert client.get(f"/v2/customer/{created}").status_code == 200


def test_header_only_artefacts_when_every_row_is_rejected(
    sandbox_server: SandboxProcess, tmp_path: Path
) -> None:
    source = export(tmp_path / "a.csv", [["Z", "bad", "Zed", "", "X", "Narnia"]])
    code, report, _, _ = run(sandbox_server, tmp_path, source, "bad", 1000, 1000)
    assert code == 0 and report["rejected"] == 1 and report["requests"] == 0
    with (tmp_path / "bad" / "mappings.csv").open() as handle:
        assert next(csv.reader(handle)) == ["external_id", "customer_id", "status", "entity_id"]


def test_a_value_left_out_never_blanks_what_the_api_has(
    sandbox_server: SandboxProcess, tmp_path: Path
) -> None:
    header = ["external_id", "billing.first_name", "billing.last_name", "billing.city",
              "phone_number", "email_address"]  # fmt: skip
    config = SyncConfig(
        sources=[str(write(tmp_path / "a.csv", header, [["P1", "Ann", "Lee", "Leeds",
                                                          "0113 496 0000", "ann@example.com"]]))],
        target=sandbox_server.url, entity_id="blank-" + uuid.uuid4().hex,
        state=str(tmp_path / "s.db"), out=tmp_path / "one",
    )  # fmt: skip
    assert run_sync(config).report.created == 1
    # The CRM's phone turns invalid, its e-mail too, and the city changes.
    row = ["P1", "Ann", "Lee", "York", "0113 496 0000 ext. 12", "ann@@example"]
    changed = write(tmp_path / "b.csv", header, [row])
    config = config.model_copy(update={"sources": [str(changed)], "out": tmp_path / "two"})
    second = run_sync(config)
    assert (second.exit_code, second.report.updated, second.report.values_left_out) == (0, 1, 2)
    customer_id = read_csv(tmp_path / "two" / "mappings.csv")[0]["customer_id"]
    with httpx.Client(base_url=sandbox_server.url, auth=(USER, KEY)) as client:
        record = client.get(f"/v2/customer/{customer_id}").json()
    assert record["billing"]["city"] == "York"  # the change is sent ...
    assert record["phone_number"] == "0113 496 0000"  # ... and what could not be, is kept
    assert record["email_address"] == "ann@example.com"
    lines = {(r["field"], r["action"]) for r in read_csv(tmp_path / "two" / "rejects.csv")}
    assert lines == {("phone_number", "left_out"), ("email_address", "left_out")}


@pytest.mark.parametrize("read_rows", [1000, 2])
def test_rows_sharing_a_match_in_different_batches_adopt_for_none(
    sandbox_server: SandboxProcess, tmp_path: Path, read_rows: int
) -> None:
    entity = f"m-{uuid.uuid4().hex[:6]}"
    billing = {"first_name": "Kim", "last_name": "Old", "country_code": "GB"}
    existing = {"entity_id": entity, "email_address": "kim@example.com", "billing": billing}
    httpx.post(f"{sandbox_server.url}/v2/customer", auth=(USER, KEY),
               json=existing).raise_for_status()  # fmt: skip
    rows = [["K1", "kim@example.com", "Kim", "Lee", "Leeds", "GB"],
            ["X1", "x@example.com", "Xi", "Wu", "Lyon", "FR"],
            ["X2", "y@example.com", "Yo", "Wu", "Lyon", "FR"],
            ["K2", " KIM@example.com", "Kim", "Lee", "Leeds", "GB"]]  # fmt: skip
    config = SyncConfig(
        sources=[str(export(tmp_path / "a.csv", rows))], target=sandbox_server.url,
        entity_id=entity, state=str(tmp_path / "s.db"), out=tmp_path / "o",
        read_batch_rows=read_rows, match_on=("email_address",),
    )  # fmt: skip
    outcome = run_sync(config)
    statuses = {m["external_id"]: m["status"] for m in read_csv(tmp_path / "o" / "mappings.csv")}
    # K1 and K2 are read in different batches when batches hold two rows: neither adopts.
    assert statuses == {"K1": "failed", "K2": "failed", "X1": "created", "X2": "created"}
    assert outcome.report.adopted == 0 and outcome.report.match_conflicts == 2
