"""Pacing requests to the API's rate limit, known or discovered.

One aiolimiter leaky bucket of fixed capacity (1,000 units a second) in which a request costs
``1000 / rate`` units: the pace can change at run time without a new bucket (which would forget
its level and allow a fresh burst). The bucket holds one second's worth of requests.

The bucket starts full: no burst at start, so the server's own burst allowance is never spent
and stays there to absorb network jitter (spending it is what turns jitter into 429s).

- Known limit (``--rate-limit R``): the pace is R, always.
- Unknown limit: no pace until the API answers 429; then the pace starts just under what was
  getting through, backs off multiplicatively on each further 429 (at most once a second: a
  volley of 429s from requests already in flight is one signal), and after a calm second
  probes upward: quickly (+10%/s) while under 95% of the pace that last drew a 429, gently
  (+2%/s) above it, so it settles near the limit. Once the pace is 10% past that ceiling
  with no 429 for 10 s, the ceiling is stale (the limit rose) and probing is quick again, so a
  limit that rises mid-run is followed in seconds, not minutes; one that falls draws 429s.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from aiolimiter import AsyncLimiter

UNITS_PER_SECOND = 1000.0
MIN_RATE = 1.0
BACKOFF = 0.9
FAST_PROBE = 1.10
SLOW_PROBE = 1.02
CALM_S = 1.0
STALE_MARGIN = 1.10  # this far past the ceiling ...
STALE_CALM_S = 10.0  # ... and this long without a 429: the limit has risen


class RequestPacer:
    """The gate every attempt passes before it is sent."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("the rate limit must be positive")
        self.known = rate is not None
        self.rate = rate
        self._clock = clock
        self._bucket = AsyncLimiter(UNITS_PER_SECOND, 1.0)
        self._successes: deque[float] = deque()
        self._last_429 = self._last_decrease = self._last_probe = clock()
        self._ceiling: float | None = None  # the pace that last drew a 429
        self._primed = False
        self.decreases = 0

    async def acquire(self) -> None:
        """Wait until one more request may be sent."""
        if self.rate is None:
            return
        if not self._primed:
            self._primed = True
            await self._bucket.acquire(UNITS_PER_SECOND)  # start full: no burst
        await self._bucket.acquire(min(UNITS_PER_SECOND, UNITS_PER_SECOND / self.rate))

    def observed_rate(self, now: float) -> float:
        """Successful requests a second over the last two seconds."""
        while self._successes and now - self._successes[0] > 2.0:
            self._successes.popleft()
        return len(self._successes) / 2.0

    def on_success(self) -> None:
        """A request went through: after a calm spell, probe a little faster."""
        now = self._clock()
        self._successes.append(now)
        if self.known or self.rate is None:
            return
        # Probe only after a calm spell since the last 429, then at most once a second.
        if now - self._last_429 >= CALM_S and now - self._last_probe >= 1.0:
            if (
                self._ceiling is not None
                and self.rate > STALE_MARGIN * self._ceiling
                and now - self._last_429 >= STALE_CALM_S
            ):
                self._ceiling = None
            below = self._ceiling is None or self.rate < 0.95 * self._ceiling
            self.rate *= FAST_PROBE if below else SLOW_PROBE
            self._last_probe = now

    def on_rate_limited(self, retry_after_s: float | None) -> None:
        """The API answered 429: slow down (unknown limit only)."""
        if self.known:
            return
        now = self._clock()
        self._last_429 = now
        if self.rate is not None and now - self._last_decrease < 1.0:
            return
        getting_through = self.observed_rate(now)
        # Only a paced rate tells where the limit is: what got through an unpaced blast of 429s
        # says little, so until then the probe stays fast.
        self._ceiling = self.rate
        if self.rate is None:
            self.rate = max(MIN_RATE, getting_through * 0.9)
        else:
            self.rate = max(MIN_RATE, min(self.rate, max(getting_through, MIN_RATE)) * BACKOFF)
        self._last_decrease = now
        self.decreases += 1
