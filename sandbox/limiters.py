"""The shapes a gateway's rate limit comes in, each answering "may this request go on?".

Real gateways differ, and a client tuned to one shape fails on the others:

- ``token-bucket``: ``rate`` tokens a second, at most ``burst`` saved up (AWS API Gateway, Envoy).
  A small burst punishes any two requests closer together than ``1 / rate``.
- ``fixed-window``: ``rate * window_s`` requests per window, windows aligned to the wall clock
  (nginx-style counters, many SaaS APIs per minute): a full window may be spent at once, then
  everything is refused until the next one.
- ``sliding-log``: at most ``rate * window_s`` requests admitted in any ``window_s`` seconds
  (a log of admitted requests' times, as the ``limits`` library's moving window).

``take()`` is 0.0 when the request is admitted, else the seconds until one could be.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

LIMITER_SHAPES = ("token-bucket", "fixed-window", "sliding-log")


class Limiter(Protocol):
    """A rate limit of some shape."""

    def take(self) -> float:
        """0.0 when admitted, else the seconds until a request could be."""
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


class FixedWindow:
    """``limit`` requests per window of ``window_s`` seconds, windows aligned to the clock (the
    wall clock by default, so an HTTP-date Retry-After names the window's real end)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._window = -1
        self._count = 0

    def take(self) -> float:
        """Count the request in the current window: 0.0 when within the limit, else the
        seconds until the next window opens."""
        now = self._clock()
        window = math.floor(now / self.window_s)
        if window != self._window:
            self._window, self._count = window, 0
        if self._count < self.limit:
            self._count += 1
            return 0.0
        return (window + 1) * self.window_s - now


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


def build_limiter(shape: str, rate: float, burst: int | None, window_s: float) -> Limiter:
    """The limiter of a shape: ``rate`` a second; a window holds ``rate * window_s``."""
    if shape == "token-bucket":
        return TokenBucket(rate, burst or max(1, math.ceil(rate)))
    limit = max(1, round(rate * window_s))
    if shape == "fixed-window":
        return FixedWindow(limit, window_s)
    if shape == "sliding-log":
        return SlidingLog(limit, window_s)
    raise ValueError(f"limiter must be one of {', '.join(LIMITER_SHAPES)}")
