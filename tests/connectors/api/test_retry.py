"""One retry policy: backoff with injected jitter, Retry-After honoured and capped."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Awaitable, Callable

import pytest

from connectors.api.retry import (
    GaveUp,
    RetryableFailure,
    RetryPolicy,
    build_retrying,
    parse_retry_after,
    with_retries,
)


def no_jitter(seconds: float) -> float:
    return seconds


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(backoff_base_s=0.25, backoff_max_s=1.5, jitter=no_jitter)
    assert [policy.wait_s(n, None) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(retry_after_cap_s=60, jitter=no_jitter)
    assert policy.wait_s(1, 7.0) == 7.0
    # A gateway's "come back in an hour" must not park the run for an hour per attempt.
    assert policy.wait_s(1, 3600.0) == 60.0
    assert policy.wait_s(3, 0.0) == pytest.approx(0.1)  # never a busy loop


def test_jitter_is_injected() -> None:
    seen: list[float] = []

    def jitter(seconds: float) -> float:
        seen.append(seconds)
        return seconds * 2

    assert RetryPolicy(jitter=jitter).wait_s(2, None) == 1.0 and seen == [0.5]


def test_retrying_sleeps_as_the_policy_says_and_stops() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(max_attempts=4, jitter=no_jitter, sleep=sleep, retry_after_cap_s=30)
    failures = [RetryableFailure("HTTP 429", 3600.0), RetryableFailure("HTTP 503"),
                RetryableFailure("HTTP 503", 2.0), RetryableFailure("HTTP 503")]  # fmt: skip
    attempts = 0

    async def go() -> None:
        nonlocal attempts
        async for attempt in build_retrying(policy):
            with attempt:
                attempts += 1
                raise failures[attempts - 1]

    from tenacity import RetryError

    with pytest.raises(RetryError):
        asyncio.run(go())
    assert attempts == 4 and sleeps == [30.0, 0.5, 2.0]


def test_retry_after_forms() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 3 ") == 3.0
    date = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(42.0)
    assert parse_retry_after(email.utils.formatdate(now - 50, usegmt=True), now=now) == 0.0
    for bad in (None, "", "soon", "-5", "1.5e3"):
        assert parse_retry_after(bad) is None


def test_a_call_with_retries_counts_its_first_attempt_towards_the_policy() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(max_attempts=3, jitter=no_jitter, sleep=sleep, retry_after_cap_s=30)
    retried: list[int] = []

    def attempts_failing(failures: list[RetryableFailure]) -> Callable[[], Awaitable[str]]:
        async def attempt() -> str:
            if failures:
                raise failures.pop(0)
            return "done"

        return attempt

    once = asyncio.run(with_retries(policy, attempts_failing([]), lambda: retried.append(1)))
    assert once == ("done", 1) and retried == [] and sleeps == []
    later = attempts_failing([RetryableFailure("HTTP 503", 2.0), RetryableFailure("HTTP 502")])
    assert asyncio.run(with_retries(policy, later, lambda: retried.append(1))) == ("done", 3)
    assert retried == [1, 1] and sleeps == [2.0, 0.5]
    never = attempts_failing([RetryableFailure("HTTP 503")] * 5)
    with pytest.raises(GaveUp, match=r"^gave up after 3 attempts: HTTP 503$") as gave_up:
        asyncio.run(with_retries(policy, never))
    assert gave_up.value.attempts == 3
    with pytest.raises(GaveUp, match="after 1 attempt: HTTP 429"):
        limited = RetryPolicy(max_rate_limited_attempts=1, sleep=sleep)
        asyncio.run(
            with_retries(
                limited, attempts_failing([RetryableFailure("HTTP 429", rate_limited=True)])
            )
        )
