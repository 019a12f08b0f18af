"""``custsync backfill-3ds`` end to end against the sandbox: readiness rises, only improving
updates are sent, nothing the API has is blanked, the HTML report carries its data."""

from __future__ import annotations

import csv
import json
import re
import uuid
from pathlib import Path

import httpx

from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER, custsync, write

ENV = {"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": KEY}


def test_backfill_fills_what_is_missing_and_blanks_nothing(
    sandbox_server: SandboxProcess, tmp_path: Path
) -> None:
    entity = f"bf-{uuid.uuid4().hex[:8]}"
    common = [
        "--target",
        sandbox_server.url,
        "--entity-id",
        entity,
        "--state",
        str(tmp_path / "s.db"),
    ]
    thin = write(tmp_path / "thin.csv",
                 ["external_id", "billing.first_name", "billing.last_name", "email_address",
                  "title", "billing.country_code"],
                 [["B1", "Ann", "Lee", "ann@example.com", "Dr", "US"],
                  ["B2", "Bob", "Ray", "bob@example.com", "Mr", "GB"],
                  ["B3", "Cid", "Doe", "", "Mx", "FR"]])  # fmt: skip
    assert (
        custsync("sync", str(thin), *common, "--out", str(tmp_path / "s1"), env=ENV).returncode == 0
    )
    rich = write(tmp_path / "rich.csv",
                 ["external_id", "billing.first_name", "billing.last_name", "billing.address_1",
                  "billing.city", "billing.postal_code", "billing.state", "billing.country_code"],
                 [["B1", "Ann", "Lee", "1 Main St", "Columbus", "43004", "Ohio", "US"],
                  ["B2", "Bob", "Ray", "2 High St", "London", "sw1a 1aa", "", "GB"],
                  ["B3", "Cid", "Doe", "", "", "", "", "FR"]])  # fmt: skip
    dry = custsync("backfill-3ds", str(rich), *common, "--out", str(tmp_path / "dry"),
                   "--dry-run", "--output", "json", env=ENV)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    dry_report = json.loads((tmp_path / "dry" / "report.json").read_text())
    assert json.loads(dry.stdout) == dry_report  # --output json: the report alone on stdout
    assert dry_report["would_update"] == 2 and dry_report["updated"] == 0
    before = sandbox_server.stats()["by_operation"].get("update", 0)
    run = custsync("backfill-3ds", str(rich), *common, "--out", str(tmp_path / "bf"), env=ENV)
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "bf" / "report.json").read_text())
    assert report["ready_before"] == 0.0 and report["ready_after"] == round(2 / 3, 4)
    assert report["updated"] == 2  # B3 gains nothing: not sent
    assert sandbox_server.stats()["by_operation"].get("update", 0) - before == 2
    assert report["problems_after"] == {
        "email_address": 1, "billing.address_1": 1, "billing.city": 1, "billing.postal_code": 1
    }  # fmt: skip
    customers = {
        c["billing"]["first_name"]: c
        for c in httpx.get(f"{sandbox_server.url}/v2/customer", auth=(USER, KEY),
                           params={"search": f'entity_id=="{entity}"'}).json()
    }  # fmt: skip
    assert customers["Ann"]["billing"]["state"] == "OH"  # ISO 3166-2, not "Ohio"
    assert (
        customers["Ann"]["title"] == "Dr" and customers["Ann"]["email_address"] == "ann@example.com"
    )
    assert customers["Bob"]["billing"]["postal_code"] == "SW1A 1AA"
    with (tmp_path / "bf" / "readiness.csv").open() as handle:
        rows = {r["external_id"]: r for r in csv.DictReader(handle)}
    assert rows["B3"]["ready_after"] == "false" and "email_address" in rows["B3"]["still_missing"]
    page = (tmp_path / "bf" / "readiness.html").read_text()
    data = json.loads(re.search(r'id="readiness-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert data["by_country_after"]["US"] == {"customers": 1, "ready": 1}
    bars = re.findall(
        r'class="bar (before|after)" data-country="(\w+)" data-ready="\d+" '
        r'data-customers="\d+" data-share="([0-9.]+)"',
        page,
    )
    assert ("after", "US", "1.0000") in bars and ("before", "US", "0.0000") in bars
    assert ">after 100.0% (1 of 1)</text>" in page
    # Recorded as a sync is (the dry run records nothing): the page's run id is in `runs`.
    runs = json.loads(
        custsync("runs", "--state", str(tmp_path / "s.db"), "--output", "json").stdout
    )
    assert [(r["command"], r["status"]) for r in runs] == [("sync", "ok"), ("backfill-3ds", "ok")]
    assert runs[1]["run_id"] == report["run_id"] and runs[1]["report"]["updated"] == 2


def test_backfill_without_a_state_store_is_exit_2(tmp_path: Path) -> None:
    result = custsync("backfill-3ds", "x.csv", "--state", str(tmp_path / "none.db"))
    assert result.returncode == 2 and "no state store" in result.stderr


def test_refused_credentials_stop_the_backfill_with_exit_1(
    sandbox_server: SandboxProcess, tmp_path: Path
) -> None:
    entity = f"bf-{uuid.uuid4().hex[:8]}"
    common = ["--target", sandbox_server.url, "--entity-id", entity,
              "--state", str(tmp_path / "s.db")]  # fmt: skip
    rows = [[f"R{i}", "Ann", f"Lee{i}", f"r{i}@example.com", "Dr", "GB"] for i in range(30)]
    thin = write(tmp_path / "thin.csv",
                 ["external_id", "billing.first_name", "billing.last_name", "email_address",
                  "title", "billing.country_code"], rows)  # fmt: skip
    assert (
        custsync("sync", str(thin), *common, "--out", str(tmp_path / "s"), env=ENV).returncode == 0
    )
    before = sandbox_server.stats()["by_status"].get("401", 0)
    bad = {"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": "wrong-key"}
    run = custsync("backfill-3ds", str(thin), *common, "--out", str(tmp_path / "bf"), env=bad)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0] and "wrong-key" not in run.stderr
    # Stopped at once: the credentials are proven by one request before the rest go.
    assert sandbox_server.stats()["by_status"].get("401", 0) - before == 1
