"""Writing a run's artefacts: ``rejects.csv``, ``report.json``, ``mappings.csv``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

REJECT_HEADER = ["external_id", "row", "field", "reason", "file"]


def write_rejects(rejects: pl.DataFrame, out_dir: Path) -> Path:
    """``rejects.csv``: ``external_id,row,field,reason,file``, one line per problem."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "rejects.csv"
    rejects.select(REJECT_HEADER).write_csv(path)
    return path


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    """``report.json``, pretty-printed with stable key order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path
