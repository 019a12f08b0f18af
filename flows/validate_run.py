"""``custsync validate``: read, normalise and check exports; write rejects and the report.

Plain Python, no Prefect: a validation needs no orchestration and starts in well under a second.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.artifacts import write_rejects, write_report
from connectors.export_files import ReadOptions, expand_sources, reading
from schemas.errors import MappingError
from schemas.mapping import ColumnMapping, parse_mapping
from schemas.normalize import Profile
from schemas.validation import ValidationResult, validate_customers


@dataclass
class ValidationRun:
    """A finished validation: the result and the report written for it."""

    result: ValidationResult
    report: dict[str, Any]
    out_dir: Path


def load_mapping(path: Path | None) -> ColumnMapping | None:
    """The mapping file at ``path`` (None: canonical column names)."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot read mapping {path}: {exc.strerror}") from None
    return parse_mapping(text, str(path))


def validation_report(
    result: ValidationResult, profile: Profile, duration_s: float
) -> dict[str, Any]:
    """The JSON report: counts, reasons, fields, and 3-D Secure readiness."""
    reasons = Counter(result.rejects.get_column("reason").to_list())
    fields = Counter(f or "(row)" for f in result.rejects.get_column("field").to_list())
    pairs = Counter(
        f"{field or '(row)'}: {reason}"
        for field, reason in result.rejects.select("field", "reason").iter_rows()
    )
    valid = result.rows_valid
    return {
        "profile": profile,
        "rows_read": result.rows_read,
        "rows_valid": valid,
        "rows_rejected": result.rows_rejected,
        "rejects_by_reason": dict(reasons.most_common()),
        "rejects_by_field": dict(fields.most_common()),
        "rejects_by_field_and_reason": dict(pairs.most_common()),
        "threeds_ready": result.threeds_ready,
        "threeds_ready_share": round(result.threeds_ready / valid, 4) if valid else 0.0,
        "threeds_problems_by_field": result.threeds_problems,
        "threeds_not_ready_by_country": result.threeds_not_ready_by_country,
        "duration_s": round(duration_s, 3),
    }


def run_validate(
    sources: list[str],
    mapping_path: Path | None,
    profile: Profile,
    options: ReadOptions,
    out_dir: Path,
    entity_required: bool = False,
) -> ValidationRun:
    """Validate ``sources``; write ``rejects.csv`` and ``report.json`` into ``out_dir``."""
    started = time.perf_counter()
    mapping = load_mapping(mapping_path)
    paths = expand_sources(sources)
    with reading(paths, mapping, options) as frame:
        result = validate_customers(frame, profile, entity_required)
    report = validation_report(result, profile, time.perf_counter() - started)
    report["sources"] = [str(p) for p in paths]
    write_rejects(result.rejects, out_dir)
    write_report(report, out_dir)
    return ValidationRun(result, report, out_dir)
