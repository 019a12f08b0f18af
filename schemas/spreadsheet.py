"""A cell a spreadsheet would run as a formula, and how a CSV of custsync's holds one inertly.

Excel, LibreOffice and Google Sheets compute a cell that begins with ``=``, ``+``, ``-`` or
``@`` (and, for some, a tab or carriage return first), and people open every CSV custsync
writes in one of them, import files included. A text cell that begins so is written with a
leading ``'``, which they show as text and do not compute (OWASP's CSV injection advice).

No CRM issues a record id that begins like a formula (Salesforce ids are letters and digits,
HubSpot's digits), so such an external id is a row's fault, rejected at validation with its
reason: the ids in ``mappings.csv`` and ``crm-update.csv`` are then always exact, as the CRM's
importer needs them.
"""

from __future__ import annotations

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"
REASON_FORMULA_ID = "begins like a spreadsheet formula (= + - @): no CRM's record id does"


def inert(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each text cell that begins like a formula prefixed with ``'``."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )
