"""One API budget for every run that sends to the same target with the same credentials.

Runs share it through the state store they share (PostgreSQL across machines, SQLite between
the processes of one machine) by *leases of rate*, not a bucket per request: each run renews
its lease every ``BEAT_S`` (one upsert and one read) and paces itself locally (its own
``RequestPacer``) within the share the leases give it. A shared bucket in the database
(PyrateLimiter's PostgreSQL and SQLite buckets) costs a round trip per request: at 100 req/s
over three runs that is 300 transactions a second against the store the journal also writes
to, and every request waits for one (``bench/shared_budget.py`` measures both).

- **Known limit** (``--rate-limit R``, the total for the target): R is divided among the live
  runs, max-min fair by what each can use (a run that needs little leaves the rest to others).
- **Unknown limit**: each run finds the limit as it would alone; a 429 drawn by one run is in
  its lease at its next beat (at once: a 429 cuts the wait short), and every other run slows
  down by the same rule, to its share of what got through in all. A wall (a spent window)
  one run found holds the others too.
- A run that stops gives its share back at once; one that is killed, when its lease lapses
  (``connectors/state/budget.py``: 3 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from connectors.api_config import Credentials
from connectors.rate_limit import KNOWN_SHARE, RequestPacer
from connectors.state.budget import BudgetLeases, Lease
from connectors.state.db import connect

log = logging.getLogger("custsync.budget")

BEAT_S = 0.5


def budget_key(base_url: str, credentials: Credentials) -> str:
    """Which budget a run draws on: its target and whose credentials (a digest: the store
    never holds a key or token, nor needs to)."""
    who = credentials.user_uid or credentials.access_token or ""
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{who}".encode()).hexdigest()[:32]


def allocate(total: float, wants: list[float | None]) -> list[float]:
    """Max-min fair shares of ``total``: nobody is held to less than its fair part of what it
    can use (``None``: any amount); what one leaves goes to the rest."""
    shares = [0.0] * len(wants)
    remaining = total

    def appetite(index: int) -> float:
        value = wants[index]
        return float("inf") if value is None else value

    order = sorted(range(len(wants)), key=appetite)
    for position, index in enumerate(order):
        fair = remaining / (len(order) - position)
        wanted = wants[index]
        shares[index] = fair if wanted is None else min(float(wanted), fair)
        remaining -= shares[index]
    # What nobody wants now is split too: a share is a cap, and a run whose need grows must
    # not wait for the next beat to use an idle budget.
    return [share + remaining / len(shares) for share in shares]


class SharedBudget:
    """This run's lease on its target's budget, renewed in the background of the run's loop."""

    def __init__(
        self,
        location: str,
        key: str,
        run_id: str,
        pacer: RequestPacer,
        wall_clock: Callable[[], float] = time.time,
        beat_s: float = BEAT_S,
    ) -> None:
        self.location = location
        self.key = key
        self.run_id = run_id
        self.pacer = pacer
        self.peers = 1
        self._wall_clock = wall_clock
        self._beat_s = beat_s
        # The store's connection lives on one thread of its own: a beat never blocks the loop,
        # and SQLite connections stay on the thread that made them.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="custsync-budget")
        self._leases: BudgetLeases | None = None
        self._task: asyncio.Task[None] | None = None
        self._news = asyncio.Event()
        self._seen_429 = wall_clock()  # the latest peer 429 acted upon (epoch)
        pacer.on_refusal = self._news.set  # a 429: tell the others now, not at the next beat

    def start(self) -> None:
        """Begin beating (call inside the run's loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop beating and give the share back."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._release)
        self._thread.shutdown(wait=True)

    # -- the beat ------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.beat_once(loop)
            except Exception as exc:  # the budget must never stop a run
                # The store unreachable for a moment: pace alone until it answers again.
                log.debug("budget beat failed: %s", type(exc).__name__)
            self._news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), self._beat_s)

    async def beat_once(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Renew the lease and apply what the peers' leases say."""
        loop = loop or asyncio.get_running_loop()
        lease = self._lease()
        leases = await loop.run_in_executor(self._thread, self._beat, lease)
        self.apply(leases, lease)

    def _lease(self) -> Lease:
        admitted, wants, last_429 = self.pacer.snapshot()
        now, mono = self._wall_clock(), self.pacer.now()
        own_429 = None if last_429 is None else now - (mono - last_429)
        wall = self.pacer.wall_until
        return Lease(self.run_id, now, admitted, wants, own_429,
                     None if wall is None else now + (wall - mono))  # fmt: skip

    def apply(self, leases: list[Lease], own: Lease) -> None:
        """Set this run's allocation from the live leases; follow a peer's 429 or wall."""
        others = [lease for lease in leases if lease.run_id != self.run_id]
        if len(others) + 1 < self.peers and self.pacer.limit is None:
            # A run left: its part of the limit is free, and the ceiling this run learned
            # while sharing is too low now: probe quickly again.
            self.pacer.ceiling = None
        self.peers = len(others) + 1
        everyone = [own, *others]
        now, mono = own.heartbeat, self.pacer.now()
        limit = self.pacer.limit
        if limit is not None:
            shares = allocate(limit * KNOWN_SHARE, [lease.wants for lease in everyone])
            self.pacer.allot(shares[0])
        for lease in others:
            if lease.last_429 is not None and lease.last_429 > self._seen_429:
                self._seen_429 = lease.last_429
                if now - lease.last_429 < 2 * self._beat_s + 1.0:
                    # The limit is shared: slow down to just under this run's part of it.
                    self.pacer.on_peer_rate_limited(own.admitted)
            if lease.wall_until is not None and lease.wall_until > now:
                self.pacer.hold_until(mono + (lease.wall_until - now))

    def _beat(self, lease: Lease) -> list[Lease]:
        if self._leases is None:
            self._leases = BudgetLeases(connect(self.location))
        return self._leases.beat(self.key, lease)

    def _release(self) -> None:
        if self._leases is None:
            return
        try:
            self._leases.release(self.key, self.run_id)
        except Exception as exc:  # the lease lapses by itself anyway
            log.debug("budget release failed: %s", type(exc).__name__)
        finally:
            self._leases.close()
            self._leases = None
