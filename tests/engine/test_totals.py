"""A run's totals, summed batch by batch into the typed report."""

from __future__ import annotations

import polars as pl

from connectors.api.counters import ApiCounters
from engine.steps import LoadReport
from engine.totals import RunTotals
from schemas.outcomes import LoadTotals, RowOutcome, RowStatus


def test_batches_sum_into_the_report() -> None:
    totals = RunTotals()
    for _ in range(2):
        totals.add_plan(pl.DataFrame({"action": ["create", "create", "unchanged"]}))
        totals.add_mappings(pl.DataFrame({"status": ["created", "unchanged", "rejected"]}))
        totals.add_load(LoadReport(
            [RowOutcome("E", "A", RowStatus.CREATED), RowOutcome("E", "B", RowStatus.REJECTED)],
            ApiCounters(requests=3, retries=1, rate_limited=1, ambiguous_writes=1),
            LoadTotals(reconciliations=1, reconcile_requests=2),
        ))  # fmt: skip
    report = totals.report(1.23456)
    assert (report.created, report.unchanged, report.rejected, report.api_rejected) == (2, 2, 2, 2)
    assert (report.requests, report.retries, report.rate_limited, report.ambiguous_writes) == (
        6, 2, 2, 2,
    )  # fmt: skip
    assert (report.reconciliations, report.reconcile_requests) == (2, 4)
    assert report.plan == {"create": 4, "unchanged": 2} and report.duration_s == 1.235
