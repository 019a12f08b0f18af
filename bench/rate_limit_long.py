"""Claims 1 and 2 over long runs: a known limit held at >= 97% with < 1% 429s at 5-500 ms of
latency; an unknown limit found and held at >= 90% with < 5% 429s, following a limit that
changes mid-run — beside a naive asyncio.gather with a semaphore (no limiter).

Writes/s are counted over the steady part of each run (after --warmup seconds), so the sandbox's
one-second burst at start no longer inflates them; the whole-run figure is printed beside it.
The changing limit goes 100 -> 50 -> 150 req/s; each phase is judged over its last 20 s, and
the time the client took to reach 90% of the new limit is printed beside it.

    uv run python bench/rate_limit_long.py [--seconds 90] [--phase 40]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
from collections.abc import Callable

import httpx

from bench.rate_limit_fit import AUTH, body
from connectors.api.answers import Answer
from connectors.api.client import CustomerApi
from connectors.api.pacing.concurrency import default_concurrency
from connectors.api.pacing.pacer import RequestPacer
from connectors.api.targets import Credentials
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess


class Tally:
    """When each write succeeded, and how many requests were refused with 429 (and when)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.writes: list[float] = []
        self.limited: list[float] = []
        self.requests = 0

    def now(self) -> float:
        return time.perf_counter() - self.start

    def rate(self, since: float, until: float) -> float:
        return sum(1 for t in self.writes if since <= t < until) / (until - since)

    def refused_share(self, since: float, until: float) -> float:
        refused = sum(1 for t in self.limited if since <= t < until)
        done = sum(1 for t in self.writes if since <= t < until)
        return refused / (refused + done) if refused + done else 0.0


async def custsync_client(url: str, rate: float | None, seconds: float, tally: Tally) -> None:
    pacer = RequestPacer(rate)
    concurrency = default_concurrency(rate)
    counter = itertools.count()
    credentials = Credentials(user_uid=AUTH[0], api_key=AUTH[1])
    async with CustomerApi(url, credentials, pacer=pacer, concurrency=concurrency) as api:
        seen_limited = 0

        async def worker() -> None:
            nonlocal seen_limited
            while tally.now() < seconds:
                result = await api.create(body(next(counter)))
                # 429s are retried inside the client: read them off its counter as they happen.
                while seen_limited < api.counters.rate_limited:
                    seen_limited += 1
                    tally.limited.append(tally.now())
                if result.answer is Answer.DONE:
                    tally.writes.append(tally.now())

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        tally.requests = api.counters.requests


async def naive_gather(url: str, seconds: float, tally: Tally) -> None:
    """A semaphore of 16 and asyncio.gather; on 429, sleep Retry-After and try again."""
    counter = itertools.count()
    async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=30) as client:

        async def worker() -> None:
            while tally.now() < seconds:
                tally.requests += 1
                response = await client.post("/v2/customer", json=body(next(counter)))
                if response.status_code == 429:
                    tally.limited.append(tally.now())
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                else:
                    tally.writes.append(tally.now())

        await asyncio.gather(*(worker() for _ in range(16)))


def run_mode(
    mode: Callable[[str, Tally], object], faults: FaultSettings, changes: list[tuple[float, float]]
) -> Tally:
    """One measurement against a fresh sandbox; ``changes``: (at second, new limit)."""
    with SandboxProcess(users={AUTH[0]: AUTH[1]}, faults=faults) as server:
        tally = Tally()

        async def drive() -> None:
            async def change_limits() -> None:
                for at, limit in changes:
                    await asyncio.sleep(max(0.0, at - tally.now()))
                    settings = FaultSettings(rate_limit=limit, latency_ms=faults.latency_ms)
                    await asyncio.to_thread(server.set_faults, settings)

            await asyncio.gather(mode(server.url, tally), change_limits())  # type: ignore[arg-type]

        asyncio.run(drive())
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--phase", type=float, default=40)
    parser.add_argument("--latencies", default="5,40,200,500")
    parser.add_argument("--only-changing", action="store_true")
    args = parser.parse_args()
    rate, seconds, warmup = args.rate, args.seconds, args.warmup
    print(f"machine: {os.cpu_count()} cores; sandbox limit {rate:.0f} req/s (burst 1 s); "
          f"{seconds:.0f} s per run, steady = after {warmup:.0f} s")  # fmt: skip
    header = f"{'latency':>8}  {'mode':<24}{'steady w/s':>11}{'of limit':>9}{'429 share':>10}"
    print(header + f"{'whole-run w/s':>15}")
    modes: dict[str, Callable[[str, Tally], object]] = {
        "custsync, known limit": lambda url, t: custsync_client(url, rate, seconds, t),
        "custsync, unknown limit": lambda url, t: custsync_client(url, None, seconds, t),
        "naive gather + semaphore": lambda url, t: naive_gather(url, seconds, t),
    }
    for latency in (int(v) for v in args.latencies.split(",") if not args.only_changing):
        for name, mode in modes.items():
            if name.startswith("naive") and latency != 40:
                continue  # the naive client's behaviour is the same story at every latency
            tally = run_mode(mode, FaultSettings(rate_limit=rate, latency_ms=latency), [])
            steady = tally.rate(warmup, seconds)
            print(
                f"{latency:>6}ms  {name:<24}{steady:>11.1f}{steady / rate:>9.1%}"
                f"{tally.refused_share(warmup, seconds):>10.2%}{tally.rate(0, seconds):>15.1f}"
            )
    # A limit that changes mid-run: the unknown-limit client must follow it down and up.
    phase = args.phase
    limits = [100.0, 50.0, 150.0]
    changes = [(phase * i, limit) for i, limit in enumerate(limits) if i]
    print(f"\nchanging limit {' -> '.join(f'{v:.0f}' for v in limits)} req/s, {phase:.0f} s each, "
          "40 ms latency; judged over the last 20 s of each phase")  # fmt: skip
    print(f"{'mode':<26}{'phase limit':>12}{'w/s':>8}{'of limit':>9}{'429 share':>10}"
          f"{'s to 90%':>10}")  # fmt: skip
    faults = FaultSettings(rate_limit=limits[0], latency_ms=40)
    for name, mode in (
        ("custsync, unknown limit",
         lambda url, t: custsync_client(url, None, phase * len(limits), t)),
        ("naive gather + semaphore", lambda url, t: naive_gather(url, phase * len(limits), t)),
    ):  # fmt: skip
        tally = run_mode(mode, faults, changes)
        for index, limit in enumerate(limits):
            start, until = phase * index, phase * (index + 1)
            since = until - 20
            achieved = tally.rate(since, until)
            reached = next(
                (t - start for t in _seconds(start, until) if tally.rate(t, t + 1) >= 0.9 * limit),
                None,
            )
            shown = f"{reached:.0f}" if reached is not None else "never"
            print(f"{name:<26}{limit:>12.0f}{achieved:>8.1f}{achieved / limit:>9.1%}"
                  f"{tally.refused_share(since, until):>10.2%}{shown:>10}")  # fmt: skip


def _seconds(start: float, until: float) -> list[float]:
    return [start + k for k in range(int(until - start))]


if __name__ == "__main__":
    main()
