"""A sync's figures, summed batch by batch, and the typed report made of them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from connectors.api.counters import ApiCounters
from engine.steps import LoadReport
from schemas.outcomes import LoadTotals, RowStatus
from schemas.plan import ACTION
from schemas.report import SyncReport
from schemas.validation import ValidationTotals


@dataclass
class RunTotals:
    """Everything report.json counts, summed batch by batch."""

    validation: ValidationTotals = field(default_factory=ValidationTotals)
    statuses: Counter[str] = field(default_factory=Counter)
    plan: Counter[str] = field(default_factory=Counter)
    counters: ApiCounters = field(default_factory=ApiCounters)
    load: LoadTotals = field(default_factory=LoadTotals)
    api_rejected: int = 0

    def add_plan(self, planned: pl.DataFrame) -> None:
        """Count a batch's planned actions."""
        self.plan.update(dict(planned.get_column(ACTION).value_counts().iter_rows()))

    def add_mappings(self, mappings: pl.DataFrame) -> None:
        """Count a batch's outcomes by status."""
        self.statuses.update(dict(mappings.get_column("status").value_counts().iter_rows()))

    def add_load(self, report: LoadReport) -> None:
        """Count a load step's requests and reconciliations."""
        self.counters.add(report.counters)
        self.load.add(report.totals)
        self.api_rejected += sum(1 for o in report.outcomes if o.status is RowStatus.REJECTED)

    def report(self, duration_s: float) -> SyncReport:
        """The report of these totals."""
        validation, counters, load = self.validation, self.counters, self.load
        status = {s: int(self.statuses.get(s.value, 0)) for s in RowStatus}
        return SyncReport(
            rows_read=validation.rows_read,
            rows_valid=validation.rows_valid,
            rows_rejected=validation.rows_rejected,
            values_left_out=validation.values_left_out,
            names_split=validation.names_split,
            created=status[RowStatus.CREATED],
            updated=status[RowStatus.UPDATED],
            unchanged=status[RowStatus.UNCHANGED],
            adopted=status[RowStatus.ADOPTED],
            deleted=status[RowStatus.DELETED],
            failed=status[RowStatus.FAILED],
            rejected=status[RowStatus.REJECTED],
            api_rejected=self.api_rejected,
            requests=counters.requests,
            retries=counters.retries,
            rate_limited=counters.rate_limited,
            duration_s=round(duration_s, 3),
            ambiguous_writes=counters.ambiguous_writes,
            reconciliations=load.reconciliations,
            reconcile_requests=load.reconcile_requests,
            recreated=load.recreated,
            created_unmatched=load.created_unmatched,
            match_conflicts=load.match_conflicts,
            threeds_ready=validation.threeds_ready,
            plan={k: int(v) for k, v in sorted(self.plan.items())},
        )
