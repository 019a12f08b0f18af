"""Mappings for the exports people have (issue 32), end to end against the sandbox as a real
server: a Salesforce report's multi-line streets in quoted CSV fields, a HubSpot view without
the mobile column, a one-country shop, and a Stripe-style customers export with one Name."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx

from sandbox.process import SandboxProcess
from tests.helpers import ENV, KEY, ROOT, USER, custsync, read_csv

SF_MAPPING = ROOT / "data" / "mappings" / "salesforce.toml"
HS_MAPPING = ROOT / "data" / "mappings" / "hubspot.toml"


def quoted(fields: list[str]) -> str:
    """One CSV record as Salesforce's report export writes it: every field in quotes."""
    return ",".join('"' + f.replace('"', '""') + '"' for f in fields)


def customer(server: SandboxProcess, customer_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/v2/customer/{customer_id}", auth=(USER, KEY))
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def run(server: SandboxProcess, tmp: Path, source: Path, mapping: Path, *extra: str,
        entity: bool = True) -> tuple[int, dict[str, Any], list[dict[str, str]], str]:  # fmt: skip
    out = tmp / "out"
    entity_flag = ["--entity-id", f"E-{tmp.name[-10:]}"] if entity else []
    result = custsync("sync", str(source), "--mapping", str(mapping), "--target", server.url,
                      *entity_flag, "--state", str(tmp / "state.db"), "--out", str(out), *extra,
                      env=ENV)  # fmt: skip
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    rows = read_csv(out / "mappings.csv") if (out / "mappings.csv").exists() else []
    return result.returncode, report, rows, result.stderr


def uuid_of(mappings: list[dict[str, str]], external_id: str) -> str:
    return next(m["customer_id"] for m in mappings if m["external_id"] == external_id)


SF_HEADER = ["Contact ID", "First Name", "Last Name", "Account Name", "Email", "Mailing Street",
             "Mailing City", "Mailing Zip/Postal Code", "Mailing Country"]  # fmt: skip


def test_a_salesforce_report_s_street_lines_fill_the_address_lines(
    tmp_path: Path, sandbox_server: SandboxProcess
) -> None:
    streets = {
        "0031": "Unit 9, Harbour Business Park\r\nBuilding C, Second Floor\r\nEast Wing",  # CRLF
        "0032": "Flat 3\n12 High Street",  # LF, as a browser's text area sends it
        "0033": "c/o Accounts\nUnit 2\nBuilding C\n1 Dock Road",  # four lines: left out
        "0034": "Apartment 1204, The Residences at Marina Gate\n5 Marina Walk",  # a line of 45
        "0035": "7 Rue de la Paix\r\n\r\n",  # empty lines dropped
        "0036": "Suite 5\r22 Baker Street",  # CR alone (old Mac, some Excel saves)
    }
    records = [quoted(SF_HEADER)] + [
        quoted([cid, "Ann", f"Lee{cid}", "", f"ann{cid}@example.com", street, "Bristol",
                "BS1 5TY", "United Kingdom"])
        for cid, street in streets.items()
    ]  # fmt: skip
    source = tmp_path / "report.csv"
    source.write_bytes(("\ufeff" + "\r\n".join(records) + "\r\n").encode())
    code, report, mappings, stderr = run(sandbox_server, tmp_path, source, SF_MAPPING)
    assert code == 0, stderr
    lines = {cid: [customer(sandbox_server, uuid_of(mappings, cid))["billing"].get(f"address_{n}")
                   for n in (1, 2, 3)] for cid in streets}  # fmt: skip
    assert lines["0031"] == ["Unit 9, Harbour Business Park", "Building C, Second Floor",
                             "East Wing"]  # fmt: skip
    assert lines["0032"] == ["Flat 3", "12 High Street", None]
    assert lines["0033"] == lines["0034"] == [None, None, None]  # never cut, never merged
    assert lines["0035"] == ["7 Rue de la Paix", None, None]
    assert lines["0036"] == ["Suite 5", "22 Baker Street", None]
    rejects = {r["external_id"]: r for r in read_csv(tmp_path / "out" / "rejects.csv")}
    assert rejects["0033"]["field"] == rejects["0034"]["field"] == "billing.address_lines"
    assert (
        rejects["0033"]["action"] == "left_out" and "more than 3 lines" in rejects["0033"]["reason"]
    )
    assert "longer than 40" in rejects["0034"]["reason"]
    assert report["created"] == 6  # the customers are made; only the street is left out
    # The report's columns the preset names and this report lacks: said once, and the run goes on.
    missing = report["missing_columns"]
    assert [m.split(": ", 1)[1] for m in missing] == [
        "Salutation (title)", "Phone (phone_number)", "Mobile (billing.phone)",
        "Mailing State/Province (billing.state)",
    ]  # fmt: skip
    assert stderr.count("no column 'Mobile'") == 1
    assert "Harbour" not in stderr and "ann0031" not in stderr  # no shopper data in the log


def test_the_sample_data_shows_street_lines_in_the_quick_start(
    tmp_path: Path, sandbox_server: SandboxProcess
) -> None:
    sample = ROOT / "data" / "salesforce_contacts.csv"
    with sample.open(newline="", encoding="utf-8-sig") as handle:
        streets = [row["Mailing Street"] for row in csv.DictReader(handle)]
    assert any("\r\n" in s for s in streets) and any("\n" in s and "\r" not in s for s in streets)
    code, report, mappings, stderr = run(sandbox_server, tmp_path, sample, SF_MAPPING)
    assert code == 0, stderr
    assert report["missing_columns"] == []
    multi = [customer(sandbox_server, m["customer_id"]) for m in mappings[:60]]
    assert any(c["billing"].get("address_2") for c in multi)
    reasons = {r["reason"] for r in read_csv(tmp_path / "out" / "rejects.csv")
               if r["field"] == "billing.address_lines"}  # fmt: skip
    assert any("more than 3 lines" in r for r in reasons)


HS_VIEW = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Street Address",
           "City", "Postal Code", "Country/Region"]  # fmt: skip


def test_a_hubspot_view_without_the_mobile_column_runs_and_says_so(tmp_path: Path) -> None:
    source = tmp_path / "hubspot-crm-exports-all-contacts.csv"
    rows = [HS_VIEW, ["101", "Ann", "Lee", "ann@example.com", "+44 20 7946 0000",
                      "10 Downing Street", "London", "SW1A 2AA", "United Kingdom"]]  # fmt: skip
    source.write_text("\n".join(",".join(r) for r in rows) + "\n")
    result = custsync("validate", str(source), "--mapping", str(HS_MAPPING), "--out",
                      str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["rows_valid"] == 1
    assert [m.split(": ", 1)[1] for m in report["missing_columns"]] == [
        "Company Name (company_name)", "Mobile Phone Number (billing.phone)",
        "State/Region (billing.state)",
    ]  # fmt: skip
    assert "Mobile Phone Number" in result.stderr and "Traceback" not in result.stderr
    # Your own mapping stays strict: a column it names and the file lacks stops the run.
    own = tmp_path / "own.toml"
    own.write_text(
        'external_id = "Record ID"\n[columns]\n"billing.phone" = "Mobile Phone Number"\n'
    )
    strict = custsync("validate", str(source), "--mapping", str(own), "--out", str(tmp_path / "x"))
    assert strict.returncode == 2
    assert "'Mobile Phone Number' (for billing.phone) is not in" in strict.stderr
    # The external id is never optional.
    no_id = tmp_path / "no-id.csv"
    no_id.write_text("\n".join(",".join(r[1:]) for r in rows) + "\n")
    stopped = custsync("validate", str(no_id), "--mapping", str(HS_MAPPING))
    assert stopped.returncode == 2 and "'Record ID'" in stopped.stderr


def test_a_one_country_shop_gives_its_country_and_entity_in_the_mapping(
    tmp_path: Path, sandbox_server: SandboxProcess
) -> None:
    source = tmp_path / "shop.csv"
    source.write_text("id,first,last,email,city,country\n"
                      "S1,Ann,Lee,ann@example.com,Leeds,\n"
                      "S2,Bob,Ray,bob@example.com,Lyon,France\n"
                      "S3,Cy,Day,cy@example.com,York,   \n")  # fmt: skip
    entity = f"shop-{tmp_path.name[-8:]}"
    mapping = tmp_path / "shop.toml"
    mapping.write_text(
        'external_id = "id"\n[columns]\n"billing.first_name" = "first"\n'
        '"billing.last_name" = "last"\n"email_address" = "email"\n"billing.city" = "city"\n'
        '"billing.country_code" = "country"\n'
        f'[values]\n"billing.country_code" = "GB"\n"entity_id" = "{entity}"\n'
    )
    code, _, mappings, stderr = run(sandbox_server, tmp_path, source, mapping, entity=False)
    assert code == 0, stderr
    made = {m["external_id"]: customer(sandbox_server, m["customer_id"]) for m in mappings}
    # The export's own value wins where it has one; the mapping's fills where it is empty.
    assert {k: c["billing"]["country_code"] for k, c in made.items()} == {
        "S1": "GB", "S2": "FR", "S3": "GB"}  # fmt: skip
    assert {c["entity_id"] for c in made.values()} == {entity}
    # A value is checked as any value: a country that is none is left out and reported.
    mapping.write_text(mapping.read_text().replace('= "GB"', '= "Atlantis"'))
    checked = custsync("validate", str(source), "--mapping", str(mapping), "--out",
                       str(tmp_path / "v"))  # fmt: skip
    assert checked.returncode == 0
    rejects = read_csv(tmp_path / "v" / "rejects.csv")
    assert {(r["external_id"], r["field"]) for r in rejects} == {
        ("S1", "billing.country_code"), ("S3", "billing.country_code")}  # fmt: skip


STRIPE = ["id", "Description", "Email", "Name", "Created (UTC)", "Address Line1",
          "Address Line2", "Address City", "Address Country", "Address Zip"]  # fmt: skip


def test_a_stripe_style_export_s_name_is_split_only_when_asked_and_counted(
    tmp_path: Path, sandbox_server: SandboxProcess
) -> None:
    source = tmp_path / "unified_customers.csv"
    source.write_text("\n".join(",".join(r) for r in [
        STRIPE,
        ["cus_1", "", "ann@example.com", "Ann Marie Lee", "2024-01-02 10:00", "1 Elm Row", "",
         "Edinburgh", "GB", "EH7 4AA"],
        ["cus_2", "", "cher@example.com", "Cher", "2024-01-03 11:00", "", "", "Paris", "FR", ""],
        ["cus_3", "", "jose@example.com", "José García López", "2024-01-04 12:00", "", "",
         "Madrid", "ES", ""],
    ]) + "\n")  # fmt: skip
    mapping = tmp_path / "stripe.toml"
    mapping.write_text(
        'external_id = "id"\n[columns]\n"email_address" = "Email"\n'
        '"billing.full_name" = "Name"\n"billing.address_1" = "Address Line1"\n'
        '"billing.city" = "Address City"\n"billing.country_code" = "Address Country"\n'
        '"billing.postal_code" = "Address Zip"\n'
    )
    code, report, mappings, stderr = run(sandbox_server, tmp_path, source, mapping)
    assert code == 0, stderr
    made = {m["external_id"]: m for m in mappings}
    ann = customer(sandbox_server, made["cus_1"]["customer_id"])["billing"]
    assert (ann["first_name"], ann["last_name"]) == ("Ann Marie", "Lee")
    jose = customer(sandbox_server, made["cus_3"]["customer_id"])["billing"]
    assert (jose["first_name"], jose["last_name"]) == ("José García", "López")  # the guess's flaw
    # One word is a last name; without a first name or a company there is no customer.
    assert made["cus_2"]["status"] == "rejected" and not made["cus_2"]["customer_id"]
    rejects = read_csv(tmp_path / "out" / "rejects.csv")
    assert [r["field"] for r in rejects if r["external_id"] == "cus_2"] == ["company_name"]
    assert report["names_split"] == 2
    # --strict refuses to guess.
    strict = custsync("validate", str(source), "--mapping", str(mapping), "--strict",
                      "--out", str(tmp_path / "strict"))  # fmt: skip
    assert strict.returncode == 0
    judged = json.loads((tmp_path / "strict" / "report.json").read_text())
    assert judged["rows_valid"] == 0 and judged["names_split"] == 0
    guesses = [r for r in read_csv(tmp_path / "strict" / "rejects.csv")
               if r["field"] == "billing.full_name"]  # fmt: skip
    assert {r["external_id"] for r in guesses} == {"cus_1", "cus_3"}
    assert all(r["action"] == "rejected" and "guess" in r["reason"] for r in guesses)
