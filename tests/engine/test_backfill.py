"""The 3DS backfill streams its export in batches: where the batches cut changes nothing users
see, over two entities; rejected export rows are reported."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from engine.backfill import run_backfill
from engine.config import SyncConfig
from engine.runner import InlineRunner
from engine.sync import run_sync
from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER, read_csv, write

SEED_HEADER = ["external_id", "entity_id", "billing.first_name", "billing.last_name",
               "email_address", "billing.country_code"]  # fmt: skip
RICH_HEADER = ["external_id", "entity_id", "billing.first_name", "billing.last_name",
               "email_address", "billing.address_1", "billing.city", "billing.postal_code",
               "billing.state", "billing.country_code", "phone_number"]  # fmt: skip


pytestmark = pytest.mark.usefixtures("api_credentials")


def test_batches_cut_nothing_users_see(sandbox_server: SandboxProcess, tmp_path: Path) -> None:
    e1, e2 = (f"bb{n}-{uuid.uuid4().hex[:6]}" for n in (1, 2))
    seed = write(tmp_path / "seed.csv", SEED_HEADER,
                 [["K1", e1, "Ann", "Lee", "ann@example.com", "US"],
                  ["K2", e1, "Bob", "Ray", "bob@example.com", "GB"],
                  ["K5", e2, "Cy", "Wu", "cy@example.com", "FR"],
                  ["K3", e1, "Di", "Xu", "di@example.com", "DE"],
                  ["K4", e2, "Ed", "Yo", "ed@example.com", "IT"]])  # fmt: skip
    state = str(tmp_path / "state.db")
    common = {"target": sandbox_server.url, "state": state}
    synced = run_sync(SyncConfig(sources=[str(seed)], out=tmp_path / "seed", **common))
    assert synced.exit_code == 0 and synced.report.created == 5
    # external_id|entity|first|last|e-mail|address_1|city|postal_code|state|country|phone
    rich_rows = """K1|e1|Ann|Lee||1 Main St|Columbus|43004|Ohio|US|(614) 555-0100
K2|e1|Bob||not-an-email|2 High St|Leeds|LS1 1AA||GB|
K9|e1|Zed|Unknown||5 Nowhere|Oslo|0150||NO|
K5|e2|Cy|Wu||9 Rue Neuve|Lyon|69001||FR|
K3|e1|Di|Xu||3 Ring|Berlin|1011||DE|
K4|e2|Ed|Yo||||||IT|
K3|e1|Di|Xu||3 Ring|Berlin|10115||DE|030 1234567"""
    entities = {"e1": e1, "e2": e2}
    rows = [line.split("|") for line in rich_rows.splitlines()]
    rich = write(tmp_path / "rich.csv", RICH_HEADER,
                 [[r[0], entities[r[1]], *r[2:]] for r in rows])  # fmt: skip

    def dry(name: str, read_rows: int, send_rows: int) -> tuple[dict, list[dict[str, str]]]:
        config = SyncConfig(sources=[str(rich)], out=tmp_path / name, dry_run=True,
                            read_batch_rows=read_rows, batch_size=send_rows, **common)  # fmt: skip
        outcome = run_backfill(config)
        assert outcome.exit_code == 0
        return outcome.report.as_json(), read_csv(tmp_path / name / "readiness.csv")

    report, readiness = dry("one", 1000, 1000)
    # readiness.csv is a worklist: the customers not ready first (K4), then the rest, each
    # part in the export's order (the last K3 row is the one that counts)
    assert [r["external_id"] for r in readiness] == ["K4", "K1", "K5", "K3"]
    readiness.sort(key=lambda r: r["external_id"])
    assert report["customers_known"] == 4  # K2's row is rejected, K9 was never synced
    assert report["would_update"] == 3 and report["updated"] == 0
    assert (
        report["rows_read"] == 7 and report["rows_rejected"] == 2
    )  # no last name (nor company), duplicate
    assert report["requests"] == 1  # one search for the 4 known customers, nothing sent
    assert [r["ready_after"] for r in readiness] == [
        "true",
        "true",
        "false",
        "true",
    ]  # K1, K3, K4, K5
    keys = ("customers", "ready_before", "ready_after", "problems_before", "problems_after",
            "by_country_before", "by_country_after", "would_update", "rows_rejected",
            "customers_known")  # fmt: skip
    for read_rows, send_rows in ((2, 1), (3, 2)):
        cut_report, cut_readiness = dry(f"cut-{read_rows}-{send_rows}", read_rows, send_rows)
        assert {k: cut_report[k] for k in keys} == {k: report[k] for k in keys}
        assert [r["external_id"] for r in cut_readiness] == ["K4", "K1", "K5", "K3"]
        assert sorted(cut_readiness, key=lambda r: r["external_id"]) == readiness

    progress: list[tuple[int, int]] = []
    config = SyncConfig(sources=[str(rich)], out=tmp_path / "real", read_batch_rows=3,
                        batch_size=1, **common)  # fmt: skip
    real = run_backfill(config, runner=InlineRunner(lambda *step: progress.append(step)))
    assert real.exit_code == 0 and real.report.updated == 3
    # rows read, advancing with every customer judged: K1 | K5, K4 | K3 in batches of 3 rows
    assert [done for done, _ in progress] == [1, 3, 4, 5, 6, 7, 7]
    assert {total for _, total in progress} == {7}
    rejects = read_csv(tmp_path / "real" / "rejects.csv")
    reasons = {(r["row"], r["field"]) for r in rejects}
    assert reasons == {("2", "email_address"), ("2", "company_name"), ("5", "external_id")}
    mapping = {(m["entity_id"], m["external_id"]): m["customer_id"]
               for m in read_csv(tmp_path / "seed" / "mappings.csv")}  # fmt: skip
    assert len(mapping) == 5
    for key, city, postal in (((e1, "K1"), "Columbus", "43004"), ((e2, "K5"), "Lyon", "69001"),
                              ((e1, "K3"), "Berlin", "10115")):  # fmt: skip
        record = httpx.get(f"{sandbox_server.url}/v2/customer/{mapping[key]}", auth=(USER, KEY))
        billing = record.json()["billing"]
        assert (billing["city"], billing["postal_code"]) == (city, postal), key
    phones = {key: httpx.get(f"{sandbox_server.url}/v2/customer/{mapping[key]}",
                             auth=(USER, KEY)).json().get("phone_number")
              for key in ((e1, "K1"), (e1, "K3"), (e2, "K5"))}  # fmt: skip
    # E.164, as 3DS wants it; the superseded K3 row's phone was not the one taken
    assert phones == {(e1, "K1"): "+16145550100", (e1, "K3"): "+49301234567", (e2, "K5"): None}
