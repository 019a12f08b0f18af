"""UUIDs back into the CRM (issue 17, item 7): a mapping's ``[writeback]`` makes every sync
write ``crm-update.csv`` beside ``mappings.csv``, headed as the CRM's importer takes it, with
only the UUIDs that are new or changed since the last one (``--crm-update full``: all).
Through the real CLI against the sandbox as a real server; the files read back the way Data
Loader and HubSpot's import read them."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import httpx
import polars as pl

from sandbox.process import SandboxProcess
from tests.helpers import (
    HEADER,
    KEY,
    ROOT,
    USER,
    export,
    formulas_a_spreadsheet_computes,
    people,
    read_csv,
    sync,
)

SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def read_as_data_loader(path: Path) -> list[dict[str, str]]:
    """Data Loader's update: a UTF-8 CSV (no BOM), a header of field API names, RFC 4180."""
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, strict=True)
        assert reader.fieldnames == ["Id", "Verifone_Customer_ID__c"]
        return list(reader)


def mapping_with(tmp: Path, writeback: str) -> Path:
    columns = "\n".join(f'"{c}" = "{c}"' for c in HEADER[1:])
    path = tmp / "m.toml"
    path.write_text(f'external_id = "external_id"\n[columns]\n{columns}\n[writeback]\n{writeback}')
    return path


def test_the_salesforce_preset_writes_a_data_loader_update_file(tmp_path: Path) -> None:
    sample = ROOT / "data" / "salesforce_contacts.csv"
    preset = str(ROOT / "data" / "mappings" / "salesforce.toml")
    with SandboxProcess(users={USER: KEY}) as server:
        code, report, mappings, err = sync(server, tmp_path, sample, "one", "--mapping", preset)
        assert code == 0, err
        rows = read_as_data_loader(tmp_path / "one" / "crm-update.csv")
        made = {m["external_id"]: m["customer_id"] for m in mappings if m["customer_id"]}
        assert len(rows) == report["created"] == report["crm_update_rows"] == len(made) > 250
        assert all(SALESFORCE_ID.match(r["Id"]) and UUID.match(r["Verifone_Customer_ID__c"])
                   for r in rows)  # fmt: skip
        assert {r["Id"]: r["Verifone_Customer_ID__c"] for r in rows} == made

        # An unchanged night: nothing for the CRM (the header alone), then the full file.
        code, report, _, _ = sync(server, tmp_path, sample, "two", "--mapping", preset)
        assert code == 0 and report["unchanged"] == len(made) and report["crm_update_rows"] == 0
        assert read_as_data_loader(tmp_path / "two" / "crm-update.csv") == []
        code, report, _, _ = sync(server, tmp_path, sample, "three", "--mapping", preset,
                                  "--crm-update", "full")  # fmt: skip
        assert code == 0 and report["crm_update_rows"] == len(made)
        assert len(read_as_data_loader(tmp_path / "three" / "crm-update.csv")) == len(made)


def test_only_new_and_changed_uuids_go_back_and_a_parquet_file_for_hubspot(tmp_path: Path) -> None:
    hubspot = 'id_column = "Record ID"\nuuid_field = "verifone_customer_id"\nformat = "parquet"\n'
    mapping = mapping_with(tmp_path, hubspot)
    source = export(tmp_path / "a.csv", people(4))
    with SandboxProcess(users={USER: KEY}) as server:
        code, _, mappings, err = sync(server, tmp_path, source, "one", "--mapping", str(mapping))
        assert code == 0, err
        first = pl.read_parquet(tmp_path / "one" / "crm-update.parquet")
        assert first.columns == ["Record ID", "verifone_customer_id"] and first.height == 4
        uuid_of = {m["external_id"]: m["customer_id"] for m in mappings}

        # X1 deleted behind our back and changed in the CRM: recreated under a new UUID; X4 new.
        with httpx.Client(base_url=server.url, auth=(USER, KEY)) as client:
            assert client.delete(f"/v2/customer/{uuid_of['X1']}").status_code in (200, 204)
        rows = people(5)
        rows[1][4] = "Leeds"
        code, report, mappings, err = sync(server, tmp_path, export(tmp_path / "b.csv", rows),
                                           "two", "--mapping", str(mapping))  # fmt: skip
        assert code == 0, err
        assert report["recreated"] == 1 and report["crm_update_rows"] == 2
        second = pl.read_parquet(tmp_path / "two" / "crm-update.parquet")
        now = {m["external_id"]: m["customer_id"] for m in mappings}
        assert sorted(second.iter_rows()) == [("X1", now["X1"]), ("X4", now["X4"])]
        assert now["X1"] != uuid_of["X1"]


def test_without_a_writeback_section_there_is_no_update_file(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        code, report, _, err = sync(server, tmp_path, export(tmp_path / "a.csv", people(2)), "one")
        assert code == 0, err
        asked = sync(server, tmp_path, export(tmp_path / "b.csv", people(3)), "two",
                     "--crm-update", "full")  # fmt: skip
    assert "crm_update_rows" not in report and not list((tmp_path / "one").glob("crm-update*"))
    assert read_csv(tmp_path / "one" / "mappings.csv")
    # Asked for a full file without saying how: exit 2 before anything is sent.
    assert asked[0] == 2 and "needs a [writeback] table" in asked[3]
    assert not (tmp_path / "two" / "mappings.csv").exists()


def test_no_csv_custsync_writes_holds_a_cell_a_spreadsheet_would_compute(tmp_path: Path) -> None:
    # Before: ids like =HYPERLINK(...) were written as they are into rejects.csv, mappings.csv
    # and crm-update.csv, and a spreadsheet opening them ran them.
    formulas = ['=HYPERLINK("https://evil.example","open")', "+cmd|' /C calc'!A0", "@SUM(1+1)"]
    rows = [[f, f"f{n}@example.com", "Ann", f"Lee{n}", "London", "GB"]
            for n, f in enumerate(formulas)] + people(2)  # fmt: skip
    source = export(tmp_path / "a.csv", rows)
    mapping = mapping_with(tmp_path, 'id_column = "Id"\nuuid_field = "Verifone_Customer_ID__c"')
    with SandboxProcess(users={USER: KEY}) as server:
        code, report, _, err = sync(server, tmp_path, source, "one", "--mapping",
                                           str(mapping))  # fmt: skip
    assert code == 0, err
    assert report["created"] == 2 and report["rows_rejected"] == 3
    for name in ("rejects.csv", "mappings.csv", "crm-update.csv"):
        with (tmp_path / "one" / name).open(newline="", encoding="utf-8") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], name
    rejected = read_csv(tmp_path / "one" / "rejects.csv")
    assert sorted(r["external_id"] for r in rejected) == sorted("'" + f for f in formulas)
    # And as a spreadsheet opens them: LibreOffice computes the raw ids, none of custsync's.
    raw = tmp_path / "raw.csv"
    raw.write_text(
        "external_id\n" + "\n".join(f'"{f.replace(chr(34), 2 * chr(34))}"' for f in formulas)
    )
    # (LibreOffice computes the =...; Excel the + and @ ones too: all are written inertly.)
    assert formulas_a_spreadsheet_computes(raw, tmp_path)
    for name in ("rejects.csv", "mappings.csv", "crm-update.csv"):
        assert formulas_a_spreadsheet_computes(tmp_path / "one" / name, tmp_path) == [], name
    assert {r["Id"] for r in read_as_data_loader(tmp_path / "one" / "crm-update.csv")} == {
        "X0", "X1"}  # fmt: skip
