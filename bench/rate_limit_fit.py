"""Claim: with a known limit the client writes at >= 97% of it with < 1% of requests refused;
with an unknown one it settles near the limit with few 429s — at latencies from 5 to 200 ms —
beside a sequential httpx loop and a naive asyncio.gather with a semaphore (no limiter).

Each mode creates customers for --seconds against a sandbox limited to --rate req/s (token
bucket, burst one second), and reports successful writes/s over that time and the 429 share.

    uv run python bench/rate_limit_fit.py [--rate 100] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time

import httpx

from connectors.api.answers import Answer
from connectors.api.client import CustomerApi
from connectors.api.pacing.concurrency import default_concurrency
from connectors.api.pacing.pacer import RequestPacer
from connectors.api.targets import Credentials
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess

AUTH = ("bench", "bench-key")


def body(n: int) -> dict[str, object]:
    return {"entity_id": "rl", "email_address": f"r{n}@example.com",
            "billing": {"first_name": "Ann", "last_name": f"Lee{n}"}}  # fmt: skip


async def custsync_client(url: str, rate: float | None, seconds: float) -> tuple[int, int, int]:
    pacer = RequestPacer(rate)
    concurrency = default_concurrency(rate)
    counter = itertools.count()
    deadline = time.perf_counter() + seconds
    done = 0
    async with CustomerApi(url, Credentials(user_uid=AUTH[0], api_key=AUTH[1]), pacer=pacer,
                           concurrency=concurrency) as api:  # fmt: skip

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                result = await api.create(body(next(counter)))
                done += result.answer is Answer.DONE

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, api.counters.requests, api.counters.rate_limited


async def naive_gather(url: str, seconds: float) -> tuple[int, int, int]:
    """A semaphore of 16 and asyncio.gather; on 429, sleep Retry-After and try again."""
    counter = itertools.count()
    deadline = time.perf_counter() + seconds
    done = requests = limited = 0
    async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=30) as client:

        async def worker() -> None:
            nonlocal done, requests, limited
            while time.perf_counter() < deadline:
                requests += 1
                response = await client.post("/v2/customer", json=body(next(counter)))
                if response.status_code == 429:
                    limited += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                else:
                    done += 1

        await asyncio.gather(*(worker() for _ in range(16)))
    return done, requests, limited


def sequential(url: str, seconds: float) -> tuple[int, int, int]:
    deadline = time.perf_counter() + seconds
    done = requests = limited = 0
    with httpx.Client(base_url=url, auth=AUTH, timeout=30) as client:
        for n in itertools.count():
            if time.perf_counter() >= deadline:
                break
            requests += 1
            response = client.post("/v2/customer", json=body(n))
            if response.status_code == 429:
                limited += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))
            else:
                done += 1
    return done, requests, limited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; sandbox limit {args.rate:.0f} req/s (burst 1 s); "
          f"{args.seconds:.0f} s per measurement")  # fmt: skip
    print(f"{'latency':>8}  {'mode':<26}{'writes/s':>9}{'of limit':>9}{'429 share':>10}")
    seconds, rate = args.seconds, args.rate
    for latency in (5, 40, 200):
        modes = {
            "custsync, known limit": lambda url: asyncio.run(custsync_client(url, rate, seconds)),
            "custsync, unknown limit": lambda url: asyncio.run(custsync_client(url, None, seconds)),
            "naive gather + semaphore": lambda url: asyncio.run(naive_gather(url, args.seconds)),
            "sequential httpx loop": lambda url: sequential(url, args.seconds),
        }  # fmt: skip
        for name, run in modes.items():
            faults = FaultSettings(rate_limit=args.rate, latency_ms=latency)
            with SandboxProcess(users={AUTH[0]: AUTH[1]}, faults=faults) as server:
                done, requests, limited = run(server.url)
            achieved = done / args.seconds
            share = limited / requests if requests else 0.0
            print(
                f"{latency:>6}ms  {name:<26}{achieved:>9.1f}{achieved / rate:>9.1%}{share:>10.2%}"
            )


if __name__ == "__main__":
    main()
