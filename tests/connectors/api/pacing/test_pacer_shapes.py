"""The pacer against every gateway shape the sandbox has, as a real server: short runs that
assert behaviour (no 429 storm, every create done, windows waited out whichever way
``Retry-After`` is written), never timings."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from connectors.api.answers import Answer
from connectors.api.client import CustomerApi
from connectors.api.pacing.pacer import RequestPacer
from connectors.api.targets import Credentials
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER, person

LIMIT = 20.0

SHAPES = {
    "token-bucket-burst-1": FaultSettings(rate_limit=LIMIT, burst=1),
    "token-bucket-burst-3-date": FaultSettings(rate_limit=LIMIT, burst=3, retry_after="date"),
    "fixed-window-2s": FaultSettings(rate_limit=LIMIT, limiter="fixed-window", window_s=2),
    "fixed-window-2s-date": FaultSettings(
        rate_limit=LIMIT, limiter="fixed-window", window_s=2, retry_after="date"
    ),
    "fixed-window-2s-none": FaultSettings(
        rate_limit=LIMIT, limiter="fixed-window", window_s=2, retry_after="none"
    ),
    "sliding-log-2s": FaultSettings(rate_limit=LIMIT, limiter="sliding-log", window_s=2),
    "in-flight-2": FaultSettings(max_in_flight=2, latency_ms=50),
}


async def creates(
    url: str, rate: float | None, seconds: float, pacer: RequestPacer | None = None
) -> tuple[int, int, int]:
    """Creates for ``seconds`` from 16 workers: (done, failed, requests)."""
    counter = itertools.count()
    done = failed = 0
    deadline = time.monotonic() + seconds
    credentials = Credentials(user_uid=USER, api_key=KEY)
    pacer = RequestPacer(rate) if pacer is None else pacer
    async with CustomerApi(url, credentials, pacer=pacer, concurrency=16) as api:

        async def worker() -> None:
            nonlocal done, failed
            while time.monotonic() < deadline:
                result = await api.create(person(email_address=f"p{next(counter)}@example.com"))
                done += result.answer is Answer.DONE
                failed += result.answer is not Answer.DONE

        await asyncio.gather(*(worker() for _ in range(16)))
    return done, failed, api.counters.requests


@pytest.mark.slow
@pytest.mark.parametrize("known", [False, True], ids=["unknown", "known"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_is_used_without_a_429_storm(shape: str, known: bool) -> None:
    settings = SHAPES[shape]
    rate = LIMIT if known and settings.rate_limit else None
    with SandboxProcess(users={USER: KEY}, faults=settings) as server:
        done, failed, requests = asyncio.run(creates(server.url, rate, 4.0))
        stats = server.stats()
    assert failed == 0  # every 429 was retried until it went through
    assert stats["writes"]["create"] == done > 0
    # A naive client of 16 workers draws 429s by the hundred here (most of its requests).
    assert stats["rate_limited"] <= max(12, 0.15 * requests), stats
    if settings.rate_limit:
        windows = 4.0 / settings.window_s + 1 if settings.limiter != "token-bucket" else 1
        assert done <= LIMIT * 4.0 + LIMIT * settings.window_s * windows  # the limit held


@pytest.mark.slow
@pytest.mark.parametrize("form", ["ietf", "ietf-dict", "ietf-list", "x-ratelimit"])
def test_a_gateways_limit_headers_stand_in_for_probes(form: str) -> None:
    """A window of 10 s that says nothing when refusing (no Retry-After), but tells what is
    left and when it is whole again, in each header form: the run waits for the window to
    turn instead of probing for it. Every wall is the one the headers told, none is found by
    a run of refusals. Without the headers the same 10 s draw 18-19 refusals (probes a few
    seconds apart, into the wall) and find a wall at each window; with them 1-6 on an idle
    machine, up to 18 with two busy loops on its 2 cores: the requests a slow start had out
    when the count reached 0, and the probes of the last second (``bench/RESULTS.md``)."""
    settings = FaultSettings(
        rate_limit=LIMIT, limiter="fixed-window", window_s=10, retry_after="none",
        limit_headers=form,
    )  # fmt: skip
    pacer = RequestPacer(None)
    with SandboxProcess(users={USER: KEY}, faults=settings) as server:
        done, failed, _ = asyncio.run(creates(server.url, None, 10.0, pacer))
        stats = server.stats()
    assert failed == 0 and stats["writes"]["create"] == done > 0
    assert pacer.walls == 0, stats  # told, never found
    assert stats["rate_limited"] <= 24, stats  # no storm either
