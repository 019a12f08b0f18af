"""Artefacts: appended batch by batch, header-only when empty, owner-only files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from connectors.errors import InputError
from connectors.reports.artifacts import (
    REJECT_HEADER,
    CsvAppender,
    export_mappings,
    top_reasons,
    write_crm_update,
    write_report,
)


def test_batches_append_under_one_header(tmp_path: Path) -> None:
    path = tmp_path / "out" / "rejects.csv"
    with CsvAppender(path, REJECT_HEADER) as rejects:
        for n in range(3):
            rejects.write(pl.DataFrame({"external_id": [f"X{n}"], "row": [n], "field": ["f"],
                                        "reason": ["r"], "file": ["a.csv"],
                                        "action": ["rejected"]}))  # fmt: skip
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(REJECT_HEADER) and len(lines) == 4


def test_an_empty_artefact_still_has_its_header(tmp_path: Path) -> None:
    path = tmp_path / "mappings.csv"
    with CsvAppender(path, ["external_id", "customer_id"]):
        pass
    assert path.read_text().splitlines() == ["external_id,customer_id"]


def test_report_json(tmp_path: Path) -> None:
    path = write_report({"created": 1, "run_id": "r"}, tmp_path / "o")
    assert json.loads(path.read_text()) == {"created": 1, "run_id": "r"}


def test_mappings_export_by_suffix(tmp_path: Path) -> None:
    mappings = pl.DataFrame({"external_id": ["A"], "customer_id": ["u-1"]})
    assert pl.read_csv(export_mappings(mappings, tmp_path / "m.csv")).rows() == [("A", "u-1")]
    assert pl.read_parquet(export_mappings(mappings, tmp_path / "m.parquet")).height == 1
    with pytest.raises(InputError):
        export_mappings(mappings, tmp_path / "m.xlsx")


def test_top_reasons_count_each_problem_most_first(tmp_path: Path) -> None:
    path = tmp_path / "rejects.csv"
    lines = ["external_id,row,field,reason,file,action"]
    lines += [f"A{i},{i},phone_number,not a phone number,a.csv,left_out" for i in range(3)]
    lines += ["B1,9,,duplicate,a.csv,rejected", "C1,,,HTTP 500,a.csv,failed"]
    path.write_text("\n".join(lines) + "\n")
    # A file of an older custsync, without the export's column: read all the same.
    assert top_reasons(path, limit=2) == [
        {"action": "left_out", "field": "phone_number", "column": "",
         "reason": "not a phone number", "rows": 3, "example": "A0"},
        {"action": "failed", "field": "", "column": "", "reason": "HTTP 500", "rows": 1,
         "example": "C1"},
    ]  # fmt: skip
    lines = [f"{line},{'Mobile' if 'phone' in line else ''}" for line in lines]
    lines[0] = "external_id,row,field,reason,file,action,column"
    path.write_text("\n".join(lines) + "\n")
    assert top_reasons(path, limit=1)[0]["column"] == "Mobile"
    assert top_reasons(tmp_path / "none.csv") == []


def test_crm_update_quotes_what_a_crm_id_may_hold_and_reads_back_whole(tmp_path: Path) -> None:
    import csv

    from schemas.mapping import Writeback

    ids = ["A,1", 'B "quoted"', "C\nnewline", "  D  ", "Zoë-é"]
    due = pl.DataFrame({"entity_id": ["E"] * 5, "external_id": ids,
                        "customer_id": ["u1", "u2", None, "u4", "u5"]})  # fmt: skip
    path = write_crm_update(due, Writeback("Record ID", "verifone_customer_id"), tmp_path)
    assert path.name == "crm-update.csv" and not path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, strict=True))
    assert [(r["Record ID"], r["verifone_customer_id"]) for r in rows] == [
        ("A,1", "u1"), ('B "quoted"', "u2"), ("C\nnewline", ""), ("  D  ", "u4"), ("Zoë-é", "u5"),
    ]  # a cleared UUID is an empty field  # fmt: skip
    parquet = write_crm_update(due, Writeback("Id", "U__c", "parquet"), tmp_path)
    assert pl.read_parquet(parquet).rows() == list(zip(ids, due["customer_id"], strict=True))
