"""Claim measured: what any client on this machine can get from a token bucket with a burst of
1 (issue 13's hardest shape), beside custsync's pacer.

A bucket of burst 1 refuses any request that arrives less than one interval (1/R) after the
last one it admitted: the arrival times at the gateway must be spaced to the microsecond
level, and they are the client's send times plus the jitter of the kernel, the loopback and
the gateway's own event loop. The *ideal sender* here has none of custsync's costs: one thread,
busy-waiting on ``time.perf_counter`` to the exact slot, writing a ready-made request on one of
a ring of keep-alive sockets, reading answers between slots without blocking. Whatever it
cannot reach is the floor set by the machine and the gateway, not by the pacer.

For each pace (a share of the limit R) it prints the share of R admitted and the share of
requests answered 429; then custsync's ``RequestPacer`` (limit known) on the same sandbox.

    uv run python bench/burst_one_floor.py [--seconds 15] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import select
import socket
import time
import uuid
from urllib.parse import urlsplit

from bench.rate_limit_shapes import AUTH, LATENCY_MS
from connectors.api.client import CustomerApi
from connectors.api.pacing.pacer import RequestPacer
from connectors.api.targets import Credentials
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess

RING = 16  # keep-alive sockets, used in turn: each has one request out at most


def ideal(url: str, rate: float, seconds: float) -> tuple[int, int]:
    """(admitted, refused) by the ideal sender at ``rate`` for ``seconds``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    requests = [
        (f"GET {parts.path}/v2/customer/{uuid.uuid4()} HTTP/1.1\r\nHost: {host}:{port}\r\n"
         f"Authorization: Basic {token}\r\n\r\n").encode()
        for _ in range(RING)
    ]  # fmt: skip
    sockets = [socket.create_connection((host, port)) for _ in range(RING)]
    for sock in sockets:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
    buffers = {sock: b"" for sock in sockets}
    out = {sock: False for sock in sockets}
    statuses: list[int] = []
    interval = 1.0 / rate
    start = time.perf_counter() + 0.5
    end = start + seconds
    slot, turn = start, 0
    while True:
        now = time.perf_counter()
        if now >= slot and slot < end:
            sock = sockets[turn % RING]
            if not out[sock]:  # a socket still waiting for its answer is skipped: never two
                sock.sendall(requests[turn % RING])
                out[sock] = True
            turn += 1
            slot += interval
            continue
        if slot >= end and not any(out.values()):
            break
        if slot - now > 0.0005 or slot >= end:  # read only when the next slot is not close
            readable, _, _ = select.select([s for s in sockets if out[s]], [], [], 0)
            for sock in readable:
                buffers[sock] += sock.recv(65536)
                head, sep, rest = buffers[sock].partition(b"\r\n\r\n")
                if not sep:
                    continue
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), 0)  # fmt: skip
                if len(rest) >= length:
                    statuses.append(int(head.split(b" ")[1]))
                    buffers[sock] = rest[length:]
                    out[sock] = False
    for sock in sockets:
        sock.close()
    refused = statuses.count(429)
    return len(statuses) - refused, refused


def pacer(url: str, rate: float, seconds: float) -> tuple[int, int]:
    """(admitted, refused) by custsync's client and pacer with the limit known."""

    async def go() -> tuple[int, int]:
        credentials = Credentials(user_uid=AUTH[0], api_key=AUTH[1])
        async with CustomerApi(url, credentials, pacer=RequestPacer(rate)) as api:
            end = time.monotonic() + seconds

            async def worker() -> None:
                while time.monotonic() < end:
                    await api.get(str(uuid.uuid4()))

            await asyncio.gather(*(worker() for _ in range(16)))
            by_status = api.counters.by_status
            refused = by_status.get(429, 0)
            return sum(by_status.values()) - refused, refused

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    faults = FaultSettings(rate_limit=args.rate, burst=1, latency_ms=LATENCY_MS)
    print(f"machine: {os.cpu_count()} cores; sandbox: token bucket {args.rate:.0f} req/s, "
          f"burst 1, {LATENCY_MS:.0f} ms latency; {args.seconds:.0f} s each")  # fmt: skip
    print(f"{'sender':<34}{'pace':>8}{'of limit':>10}{'429 share':>11}")
    with SandboxProcess(users=dict([AUTH]), faults=faults) as server:
        for share in (0.90, 0.95, 0.97, 0.99):
            admitted, refused = ideal(server.url, args.rate * share, args.seconds)
            print(f"{'ideal (busy-wait, one thread)':<34}{share:>8.0%}"
                  f"{admitted / args.seconds / args.rate:>10.1%}"
                  f"{refused / max(1, admitted + refused):>11.2%}", flush=True)  # fmt: skip
        admitted, refused = pacer(server.url, args.rate, args.seconds)
        print(f"{'custsync RequestPacer (known)':<34}{'auto':>8}"
              f"{admitted / args.seconds / args.rate:>10.1%}"
              f"{refused / max(1, admitted + refused):>11.2%}")  # fmt: skip


if __name__ == "__main__":
    main()
