"""Pacing requests to the API's rate limit.

A known limit (``--rate-limit R``) is an aiolimiter leaky bucket: at most R requests a second,
whatever the concurrency. Without one, requests go as fast as the concurrency bound allows and
429s (with their Retry-After) slow the caller down through the retry policy.
"""

from __future__ import annotations

from aiolimiter import AsyncLimiter


class RequestPacer:
    """Gate every attempt goes through before it is sent."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("the rate limit must be positive")
        self.rate = rate
        self._limiter = AsyncLimiter(rate, 1.0) if rate is not None else None

    async def acquire(self) -> None:
        """Wait until one more request may be sent."""
        if self._limiter is not None:
            await self._limiter.acquire()

    def on_success(self) -> None:
        """A request went through."""

    def on_rate_limited(self, retry_after_s: float | None) -> None:
        """The API answered 429."""
