"""Claim: whatever shape the gateway's rate limit takes, custsync uses it: with the limit
unknown >= 90% of it with < 5% of requests answered 429, with it known (``--rate-limit``)
>= 97% with <= 0.5% 429s — beside a naive asyncio.gather + semaphore client, in one run.

Each cell creates customers for a while against a sandbox of that shape (limit 100 req/s,
40 ms latency) and prints successful creates/s over the run as a share of the limit, the share
of requests refused (429s, and 503s a limit answered), the highest refused share over any 5 s
of the run ("worst 5 s", windows of at least 20 requests), the share over the run's second
half ("last half": the pace it settled at), and the seconds until the client first held 90% of
the limit over two seconds ("settle"). Window shapes, and real gateways counting over a
period, run for three of them at least. Caps on requests in flight without a rate are read
against cap / mean latency, beside the ideal sender that keeps exactly the cap out.

    uv run python bench/rate_limit_shapes.py [--seconds 30] [--only tb-burst-1,fw-60s]
        [--no-naive] [--repeat 3] [--unknown-only]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import math
import os
import sys
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
from sandbox.real_gateways import Gateway, HaproxyGateway, NginxGateway, installed

AUTH = ("bench", "bench-key")
LIMIT = 100.0
LATENCY_MS = 40.0
SAMPLE_S = 0.1
MIN_5S_REQUESTS = 20


async def sampled(
    tally: Tally, started: float, counts: Callable[[], tuple[int, int]], run: Awaitable[None]
) -> None:
    """Run ``run`` while sampling (requests, refused) every SAMPLE_S into ``tally.samples``."""

    async def sample() -> None:
        while True:
            tally.samples.append((time.perf_counter() - started, *counts()))
            await asyncio.sleep(SAMPLE_S)

    sampler = asyncio.create_task(sample())
    try:
        await run
    finally:
        sampler.cancel()
        tally.samples.append((time.perf_counter() - started, *counts()))


def shapes() -> dict[str, FaultSettings]:
    """Every gateway shape of issues 13 and 28 at 100 req/s (the in-flight caps without a rate
    limit admit what the cap allows at the latency)."""

    def shape(**knobs: object) -> FaultSettings:
        knobs.setdefault("rate_limit", LIMIT)
        return FaultSettings(latency_ms=LATENCY_MS, **knobs)  # type: ignore[arg-type]

    fw, sl, count = "fixed-window", "sliding-log", "sliding-count"
    return {
        "tb-burst-1": shape(burst=1),
        "tb-burst-2": shape(burst=2),
        "tb-burst-3": shape(burst=3),
        "tb-burst-10": shape(burst=10),
        "tb-burst-10-date": shape(burst=10, retry_after="date"),
        "tb-burst-10-none": shape(burst=10, retry_after="none"),
        "tb-burst-10-503": shape(burst=10, limit_status=503, retry_after="none"),
        "fw-1s": shape(limiter=fw, window_s=1),
        "fw-1s-phase": shape(limiter=fw, window_s=1, window_phase=0.37),
        "fw-1s-503": shape(
            limiter=fw, window_s=1, window_phase=0.37, limit_status=503, retry_after="none"
        ),
        "fw-1s-ietf": shape(limiter=fw, window_s=1, window_phase=0.37, limit_headers="ietf"),
        "fw-10s": shape(limiter=fw, window_s=10),
        "fw-10s-phase": shape(limiter=fw, window_s=10, window_phase=3.7),
        "fw-10s-none": shape(limiter=fw, window_s=10, retry_after="none"),
        "fw-10s-xrl": shape(limiter=fw, window_s=10, window_phase=3.7, limit_headers="x-ratelimit"),
        # Nothing said when refusing; the IETF draft's single field, -07's and -08's shapes.
        "fw-10s-none-dict": shape(
            limiter=fw, window_s=10, window_phase=3.7, retry_after="none", limit_headers="ietf-dict"
        ),
        "fw-10s-none-list": shape(
            limiter=fw, window_s=10, window_phase=3.7, retry_after="none", limit_headers="ietf-list"
        ),
        "fw-60s": shape(limiter=fw, window_s=60),
        "sliding-1s": shape(limiter=sl, window_s=1),
        "sliding-1s-date": shape(limiter=sl, window_s=1, retry_after="date"),
        "sliding-10s": shape(limiter=sl, window_s=10),
        "count-10s": shape(limiter=count, window_s=10, window_phase=2.3, retry_after="none"),
        "in-flight-5": shape(burst=10, max_in_flight=5),
        "in-flight-8": shape(rate_limit=None, max_in_flight=8, retry_after="none"),
        "in-flight-8-503": shape(
            rate_limit=None, max_in_flight=8, retry_after="none", limit_status=503
        ),
        # Answers in 40-80 ms, as real APIs vary: slow answers overlap and meet the cap.
        "in-flight-8-jitter": shape(
            rate_limit=None, max_in_flight=8, retry_after="none", latency_jitter_ms=LATENCY_MS
        ),
    }


@dataclass(frozen=True)
class RealGateway:
    """Real gateway software in front of a sandbox without a limit of its own."""

    make: Callable[[str], Gateway]
    admits: float  # requests a second it lets through, at most
    window_s: float | None = None  # a count over a period: run three of them at least


def real_gateways() -> dict[str, RealGateway]:
    """nginx and HAProxy, configured across the range people configure them (their default
    refusal statuses: nginx 503, HAProxy's deny as configured)."""
    return {
        "nginx-req-b10": RealGateway(lambda r: NginxGateway(r, rate=LIMIT, burst=10), LIMIT),
        "nginx-req-b10-nodelay": RealGateway(
            lambda r: NginxGateway(r, rate=LIMIT, burst=10, nodelay=True), LIMIT),
        "nginx-req-b3-nodelay": RealGateway(
            lambda r: NginxGateway(r, rate=LIMIT, burst=3, nodelay=True), LIMIT),
        "nginx-req-429": RealGateway(
            lambda r: NginxGateway(r, rate=LIMIT, burst=20, nodelay=True, status=429), LIMIT),
        "nginx-conn-8": RealGateway(
            lambda r: NginxGateway(r, connections=8), 8 * 1000 / LATENCY_MS),
        "haproxy-10s": RealGateway(
            lambda r: HaproxyGateway(r, limit=int(LIMIT * 10), period_s=10), LIMIT, 10.0),
        "haproxy-1s-503": RealGateway(
            lambda r: HaproxyGateway(r, limit=int(LIMIT), period_s=1, status=503), LIMIT, 1.0),
    }  # fmt: skip


def admits(settings: FaultSettings) -> float:
    """Creates a second the gateway admits: its rate limit, or what an in-flight cap allows at
    the latency (the ideal sender's ceiling: always exactly the cap in flight)."""
    if settings.rate_limit is not None:
        return settings.rate_limit
    assert settings.max_in_flight is not None
    return settings.max_in_flight * 1000 / (settings.latency_ms + settings.latency_jitter_ms / 2)


def body(n: int) -> dict[str, object]:
    return {"entity_id": "rl", "email_address": f"r{n}@example.com",
            "billing": {"first_name": "Ann", "last_name": f"Lee{n}"}}  # fmt: skip


@dataclass
class Tally:
    seconds: float
    requests: int = 0
    limited: int = 0  # refused by the gateway: 429s, and 503s a limit answered
    successes: list[float] = field(default_factory=list)
    limit: float = LIMIT
    # (seconds into the run, requests, refused) every SAMPLE_S: the refused share over 5 s
    samples: list[tuple[float, int, int]] = field(default_factory=list)

    def fraction(self) -> float:
        return len(self.successes) / self.seconds / self.limit

    def settled(self) -> float:
        """Successes a second over the run's second half, as a share of the limit: the pace
        it settled at, its start (slow start, the first window) left out."""
        half = self.seconds / 2
        return sum(1 for t in self.successes if t >= half) / half / self.limit

    def share_429(self) -> float:
        return self.limited / self.requests if self.requests else 0.0

    def worst_5s(self) -> float:
        """The highest refused share over any 5 s of the run (windows of at least
        ``MIN_5S_REQUESTS`` requests: a wall's handful of probes is no storm)."""
        times = [t for t, _, _ in self.samples]
        worst = 0.0
        for t, requests, limited in self.samples:
            j = bisect.bisect_left(times, t + 5.0)
            if j >= len(self.samples):
                break
            sent = self.samples[j][1] - requests
            if sent >= MIN_5S_REQUESTS:
                worst = max(worst, (self.samples[j][2] - limited) / sent)
        return worst

    def timeline(self) -> str:
        """Requests and refusals each second (BENCH_TIMELINE=1, on stderr)."""
        rows, last = [], (0, 0)
        for second in range(math.ceil(self.samples[-1][0]) if self.samples else 0):
            at = [s for s in self.samples if s[0] <= second + 1]
            now = at[-1][1:] if at else (0, 0)
            rows.append(f"{second}:{now[0] - last[0]}/{now[1] - last[1]}")
            last = now
        return " ".join(rows)

    def settle_s(self) -> float | None:
        """First moment from which two seconds held >= 90% of the limit."""
        times = sorted(self.successes)
        for i, start in enumerate(times):
            if bisect.bisect_left(times, start + 2.0) - i >= 0.9 * 2 * self.limit:
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

        def counts() -> tuple[int, int]:
            by_status = api.counters.by_status
            return api.counters.requests, by_status.get(429, 0) + by_status.get(503, 0)

        workers = asyncio.gather(*(worker() for _ in range(concurrency)))
        await sampled(tally, started, counts, workers)
    tally.requests, tally.limited = counts()
    return tally


async def plain_senders(url: str, seconds: float, workers: int, wait_out: bool) -> Tally:
    """``workers`` loops of one create after another, no pacer; on a refusal, ``wait_out``
    sleeps its Retry-After (or 1 s) as a naive client does, else the next goes at once."""
    tally = Tally(seconds)
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds
    limits = httpx.Limits(max_connections=workers)
    async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=30, limits=limits,
                                 trust_env=False) as client:  # fmt: skip

        async def worker() -> None:
            while time.perf_counter() < deadline:
                tally.requests += 1
                response = await client.post("/v2/customer", json=body(next(counter)))
                if response.status_code in (429, 503):
                    tally.limited += 1
                    if wait_out:
                        wait = response.headers.get("Retry-After", "1")
                        await asyncio.sleep(float(wait) if wait.isdigit() else 1.0)
                elif time.perf_counter() <= deadline:
                    tally.successes.append(time.perf_counter() - started)

        senders = asyncio.gather(*(worker() for _ in range(workers)))
        await sampled(tally, started, lambda: (tally.requests, tally.limited), senders)
    return tally


async def naive_gather(url: str, seconds: float) -> Tally:
    """A semaphore of 16 and asyncio.gather; on 429, sleep Retry-After (or 1 s) and retry."""
    return await plain_senders(url, seconds, 16, wait_out=True)


async def ideal_in_flight(url: str, seconds: float, cap: int) -> Tally:
    """The ideal sender for a cap on requests in flight: exactly ``cap`` out at every moment
    (it knows the cap), each answered request followed at once by the next."""
    return await plain_senders(url, seconds, cap, wait_out=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--only", default="", help="comma-separated shape names")
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each cell (the spread)")
    parser.add_argument("--unknown-only", action="store_true", help="custsync, limit unknown")
    args = parser.parse_args()
    wanted = {s for s in args.only.split(",") if s}
    print(f"machine: {os.cpu_count()} cores; limit {LIMIT:.0f} req/s, latency "
          f"{LATENCY_MS:.0f} ms; successes/s over each run as a share of the limit")  # fmt: skip
    print(f"{'shape':<24}{'client':<26}{'s':>5}{'of limit':>18}{'last half':>19}{'refused':>19}"
          f"{'worst 5 s':>16}{'settle s':>10}")  # fmt: skip
    modes: dict[str, Callable[[str, float], Awaitable[Tally]]] = {
        "custsync, limit known": lambda url, s: custsync_client(url, LIMIT, s),
        "custsync, limit unknown": lambda url, s: custsync_client(url, None, s),
    }
    if args.unknown_only:
        del modes["custsync, limit known"]
    if not args.no_naive:
        modes["naive gather+semaphore"] = naive_gather
    cells: list[tuple[str, FaultSettings, RealGateway | None]] = [
        (name, settings, None) for name, settings in shapes().items()
    ]
    bare = FaultSettings(latency_ms=LATENCY_MS)
    for name, gateway in real_gateways().items():
        if installed(name.split("-")[0]):
            cells.append((name, bare, gateway))
    for name, settings, gateway in cells:
        if wanted and name not in wanted:
            continue
        seconds = args.seconds
        window_s = settings.window_s if gateway is None else gateway.window_s
        if window_s is not None and (gateway is not None or settings.limiter != "token-bucket"):
            seconds = window_s * max(3, math.ceil(args.seconds / window_s))  # three at least
        cap = settings.max_in_flight if gateway is None else (8 if "conn-8" in name else None)
        cell_modes = dict(modes)
        if settings.rate_limit is None and cap is not None:
            # What the cap admits in practice (latency and overhead), beside cap / latency.
            cell_modes["ideal: exactly the cap out"] = (
                lambda url, s, c=cap: ideal_in_flight(url, s, c))  # fmt: skip
        for mode, run in cell_modes.items():
            no_rate = settings.rate_limit is None and (gateway is None or "conn" in name)
            if no_rate and "known" in mode and "unknown" not in mode:
                continue  # no rate limit to know
            tallies = []
            for _ in range(args.repeat):
                with SandboxProcess(users=dict([AUTH]), faults=settings) as server:
                    if settings.limiter == "fixed-window" and settings.rate_limit is not None:
                        # Start as a window opens, run whole windows: the budget is then
                        # exactly the limit times the run (mid-window gets an extra one).
                        window, phase = settings.window_s, settings.window_phase
                        time.sleep(window - (time.time() - phase) % window)
                    if gateway is None:
                        tally = asyncio.run(run(server.url, seconds))
                        tally.limit = admits(settings)
                    else:
                        with gateway.make(server.root) as front:
                            tally = asyncio.run(run(front.url, seconds))
                        tally.limit = gateway.admits
                tallies.append(tally)
                if os.environ.get("BENCH_TIMELINE"):
                    print(tally.timeline(), file=sys.stderr)
            fractions = sorted(t.fraction() for t in tallies)
            halves = sorted(t.settled() for t in tallies)
            refused = sorted(t.share_429() for t in tallies)
            worst = sorted(t.worst_5s() for t in tallies)
            settles = [t.settle_s() for t in tallies]
            settle = max((x for x in settles if x is not None), default=None)
            spread = lambda v, f: (f"{f(v[len(v) // 2])}" if len(v) == 1  # noqa: E731
                                   else f"{f(v[len(v) // 2])} ({f(v[0])}-{f(v[-1])})")  # fmt: skip
            print(f"{name:<24}{mode:<26}{seconds:>5.0f}"
                  f"{spread(fractions, lambda x: f'{x:.0%}'):>18}"
                  f"{spread(halves, lambda x: f'{x:.0%}'):>19}"
                  f"{spread(refused, lambda x: f'{x:.1%}'):>19}"
                  f"{spread(worst, lambda x: f'{x:.0%}'):>16}"
                  f"{'-' if settle is None else f'{settle:.1f}':>10}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
