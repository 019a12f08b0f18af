"""``validate`` runs the same batch loop as a sync; no entity needed, nothing sent."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.sources.export_files import ReadOptions
from engine.validate import run_validate
from tests.helpers import export, people


def test_batches_give_the_report_of_the_whole(tmp_path: Path) -> None:
    rows = people(5)
    rows[1][1] = "not-an-email"  # left out
    rows[2][3] = ""  # no last name, no company: rejected
    source = export(tmp_path / "a.csv", rows)
    reports = [
        run_validate([str(source)], None, "api", ReadOptions(), tmp_path / f"o{n}", batch_rows=n)
        for n in (1, 2, 1000)
    ]
    keys = ("rows_read", "rows_valid", "rows_rejected", "values_left_out",
            "rejects_by_field_and_reason")  # fmt: skip
    assert len({json.dumps({k: r.report[k] for k in keys}, sort_keys=True) for r in reports}) == 1
    first = reports[0].report
    assert (first["rows_read"], first["rows_rejected"], first["values_left_out"]) == (5, 1, 1)
    strict = run_validate([str(source)], None, "api", ReadOptions(), tmp_path / "s", strict=True)
    assert (strict.report["rows_rejected"], strict.report["values_left_out"]) == (2, 0)
    assert first["sources"] == [str(source)]
    assert (tmp_path / "o1" / "report.json").exists() and (tmp_path / "o1" / "rejects.csv").exists()


def test_each_reason_names_an_example_row_to_fix_in_the_crm(tmp_path: Path) -> None:
    rows = people(6)
    rows[1][1] = rows[4][1] = "not-an-email"
    rows[3][5] = "Narnia"
    source = export(tmp_path / "a.csv", rows)
    run = run_validate([str(source)], None, "api", ReadOptions(), tmp_path / "o", batch_rows=2)
    assert run.report["reject_examples"] == {
        "email_address: not a valid e-mail address": "X1",  # the first of X1 and X4
        "billing.country_code: not a country name or ISO 3166-1 code": "X3",
    }
