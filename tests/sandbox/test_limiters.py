"""Every rate-limit shape the sandbox can take, on a fake clock and over real HTTP."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from sandbox.faults import FaultSettings
from sandbox.limiters import FixedWindow, SlidingLog, TokenBucket, build_limiter
from sandbox.process import SandboxProcess

AUTH = ("u", "k")


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    assert bucket.take() == 0.0 and bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.1)
    clock.now = 0.1
    assert bucket.take() == 0.0
    clock.now = 100.0
    assert [bucket.take() for _ in range(3)][:2] == [0.0, 0.0]  # capped at burst


def test_token_bucket_of_burst_one_refuses_two_requests_closer_than_its_interval() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=100, burst=1, clock=clock)
    assert bucket.take() == 0.0
    clock.now = 0.0099
    assert bucket.take() > 0
    clock.now = 0.0100
    assert bucket.take() == 0.0


def test_fixed_window_spends_at_once_then_refuses_until_the_next_window() -> None:
    clock = Clock(1000.25)
    window = FixedWindow(limit=3, window_s=10, clock=clock)
    assert [window.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert window.take() == pytest.approx(9.75)  # the window ends at 1010
    clock.now = 1009.9
    assert window.take() == pytest.approx(0.1)
    clock.now = 1010.0
    assert window.take() == 0.0


def test_sliding_log_counts_only_admitted_requests_in_any_window() -> None:
    clock = Clock()
    log = SlidingLog(limit=2, window_s=1.0, clock=clock)
    assert log.take() == 0.0
    clock.now = 0.6
    assert log.take() == 0.0
    assert log.take() == pytest.approx(0.4)  # refused: not logged
    clock.now = 1.0
    assert log.take() == 0.0  # the first left the window
    assert log.take() == pytest.approx(0.6)


def test_a_window_holds_rate_times_its_length() -> None:
    fixed = build_limiter("fixed-window", 100, None, 60)
    assert isinstance(fixed, FixedWindow) and fixed.limit == 6000
    sliding = build_limiter("sliding-log", 2.5, None, 10)
    assert isinstance(sliding, SlidingLog) and sliding.limit == 25
    with pytest.raises(ValueError, match="limiter must be one of"):
        build_limiter("leaky", 1, None, 1)


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ({"limiter": "leaky"}, "limiter"),
        ({"window_s": 0}, "window-s"),
        ({"max_in_flight": 0}, "max-in-flight"),
    ],
)
def test_bad_shape_knobs_are_refused_by_name(knob: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSettings(**knob)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", ["fixed-window", "sliding-log"])
def test_window_shapes_over_http_refuse_past_the_window_with_its_remaining_time(
    shape: str,
) -> None:
    settings = FaultSettings(rate_limit=1, limiter=shape, window_s=5)
    with (
        SandboxProcess(users=dict([AUTH]), faults=settings) as server,
        httpx.Client(base_url=server.url, auth=AUTH, timeout=10) as api,
    ):
        statuses = [api.get(f"/v2/customer/{uuid.uuid4()}") for _ in range(8)]
    codes = [r.status_code for r in statuses]
    # 5 a window; a fixed window may turn over once during the 8 requests.
    assert codes.count(404) in (5, 6) and codes[:5].count(404) >= 4
    refused = [r for r in statuses if r.status_code == 429]
    assert all(1 <= int(r.headers["Retry-After"]) <= 5 for r in refused)


def test_requests_over_the_in_flight_cap_are_answered_429() -> None:
    settings = FaultSettings(max_in_flight=2, latency_ms=300)

    async def volley(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=10) as api:
            answers = await asyncio.gather(
                *(api.get(f"/v2/customer/{uuid.uuid4()}") for _ in range(6))
            )
        return [a.status_code for a in answers]

    with SandboxProcess(users=dict([AUTH]), faults=settings) as server:
        codes = asyncio.run(volley(server.url))
        assert codes.count(404) == 2 and codes.count(429) == 4
        assert server.stats()["rate_limited"] == 4
