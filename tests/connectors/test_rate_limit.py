"""The pacer: a known rate holds; an unknown one is found from 429s and followed."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors.rate_limit import RequestPacer


def test_a_known_rate_is_never_changed_by_429s() -> None:
    pacer = RequestPacer(50)
    pacer.on_rate_limited(1.0)
    assert pacer.rate == 50


def test_known_rate_paces_requests() -> None:
    async def run() -> float:
        pacer = RequestPacer(100)
        started = time.perf_counter()
        for _ in range(300):  # no burst: 300 at 100/s
            await pacer.acquire()
        return time.perf_counter() - started

    assert 2.7 <= asyncio.run(run()) <= 3.6


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_unknown_rate_starts_from_what_got_through_then_backs_off_once_a_second() -> None:
    clock = Clock()
    pacer = RequestPacer(None, clock)
    assert pacer.rate is None
    for _ in range(100):  # 50/s getting through over two seconds
        clock.now += 0.02
        pacer.on_success()
    pacer.on_rate_limited(None)
    assert pacer.rate == pytest.approx(45)
    pacer.on_rate_limited(None)  # same volley: ignored
    assert pacer.rate == pytest.approx(45)
    clock.now += 1.0
    pacer.on_rate_limited(None)
    assert pacer.rate < 45


def test_unknown_rate_probes_upward_after_calm() -> None:
    clock = Clock()
    pacer = RequestPacer(None, clock)
    pacer.on_rate_limited(None)
    start = pacer.rate
    assert start is not None
    for _ in range(100):  # ten calm seconds
        clock.now += 0.1
        pacer.on_success()
    assert pacer.rate is not None and pacer.rate > start * 1.2


def calm_seconds(pacer: RequestPacer, clock: Clock, seconds: int) -> None:
    for _ in range(seconds * 10):
        clock.now += 0.1
        pacer.on_success()


def test_a_limit_that_rises_is_followed_in_seconds_not_minutes() -> None:
    clock = Clock()
    pacer = RequestPacer(None, clock)
    calm_seconds(pacer, clock, 2)
    pacer.on_rate_limited(None)  # unpaced: starts just under what got through (10/s)
    calm_seconds(pacer, clock, 1)
    assert pacer.rate is not None
    ceiling = pacer.rate
    pacer.on_rate_limited(None)  # paced: this pace is the ceiling
    calm_seconds(pacer, clock, 5)
    # Near the ceiling, gently: a fixed limit is approached without a volley of 429s.
    assert pacer.rate < 1.1 * ceiling
    calm_seconds(pacer, clock, 20)
    # No 429 for long, well past the old ceiling: it is stale, probing is quick again.
    assert pacer.rate > 3 * ceiling


def test_a_fresh_429_keeps_the_gentle_probe() -> None:
    clock = Clock()
    pacer = RequestPacer(None, clock)
    calm_seconds(pacer, clock, 2)
    pacer.on_rate_limited(None)
    calm_seconds(pacer, clock, 1)
    assert pacer.rate is not None
    ceiling = pacer.rate
    pacer.on_rate_limited(None)
    for _ in range(6):  # a 429 every 4 s keeps the ceiling fresh
        calm_seconds(pacer, clock, 4)
        pacer.on_rate_limited(None)
    assert pacer.rate < 1.2 * ceiling
