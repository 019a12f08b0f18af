"""``custsync validate`` end to end: artefacts, summary, exit codes, one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl

from tests.helpers import ROOT, custsync

SAMPLE = ROOT / "data" / "salesforce_contacts.csv"
SF_MAPPING = ROOT / "data" / "mappings" / "salesforce.toml"


def test_sample_export_validates_with_the_salesforce_preset(tmp_path: Path) -> None:
    result = custsync("validate", str(SAMPLE), "--mapping", str(SF_MAPPING), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rows_read"] == 300
    assert report["rows_valid"] + report["rows_rejected"] == 300
    assert 0 < report["rows_rejected"] < 300
    assert report["rejects_by_reason"]["duplicate"] >= 1
    assert 0 < report["threeds_ready"] <= report["rows_valid"]
    with (tmp_path / "rejects.csv").open() as handle:
        rejects = list(csv.DictReader(handle))
    assert list(rejects[0]) == ["external_id", "row", "field", "reason", "file", "action",
                                "column"]  # fmt: skip
    # Beside the API's field, the export's column it came from: where the CRM team fixes it.
    columns = {(r["field"], r["column"]) for r in rejects}
    assert {
        ("title", "Salutation"),
        ("billing.country_code", "Mailing Country"),
        ("billing.address_lines", "Mailing Street"),
        ("external_id", "Contact ID"),
    } <= columns
    shown = {(p["action"], p["field"], p["column"]) for p in report["problems"]}
    assert ("left_out", "title", "Salutation") in shown and ("rejected", "external_id",
                                                             "Contact ID") in shown  # fmt: skip
    assert all(p["example"] for p in report["problems"])
    assert "Salutation" in result.stdout and "left_out" in result.stdout
    assert {r["action"] for r in rejects} == {"rejected", "left_out"}
    assert report["values_left_out"] == sum(r["action"] == "left_out" for r in rejects) > 0
    assert {r["field"] for r in rejects} >= {"billing.country_code", "title", "email_address"}
    assert "rows read" in result.stdout and "300" in result.stdout


def test_rejects_never_copy_shopper_values(tmp_path: Path) -> None:
    custsync("validate", str(SAMPLE), "--mapping", str(SF_MAPPING), "--out", str(tmp_path))
    text = (tmp_path / "rejects.csv").read_text()
    source = pl.read_csv(SAMPLE, infer_schema=False)
    for column in ("Email", "Phone", "Last Name"):
        for value in source.get_column(column).drop_nulls().unique().to_list():
            if len(value) > 4:
                assert value not in text, column


def test_3ds_profile_rejects_more(tmp_path: Path) -> None:
    api = custsync(
        "validate", str(SAMPLE), "--mapping", str(SF_MAPPING), "--out", str(tmp_path / "a")
    )
    tds = custsync(
        "validate", str(SAMPLE), "--mapping", str(SF_MAPPING), "--profile", "3ds",
        "--out", str(tmp_path / "b"),
    )  # fmt: skip
    assert api.returncode == tds.returncode == 0
    a = json.loads((tmp_path / "a" / "report.json").read_text())
    b = json.loads((tmp_path / "b" / "report.json").read_text())
    assert b["rows_valid"] <= a["threeds_ready"]
    assert b["rows_valid"] < a["rows_valid"]


def test_bad_mapping_is_exit_2_one_line(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('external_id = "Contact ID"\n[columns]\n"billing.city" = "Town"\n')
    result = custsync("validate", str(SAMPLE), "--mapping", str(mapping), "--out", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'Town'" in lines[0] and "Mailing City" in lines[0]
    assert not (tmp_path / "report.json").exists()


def test_unknown_field_in_mapping_is_exit_2(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('external_id = "Contact ID"\n[columns]\n"billing.county" = "Mailing City"\n')
    result = custsync("validate", str(SAMPLE), "--mapping", str(mapping))
    assert result.returncode == 2 and "billing.county" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_inputs_are_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "latin.csv").write_bytes("external_id,billing.city\n1,Köln\n".encode("cp1252"))
    for args, needle in (
        ([str(tmp_path / "missing.csv")], "no such file"),
        ([str(tmp_path / "empty.csv")], "empty"),
        ([str(tmp_path / "latin.csv")], "--encoding"),
        ([str(SAMPLE), "--profile", "pci"], "--profile"),
    ):
        result = custsync("validate", *args, "--out", str(tmp_path / "o"))
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_encoding_flag_reads_cp1252(tmp_path: Path) -> None:
    (tmp_path / "latin.csv").write_bytes(
        "external_id;billing.first_name;billing.last_name;billing.city\n1;Zoë;Müller;Köln\n".encode(
            "cp1252"
        )
    )
    result = custsync(
        "validate", str(tmp_path / "latin.csv"), "--encoding", "cp1252", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "report.json").read_text())["rows_valid"] == 1


def test_values_that_look_like_rich_markup_are_shown_as_they_are(tmp_path: Path) -> None:
    # Before: "[/x]" ended validate with "internal error (MarkupError)", exit 1, and a
    # [link=...] id became a hidden terminal hyperlink; ":fire:" would become an emoji.
    link = "[link=https://evil.example]0035ABC[/link]"
    source = tmp_path / "odd.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "email_address", "billing.last_name"])
        writer.writerow(["[/x]", "a@example.com", ""])  # rejected: no name
        writer.writerow([link, "not-an-address", "Lee"])  # its e-mail left out
        writer.writerow([":fire:[bold]", "b@@example.com", "Ray"])
    result = custsync("validate", str(source), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "[/x]" in result.stdout and link in result.stdout
    assert "\x1b]8;" not in result.stdout and "🔥" not in result.stdout  # no hyperlink, no emoji
