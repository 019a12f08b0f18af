"""One retry policy: backoff with injected jitter, Retry-After honoured and capped."""

from __future__ import annotations

import asyncio
import email.utils

import pytest

from connectors.api.retry import (
    RetryableFailure,
    RetryPolicy,
    build_retrying,
    parse_retry_after,
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
