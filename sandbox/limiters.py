"""The shapes a gateway's rate limit comes in, each answering "may this request go on?".

Real gateways differ, and a client tuned to one shape fails on the others:

- ``token-bucket``: ``rate`` tokens a second, at most ``burst`` saved up (AWS API Gateway, Envoy).
  A small burst punishes any two requests closer together than ``1 / rate``.
- ``fixed-window``: ``rate * window_s`` requests per window, windows aligned to the wall clock
  (nginx-style counters, many SaaS APIs per minute): a full window may be spent at once, then
  everything is refused until the next one.
- ``sliding-log``: at most ``rate * window_s`` requests admitted in any ``window_s`` seconds
  (a log of admitted requests' times, as the ``limits`` library's moving window).
- ``sliding-count``: HAProxy's ``http_req_rate(period)`` with ``track-sc``: the current
  period's count plus the previous period's, weighted by how much of it is still in the
  window; every request counts, *refused ones too*: a client that keeps asking while refused
  keeps itself refused.

Fixed windows and sliding counts may be out of phase with the wall clock (``phase_s``): a
gateway counts from when it started, not from the top of the second.

``take()`` is 0.0 when the request is admitted, else the seconds until one could be.
``quota()`` is what rate-limit headers tell: the limit, what remains of it, and the seconds
until it is whole again (or the next window opens).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

LIMITER_SHAPES = ("token-bucket", "fixed-window", "sliding-log", "sliding-count")


class Limiter(Protocol):
    """A rate limit of some shape."""

    def take(self) -> float:
        """0.0 when admitted, else the seconds until a request could be."""
        ...

    def quota(self) -> tuple[int, int, float]:
        """(limit, remaining, seconds until reset), as rate-limit headers tell them."""
        ...


class TokenBucket:
    """Classic token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is available."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def quota(self) -> tuple[int, int, float]:
        """The bucket's size, its whole tokens, and the seconds until it is full."""
        now = self._clock()
        tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        return self.burst, int(tokens), (self.burst - tokens) / self.rate


class FixedWindow:
    """``limit`` requests per window of ``window_s`` seconds, windows aligned to the clock (the
    wall clock by default, so an HTTP-date Retry-After names the window's real end), shifted
    by ``phase_s``."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.time,
        phase_s: float = 0.0,
    ) -> None:  # fmt: skip
        self.limit = limit
        self.window_s = window_s
        self.phase_s = phase_s
        self._clock = clock
        self._window = -1
        self._count = 0

    def _now(self) -> tuple[float, int]:
        now = self._clock() - self.phase_s
        window = math.floor(now / self.window_s)
        if window != self._window:
            self._window, self._count = window, 0
        return now, window

    def take(self) -> float:
        """Count the request in the current window: 0.0 when within the limit, else the
        seconds until the next window opens."""
        now, window = self._now()
        if self._count < self.limit:
            self._count += 1
            return 0.0
        return (window + 1) * self.window_s - now

    def quota(self) -> tuple[int, int, float]:
        """The window's limit, what is left of it, and the seconds until the next one."""
        now, window = self._now()
        return self.limit, self.limit - self._count, (window + 1) * self.window_s - now


class SlidingLog:
    """At most ``limit`` requests admitted in any ``window_s`` seconds (refused ones are not
    logged: a client that waits is not punished for having asked)."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._log: deque[float] = deque()

    def take(self) -> float:
        """0.0 and logged when fewer than ``limit`` were admitted in the last window, else the
        seconds until the oldest of them leaves it."""
        now = self._clock()
        while self._log and now - self._log[0] >= self.window_s:
            self._log.popleft()
        if len(self._log) < self.limit:
            self._log.append(now)
            return 0.0
        return self._log[0] + self.window_s - now

    def quota(self) -> tuple[int, int, float]:
        """The limit, the slots free now, and the seconds until the oldest slot frees."""
        now = self._clock()
        while self._log and now - self._log[0] >= self.window_s:
            self._log.popleft()
        reset = self._log[0] + self.window_s - now if self._log else 0.0
        return self.limit, self.limit - len(self._log), reset


class SlidingCount:
    """HAProxy's ``http_req_rate(window_s)`` tracked with ``track-sc``: the current period's
    count plus the previous one's, weighted by the share of it still in the window; every
    request is counted before the limit is checked, so refused ones count too."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic,
        phase_s: float = 0.0,
    ) -> None:  # fmt: skip
        self.limit = limit
        self.window_s = window_s
        self.phase_s = phase_s
        self._clock = clock
        self._period = -1
        self._current = 0
        self._previous = 0

    def _rate(self) -> tuple[float, float]:
        now = self._clock() - self.phase_s
        period = math.floor(now / self.window_s)
        if period != self._period:
            self._previous = self._current if period == self._period + 1 else 0
            self._period, self._current = period, 0
        left = 1.0 - (now - period * self.window_s) / self.window_s
        return self._current + self._previous * left, (period + 1) * self.window_s - now

    def take(self) -> float:
        """Count the request, then refuse it if the rate is over the limit."""
        self._rate()
        self._current += 1
        rate, to_next = self._rate()
        if rate <= self.limit:
            return 0.0
        return to_next  # at best: the previous period's weight may keep it over for longer

    def quota(self) -> tuple[int, int, float]:
        """The limit, what the rate leaves of it, and the seconds to the next period."""
        rate, to_next = self._rate()
        return self.limit, max(0, self.limit - math.ceil(rate)), to_next


def build_limiter(
    shape: str, rate: float, burst: int | None, window_s: float, phase_s: float = 0.0
) -> Limiter:
    """The limiter of a shape: ``rate`` a second; a window holds ``rate * window_s``."""
    if shape == "token-bucket":
        return TokenBucket(rate, burst or max(1, math.ceil(rate)))
    limit = max(1, round(rate * window_s))
    if shape == "fixed-window":
        return FixedWindow(limit, window_s, phase_s=phase_s)
    if shape == "sliding-log":
        return SlidingLog(limit, window_s)
    if shape == "sliding-count":
        return SlidingCount(limit, window_s, phase_s=phase_s)
    raise ValueError(f"limiter must be one of {', '.join(LIMITER_SHAPES)}")
