"""The one retry policy of every HTTP call custsync makes (the API's, an https source's), built
from plain parameters, turned into tenacity's retrying by one factory (dlt's ``retry.py``).

Exponential backoff with injectable jitter, never shorter than the server's ``Retry-After``
(seconds or an HTTP-date) and never longer than a cap: a gateway answering
``Retry-After: 3600`` must not park a run for an hour per attempt.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryError, Retrying, retry_if_exception_type
from tenacity.stop import stop_base
from tenacity.wait import wait_base

T = TypeVar("T")


class RetryableFailure(Exception):
    """A failure worth another attempt, with the server's Retry-After if it sent one."""

    def __init__(
        self, reason: str, retry_after: float | None = None, *, rate_limited: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.rate_limited = rate_limited


def add_jitter(seconds: float) -> float:
    """Up to half a second more, at random: clients that failed together retry apart."""
    return seconds + random.uniform(0.0, 0.5)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds, from delay-seconds or an HTTP-date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is read as such
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one call."""

    max_attempts: int = 8
    # A 429 says "later", not "broken": a spent window of a minute, probed, can refuse one
    # request several times, and giving up on it would fail a row the API would take.
    max_rate_limited_attempts: int = 40
    backoff_base_s: float = 0.25
    backoff_max_s: float = 30.0
    retry_after_cap_s: float = 60.0
    jitter: Callable[[float], float] = field(default=add_jitter)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)
    blocking_sleep: Callable[[float], None] = field(default=time.sleep)  # outside an event loop
    # A pacer gates every attempt and keeps the gateway's Retry-After itself (a wall until
    # then): a rate-limited attempt then waits a short backoff only. Retry-After is an upper
    # bound (whole seconds round up; a window may open sooner), not the next window's start:
    # slept out by every refused request, it idled them past the window's opening.
    paced: bool = False

    def gives_up(self, attempt: int, failure: BaseException | None) -> bool:
        """Whether attempt number ``attempt``, failed so, was the last."""
        if isinstance(failure, RetryableFailure) and failure.rate_limited:
            return attempt >= self.max_rate_limited_attempts
        return attempt >= self.max_attempts

    def wait_s(self, attempt: int, retry_after: float | None, rate_limited: bool = False) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        backoff = min(self.backoff_max_s, self.jitter(self.backoff_base_s * 2 ** (attempt - 1)))
        if rate_limited and self.paced:
            return backoff * 0.1  # the pacer holds the attempt for as long as the gateway said
        if retry_after is None:
            return backoff
        return max(min(retry_after, self.retry_after_cap_s), backoff * 0.1)


def _attempt_and_failure(retry_state: Any, done: int) -> tuple[int, BaseException | None]:
    """The policy's attempt number (counting ``done`` made before tenacity) and its failure."""
    outcome = retry_state.outcome
    failure = outcome.exception() if outcome is not None else None
    return int(retry_state.attempt_number) + done, failure


class _wait_policy(wait_base):  # named like tenacity's own waits
    def __init__(self, policy: RetryPolicy, done: int) -> None:
        self.policy, self.done = policy, done

    def __call__(self, retry_state: Any) -> float:
        attempt, failure = _attempt_and_failure(retry_state, self.done)
        if not isinstance(failure, RetryableFailure):
            return self.policy.wait_s(attempt, None)
        return self.policy.wait_s(attempt, failure.retry_after, failure.rate_limited)


class _stop_policy(stop_base):  # named like tenacity's own stops
    def __init__(self, policy: RetryPolicy, done: int) -> None:
        self.policy, self.done = policy, done

    def __call__(self, retry_state: Any) -> bool:
        return self.policy.gives_up(*_attempt_and_failure(retry_state, self.done))


def _retrying(policy: RetryPolicy, done: int = 0) -> dict[str, Any]:
    """What tenacity is told, asynchronous or not: retry RetryableFailure as the policy says;
    when it gives up, ``RetryError`` carries the last failure."""
    return {
        "retry": retry_if_exception_type(RetryableFailure),
        "stop": _stop_policy(policy, done),
        "wait": _wait_policy(policy, done),
        "reraise": False,
    }


def build_retrying(policy: RetryPolicy, done: int = 0) -> AsyncRetrying:
    """A tenacity ``AsyncRetrying`` for a call made in the run's event loop; ``done``: attempts
    already made, counted towards the policy's limits."""
    return AsyncRetrying(sleep=policy.sleep, **_retrying(policy, done))


def build_blocking_retrying(policy: RetryPolicy) -> Retrying:
    """The same, for a call made outside an event loop (an https source's download)."""
    return Retrying(sleep=policy.blocking_sleep, **_retrying(policy))


class GaveUp(Exception):
    """The policy gave up on a call: after ``attempts``, the last ``failure``."""

    def __init__(self, attempts: int, failure: BaseException | None) -> None:
        reason = failure.reason if isinstance(failure, RetryableFailure) else str(failure)
        plural = "attempt" if attempts == 1 else "attempts"
        super().__init__(f"gave up after {attempts} {plural}: {reason}")
        self.attempts = attempts


async def with_retries(
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[T]],
    on_retry: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """``attempt`` until it succeeds (its result, and the attempts made) or the policy gives
    up (``GaveUp``). The first attempt is awaited as it is and only a failure enters
    tenacity's machinery, counted from there: set up for every call, that machinery cost a
    quarter of the client's creates a second (bench/RESULTS.md), and most calls need one
    attempt."""
    try:
        return await attempt(), 1
    except RetryableFailure as failure:
        first = failure
    if policy.gives_up(1, first):
        raise GaveUp(1, first)
    await policy.sleep(policy.wait_s(1, first.retry_after, first.rate_limited))
    attempts = 1
    try:
        async for retry in build_retrying(policy, done=1):
            with retry:
                attempts += 1
                if on_retry is not None:
                    on_retry()
                return await attempt(), attempts
    except RetryError as exc:
        raise GaveUp(attempts, exc.last_attempt.exception()) from None
    raise AssertionError("unreachable")  # pragma: no cover
