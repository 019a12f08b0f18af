"""What the API client did in a run, for the report (apart from the client, so that a run
with nothing to send never imports httpx: it is a third of a small run's start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ApiCounters:
    """What the client did, for the report."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    ambiguous: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
