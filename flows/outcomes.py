"""What happened to each external id in a run, and the load's own totals."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RowOutcome:
    """What happened to one external id in this run."""

    entity_id: str
    external_id: str
    status: str  # created | updated | unchanged | adopted | deleted | rejected | failed
    customer_id: str | None = None
    reason: str | None = None
    fields: list[str] = field(default_factory=list)
    recreated: bool = False


@dataclass
class LoadTotals:
    """Requests spent reconciling, and recreated customers, for the report."""

    reconciliations: int = 0
    reconcile_requests: int = 0
    recreated: int = 0
