"""Claim: the sandbox is never the bottleneck — >= 1,000 creates/s and >= 2,000 gets/s.

Starts the sandbox (latency and faults off, SQLite file) as its own process, then drives it from
client processes over loopback, each an aiohttp session with keep-alive and C requests in
flight (aiohttp, not httpx, drives it: httpx's AsyncClient slows down as connections grow,
encode/httpx#3215, and would measure itself, not the sandbox). The same load from an
httpx.AsyncClient is printed beside it to show that gap.

    uv run python bench/sandbox_throughput.py [--seconds 10] [--clients 1] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from sandbox.process import SandboxProcess

AUTH = ("bench", "bench-key")


def payload(n: int) -> dict[str, object]:
    return {
        "entity_id": "bench",
        "email_address": f"shopper{n}@example.com",
        "billing": {
            "first_name": "Ann",
            "last_name": f"Lee{n}",
            "address_1": "1 High Street",
            "city": "London",
            "postal_code": "SW1A 1AA",
            "country_code": "GB",
        },
    }


async def drive(
    url: str, kind: str, seconds: float, concurrency: int, ids: list[str], seed: int, lib: str
) -> int:
    done = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(seed * 1_000_000, (seed + 1) * 1_000_000))

    async def run(send: Callable[[int], Awaitable[int]]) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            status = await send(next(counter))
            if status != 200:
                raise RuntimeError(f"{kind}: HTTP {status}")
            done += 1

    if lib == "aiohttp":
        headers = {"Authorization": aiohttp.helpers.BasicAuth(*AUTH).encode()}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(url + "/", connector=connector, headers=headers) as s:

            async def send_aiohttp(n: int) -> int:
                if kind == "create":
                    request = s.post("v2/customer", json=payload(n))
                else:
                    request = s.get(f"v2/customer/{ids[n % len(ids)]}")
                async with request as response:
                    await response.read()
                    return response.status

            await asyncio.gather(*(run(send_aiohttp) for _ in range(concurrency)))
    else:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, auth=AUTH, limits=limits, timeout=30) as c:

            async def send_httpx(n: int) -> int:
                if kind == "create":
                    return (await c.post("/v2/customer", json=payload(n))).status_code
                return (await c.get(f"/v2/customer/{ids[n % len(ids)]}")).status_code

            await asyncio.gather(*(run(send_httpx) for _ in range(concurrency)))
    return done


def client_process(args: tuple[str, str, float, int, list[str], int, str]) -> int:
    return asyncio.run(drive(*args))


def measure(
    url: str, kind: str, seconds: float, clients: int, concurrency: int, ids: list[str], lib: str
) -> float:
    jobs = [(url, kind, seconds, concurrency, ids, seed, lib) for seed in range(clients)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        total = sum(pool.map(client_process, jobs))
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores; {args.clients} client process(es) x "
        f"{args.concurrency} in flight; {args.seconds:.0f} s per measurement"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxProcess(db=f"{tmp}/sandbox.db", users={AUTH[0]: AUTH[1]}) as server,
    ):
        with httpx.Client(base_url=server.url, auth=AUTH) as client:
            ids = [client.post("/v2/customer", json=payload(n)).json()["id"] for n in range(500)]
        rates = {
            (kind, lib): measure(
                server.url, kind, args.seconds, args.clients, args.concurrency, ids, lib
            )
            for lib in ("aiohttp", "httpx")
            for kind in ("create", "get")
        }
        stats = server.stats()
    print(f"{'operation':<10}{'target':>8}{'aiohttp req/s':>15}{'httpx req/s':>13}  verdict")
    for kind, target in (("create", 1000), ("get", 2000)):
        rate = rates[(kind, "aiohttp")]
        verdict = "ok" if rate >= target else "BELOW TARGET"
        print(f"{kind:<10}{target:>8,}{rate:>15,.0f}{rates[(kind, 'httpx')]:>13,.0f}  {verdict}")
    print(
        f"sandbox saw {stats['requests']:,} requests, "
        f"peak concurrency {stats['peak_concurrency']}, "
        f"{stats['customers']:,} customers stored"
    )


if __name__ == "__main__":
    main()
