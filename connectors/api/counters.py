"""What the API client did in a run, for the report (apart from the client, so that a run
with nothing to send never imports httpx, a large share of a small run's start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.tally import Tally


@dataclass
class ApiCounters(Tally):
    """What the client did, named as the report names it."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    ambiguous_writes: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
