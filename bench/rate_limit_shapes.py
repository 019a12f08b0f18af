"""Claim: whatever shape the gateway's rate limit takes, custsync uses it: with the limit
unknown >= 90% of it with < 5% of requests answered 429, with it known (``--rate-limit``)
>= 97% with <= 0.5% 429s — beside a naive asyncio.gather + semaphore client, in one run.

Each cell creates customers for a while against a sandbox of that shape (limit 100 req/s,
40 ms latency) and prints successful creates/s over the run as a share of the limit, the share
of requests answered 429, and the seconds until the client first held 90% of the limit over
two seconds ("settle"). Window shapes run for at least three windows.

    uv run python bench/rate_limit_shapes.py [--seconds 30] [--only tb-burst-1,fw-60s]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from connectors.api.answers import Answer
from connectors.api.client import CustomerApi
from connectors.api.pacing.concurrency import default_concurrency
from connectors.api.pacing.pacer import RequestPacer
from connectors.api.targets import Credentials
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess

AUTH = ("bench", "bench-key")
LIMIT = 100.0
LATENCY_MS = 40.0


def shapes() -> dict[str, FaultSettings]:
    """Every gateway shape of issue 13 at 100 req/s."""

    def shape(**knobs: object) -> FaultSettings:
        return FaultSettings(rate_limit=LIMIT, latency_ms=LATENCY_MS, **knobs)  # type: ignore[arg-type]

    return {
        "tb-burst-1": shape(burst=1),
        "tb-burst-2": shape(burst=2),
        "tb-burst-10": shape(burst=10),
        "tb-burst-10-date": shape(burst=10, retry_after="date"),
        "tb-burst-10-none": shape(burst=10, retry_after="none"),
        "fw-1s": shape(limiter="fixed-window", window_s=1),
        "fw-10s": shape(limiter="fixed-window", window_s=10),
        "fw-10s-none": shape(limiter="fixed-window", window_s=10, retry_after="none"),
        "fw-60s": shape(limiter="fixed-window", window_s=60),
        "sliding-1s": shape(limiter="sliding-log", window_s=1),
        "sliding-10s": shape(limiter="sliding-log", window_s=10),
        "in-flight-5": shape(burst=10, max_in_flight=5),
    }


def body(n: int) -> dict[str, object]:
    return {"entity_id": "rl", "email_address": f"r{n}@example.com",
            "billing": {"first_name": "Ann", "last_name": f"Lee{n}"}}  # fmt: skip


@dataclass
class Tally:
    seconds: float
    requests: int = 0
    limited: int = 0
    successes: list[float] = field(default_factory=list)

    def fraction(self) -> float:
        return len(self.successes) / self.seconds / LIMIT

    def share_429(self) -> float:
        return self.limited / self.requests if self.requests else 0.0

    def settle_s(self) -> float | None:
        """First moment from which two seconds held >= 90% of the limit."""
        times = sorted(self.successes)
        for i, start in enumerate(times):
            if bisect.bisect_left(times, start + 2.0) - i >= 0.9 * 2 * LIMIT:
                return start
        return None


async def custsync_client(url: str, rate: float | None, seconds: float) -> Tally:
    tally = Tally(seconds)
    concurrency = default_concurrency(rate)
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds
    credentials = Credentials(user_uid=AUTH[0], api_key=AUTH[1])
    async with CustomerApi(url, credentials, pacer=RequestPacer(rate),
                           concurrency=concurrency) as api:  # fmt: skip

        async def worker() -> None:
            while time.perf_counter() < deadline:
                result = await api.create(body(next(counter)))
                now = time.perf_counter()
                if result.answer is Answer.DONE and now <= deadline:
                    tally.successes.append(now - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    tally.requests, tally.limited = api.counters.requests, api.counters.rate_limited
    return tally


async def naive_gather(url: str, seconds: float) -> Tally:
    """A semaphore of 16 and asyncio.gather; on 429, sleep Retry-After (or 1 s) and retry."""
    tally = Tally(seconds)
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds
    async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=30) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                tally.requests += 1
                response = await client.post("/v2/customer", json=body(next(counter)))
                if response.status_code == 429:
                    tally.limited += 1
                    wait = response.headers.get("Retry-After", "1")
                    await asyncio.sleep(float(wait) if wait.isdigit() else 1.0)
                elif time.perf_counter() <= deadline:
                    tally.successes.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(16)))
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--only", default="", help="comma-separated shape names")
    parser.add_argument("--no-naive", action="store_true")
    args = parser.parse_args()
    wanted = {s for s in args.only.split(",") if s}
    print(f"machine: {os.cpu_count()} cores; limit {LIMIT:.0f} req/s, latency "
          f"{LATENCY_MS:.0f} ms; successes/s over each run as a share of the limit")  # fmt: skip
    print(f"{'shape':<18}{'client':<26}{'s':>5}{'of limit':>10}{'429 share':>11}{'settle s':>10}")
    modes: dict[str, Callable[[str, float], Awaitable[Tally]]] = {
        "custsync, limit known": lambda url, s: custsync_client(url, LIMIT, s),
        "custsync, limit unknown": lambda url, s: custsync_client(url, None, s),
    }
    if not args.no_naive:
        modes["naive gather+semaphore"] = naive_gather
    for name, settings in shapes().items():
        if wanted and name not in wanted:
            continue
        seconds = args.seconds
        if settings.limiter != "token-bucket":  # whole windows, at least three
            seconds = settings.window_s * max(3, math.ceil(args.seconds / settings.window_s))
        for mode, run in modes.items():
            with SandboxProcess(users=dict([AUTH]), faults=settings) as server:
                if settings.limiter == "fixed-window":
                    # Start as a window opens, run whole windows: the budget is then exactly
                    # the limit times the run (a run started mid-window gets an extra one).
                    time.sleep(settings.window_s - time.time() % settings.window_s)
                tally = asyncio.run(run(server.url, seconds))
            settle = tally.settle_s()
            print(f"{name:<18}{mode:<26}{seconds:>5.0f}{tally.fraction():>10.1%}"
                  f"{tally.share_429():>11.2%}{'-' if settle is None else f'{settle:.1f}':>10}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
