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
