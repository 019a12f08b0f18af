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

    def copy(self) -> ApiCounters:
        """A snapshot."""
        return ApiCounters(
            self.requests, self.retries, self.rate_limited, self.ambiguous, dict(self.by_status)
        )

    def since(self, earlier: ApiCounters) -> ApiCounters:
        """What happened after ``earlier`` was taken."""
        return ApiCounters(
            self.requests - earlier.requests,
            self.retries - earlier.retries,
            self.rate_limited - earlier.rate_limited,
            self.ambiguous - earlier.ambiguous,
            {k: v - earlier.by_status.get(k, 0) for k, v in self.by_status.items()},
        )

    def add(self, other: ApiCounters) -> None:
        """Count ``other`` in (a batch's counters into a run's)."""
        self.requests += other.requests
        self.retries += other.retries
        self.rate_limited += other.rate_limited
        self.ambiguous += other.ambiguous
        for status, count in other.by_status.items():
            self.by_status[status] = self.by_status.get(status, 0) + count
