"""How many requests a run keeps in flight: enough for the pacer to hold its rate."""

from __future__ import annotations


def default_concurrency(rate_limit: float | None) -> int:
    """Requests in flight: enough to hold the rate at up to a second of latency (the pacer,
    not this bound, sets the pace); without a known rate, 64 (about 300 req/s at 200 ms)."""
    if rate_limit is None:
        return 64
    return max(4, min(256, int(rate_limit) + 1))
