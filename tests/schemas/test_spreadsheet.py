from __future__ import annotations

import csv
import io

import polars as pl

from schemas.spreadsheet import inert


def test_a_text_cell_that_begins_like_a_formula_is_written_to_be_shown_as_text() -> None:
    frame = pl.DataFrame({
        "external_id": ["=1+1", "+A1", "-2", "@SUM(1)", "\tx", "\r=x", "A=1", "", None],
        "row": [1, 2, 3, 4, 5, 6, 7, 8, 9],
    })  # fmt: skip
    out = io.StringIO()
    inert(frame).write_csv(out)
    read = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["external_id"] for r in read] == [
        "'=1+1", "'+A1", "'-2", "'@SUM(1)", "'\tx", "'\r=x", "A=1", "", ""]  # fmt: skip
    assert [r["row"] for r in read] == [str(n) for n in range(1, 10)]  # numbers untouched
