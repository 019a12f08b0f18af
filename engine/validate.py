"""``custsync validate``: read, normalise and check exports; write rejects and the report.

Plain Python, no Prefect: a validation needs no orchestration and starts in well under a second.
The batches go through the same loop as a sync's (``engine/source.py``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from connectors.reports.artifacts import REJECT_HEADER, CsvAppender, top_reasons, write_report
from connectors.sources.export_files import ReadOptions
from engine.context import check_out_dir
from engine.outcome import RunOutcome
from engine.runner import InlineRunner
from engine.source import READ_BATCH_ROWS, SourceSpec, open_source
from schemas.normalize import Profile
from schemas.validation import ValidationTotals

PROBLEMS_SHOWN = 12  # the commonest problems report.json and the console list


def validation_report(
    totals: ValidationTotals, profile: Profile, duration_s: float
) -> dict[str, Any]:
    """The JSON report: counts, reasons, fields, and 3-D Secure readiness."""
    valid = totals.rows_valid
    return {
        "profile": profile,
        "rows_read": totals.rows_read,
        "rows_valid": valid,
        "rows_rejected": totals.rows_rejected,
        "values_left_out": totals.values_left_out,
        "names_split": totals.names_split,
        "rejects_by_reason": dict(totals.reasons.most_common()),
        "rejects_by_field": dict(totals.fields.most_common()),
        "rejects_by_field_and_reason": dict(totals.field_reasons.most_common()),
        "reject_examples": {
            pair: totals.examples[pair]
            for pair, _ in totals.field_reasons.most_common()
            if pair in totals.examples
        },
        "threeds_ready": totals.threeds_ready,
        "threeds_ready_share": round(totals.threeds_ready / valid, 4) if valid else 0.0,
        "threeds_problems_by_field": dict(sorted(totals.threeds_problems.items())),
        "threeds_not_ready_by_country": dict(
            sorted(totals.threeds_not_ready_by_country.items(), key=lambda kv: (kv[1], kv[0]))
        ),
        "duration_s": round(duration_s, 3),
    }


def run_validate(
    sources: list[str],
    mapping_path: Path | None,
    profile: Profile,
    options: ReadOptions,
    out_dir: Path,
    batch_rows: int = READ_BATCH_ROWS,
    strict: bool = False,
) -> RunOutcome[dict[str, Any]]:
    """Validate ``sources`` batch by batch; write ``rejects.csv`` and ``report.json``."""
    started = time.perf_counter()
    check_out_dir(out_dir)
    spec = SourceSpec(sources, mapping_path, options, profile, entity=None,
                      entity_required=False, batch_rows=batch_rows, strict=strict)  # fmt: skip
    totals = ValidationTotals()
    with (
        open_source(spec) as source,
        CsvAppender(out_dir / "rejects.csv", REJECT_HEADER) as rejects,
    ):
        for _ in source.validated(InlineRunner(), rejects, totals):
            pass
    report = validation_report(totals, profile, time.perf_counter() - started)
    report["sources"] = [str(p) for p in source.paths]
    report["missing_columns"] = source.missing_columns
    report["problems"] = top_reasons(out_dir / "rejects.csv", PROBLEMS_SHOWN)
    write_report(report, out_dir)
    return RunOutcome(report, out_dir)
