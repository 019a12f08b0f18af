"""One API budget for every run that sends to the same target with the same credentials.

Runs share it through the state store they share (PostgreSQL across machines, SQLite between
the processes of one machine) by *leases of rate*, not a bucket per request: each run renews
its lease every ``beat_s`` (one upsert and one read) and paces itself locally (its own
``RequestPacer``) within the share the leases give it. A shared bucket in the database
(PyrateLimiter's PostgreSQL and SQLite buckets) costs a round trip per request: at 100 req/s
over three runs that is 300 transactions a second against the store the journal also writes
to, and every request waits for one (``bench/shared_budget.py`` measures both).

- **Known limit** (``--rate-limit R``, the total for the target): R is divided among the live
  runs, max-min fair by what each can use (a run that needs little leaves the rest to others).
  Each lease says the share its run paces at; a run's share grows only into what the others'
  leases leave (a decrease at once), so runs that read each other a beat apart never add up
  to more than R.
- **Unknown limit**: until the first 429 each run finds the limit as it would alone. The run
  that draws a 429 publishes, in its lease, what all the runs together got through a second
  at that moment (read from the leases): the target's limit, *found*. From then on the runs
  divide it like a known limit, just under it (``backoff``), probing up together until the
  next 429 finds it again: a rough finding (the first, or one far from the last) quickly, a
  confirmed one gently and never far past it (``found_pace``). So a 429 one run draws
  reaches the others at the next beat, a run that joins gets what the others leave at its
  first beat and its fair part at its second (they learn of it at theirs, in between), and
  one that leaves hands its part to the others at theirs, not after seconds of probing.
  A wall (a spent window) one run found holds the others too.
- A run that stops gives its share back at once; one that is killed, when its lease lapses
  (``connectors/state/budget.py``: 3 s).
- The newest finding is also kept in the store past the leases: a run that starts when no live
  run holds one (a killed shard's replacement, the next night) starts just under it instead of
  from a slow start (``BudgetTuning.kept_s``: an hour), and stays under ``kept_most`` of it
  until a 429 says more (``found_pace``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from connectors.api.pacing.pacer import RequestPacer
from connectors.api.targets import Credentials
from connectors.state.budget import Lease
from connectors.state.store import StateStore, StoreOpener
from connectors.tuning import DEFAULTS, Tuning

log = logging.getLogger("custsync.budget")

# Its values (connectors/tuning.py's BudgetTuning): a beat each half second; a volley of 429s
# from requests already in flight is one finding (found_every_s); a finding this close to the
# last one confirms it (settled); a confirmed finding is probed gently (found_pace).


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


def found_pace(
    found: float, age_s: float, tuning: Tuning = DEFAULTS, kept: bool = False,
    rough: bool = False, through: float = 0.0, full_s: float = 0.0,
) -> float | None:  # fmt: skip
    """What all the runs together may send ``age_s`` after they found the limit at ``found``,
    having got ``through`` a second together lately. A ``rough`` finding (the first, read while
    the runs were still speeding up, or one far from the last) is probed quickly (25% each half
    second) past what gets through, and forgotten (None) at twice it without a 429: each run
    probes on its own again.

    A confirmed one is the limit: just under it, probing up gently (1% a second), never more
    than ``probe_over`` past just under it, or past what got through, whichever is more (a
    token bucket's 429 reads the pace that drained it, a little over its rate: ``probe_over``
    past the finding itself drew seconds of 112-117 of a limit of 100). What got through
    counts only once the runs have got all of it through for ``full_s`` >= ``risen_after_s``
    (a bucket filled in a dip is drained by then). Probed by the clock instead (quickly after
    15 s), runs that had sent under it for a while (a shard searching, one ending) let a
    gateway's bucket fill, and the probes drew seconds of 1.2-1.7x the limit from it; with the
    cap alone, what got through grew with each probe while the bucket drained (seconds of
    116, 131, 146 of 100: ``bench/RESULTS.md``). A limit that rose is followed at 1% a
    second, and a 429 then makes a new finding.

    A ``kept`` finding (the store's, started from by a killed shard's replacement) was the
    limit a while ago: no more than ``kept_most`` of it for ``kept_gentle_s`` (replacements
    probed quickly sent 1.38x the limit for a second, which a gateway's bucket, full after the
    stall, admitted), then as a confirmed one."""
    pacer, budget = tuning.pacer, tuning.budget
    age_s = max(0.0, age_s)
    if rough:
        pace = found * pacer.backoff * budget.quick_probe ** (age_s / pacer.fast_probe_s)
        # Past what got through by one probe at most: runs behind a wall send nothing, and a
        # pace grown by the clock meanwhile forgot the finding (twice it, "passed") and
        # slow-started six runs at once into the gateway's refilled bucket (197 a second).
        # Nor a probe past the finding by itself: read in a slow start, it holds the bucket's
        # burst (142 of 100), and 1.25x it sent 172 a second while 34-58 got through.
        pace = min(pace, max(found * pacer.backoff, through * budget.quick_probe))
        return None if pace > budget.stale_found * found else pace
    pace = found * pacer.backoff * float(pacer.slow_probe**age_s)
    if kept and age_s <= budget.kept_gentle_s:
        pace = min(pace, found * budget.kept_most)
    if full_s < budget.risen_after_s:
        # Not yet what got through: a bucket filled while the runs sent under the finding (a
        # worker killed, shards searching) admits a pace past the limit until it is drained,
        # and the cap, raised by what got through, let the clock's probe climb on through
        # it: seconds of 111-118 of a limit of 100 for 10 s after every dip.
        through = 0.0
    return min(pace, max(found * pacer.backoff, through) * budget.probe_over)


class SharedBudget:
    """This run's lease on its target's budget, renewed in the background of the run's loop."""

    def __init__(
        self,
        store: StoreOpener,
        key: str,
        run_id: str,
        pacer: RequestPacer,
        wall_clock: Callable[[], float] = time.time,
        tuning: Tuning = DEFAULTS,
    ) -> None:
        self._open_store = store
        self._tuning = tuning
        self.key = key
        self.run_id = run_id
        self.pacer = pacer
        self.peers = 1
        self._wall_clock = wall_clock
        self._beat_s = tuning.budget.beat_s
        # The store's connection lives on one thread of its own: a beat never blocks the loop,
        # and SQLite connections stay on the thread that made them.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="custsync-budget")
        self._store: StateStore | None = None
        self._task: asyncio.Task[None] | None = None
        self._news = asyncio.Event()
        self._seen_429 = wall_clock()  # the latest peer 429 acted upon (epoch)
        self._published_429 = 0.0  # this run's latest 429 that made a finding (epoch)
        self._found: tuple[float, float] | None = None  # the newest finding: (found, epoch)
        self._found_rough = False  # not confirmed by a second finding near it
        self._found_kept = False  # it is the store's kept finding, not one of this migration's
        self._beats = 0  # beats applied: the first one's share waits for the others to see it
        self._full_since = wall_clock()  # since when the runs got all of the finding through
        # This beat's 429 making a finding: the finding before it, whether it was rough and
        # kept, and the 429.
        self._publishing: tuple[tuple[float, float] | None, bool, bool, float] | None = None
        self._kept: float | None = None  # the finding this run last kept in the store
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
        leases, kept = await loop.run_in_executor(self._thread, self._beat, lease)
        if self._publishing is not None:
            # A finding is what every run got through at the 429, and the peers' figures this
            # run held were up to a beat old. In a volley (every run refused at once, each
            # beating at once) the first to beat read its starting peers' leases, 0, and the
            # newest finding, 20 of a limit of 100, drew a slow start again (seconds of 166).
            # So the beat that renews the lease does not carry it (a peer reading it between
            # two writes kept 36 where 206 followed, at the same time); it is read from the
            # leases just read, and written by one more beat, only when a finding is made.
            self._finding(lease.admitted, leases, self._publishing)
            self._publishing = None
            lease = self._with_found(lease)
            leases, _ = await loop.run_in_executor(self._thread, self._beat, lease)
        if kept is not None:
            self._start_from(kept, lease.heartbeat, leases)
        self.apply(leases, lease)

    def _start_from(self, kept: tuple[float, float], now: float, leases: list[Lease]) -> None:
        """The first beat: no live run holds a finding, but the store kept the last one (a
        killed shard's replacement, the next night): start just under it, probing gently,
        rather than from a slow start that overshoots and finds it again."""
        found, found_at = kept
        if (self._found is not None or self.pacer.limit is not None
                or now - found_at > self._tuning.budget.kept_s):  # fmt: skip
            return
        live = [
            lease.found_at
            for lease in leases
            if lease.run_id != self.run_id and lease.found is not None and lease.found_at
        ]
        if any(lease.found != found or lease.found_at == found_at for lease in leases
               if lease.found is not None and lease.run_id != self.run_id):  # fmt: skip
            # A finding of the live runs' own, newer, or the very one kept (a shard that
            # started before the others found it): apply() takes it, rough or not. Taken as
            # kept (confirmed), a rough one a run alone had long probed past held the newcomer
            # to its share while the first paced alone at all of it (seconds of 121-130).
            return
        # Alone, or beside runs started from the same kept finding (a killed worker's other
        # shards): as they do, and from the newest start among them.
        self._found = (found, max(live, default=now))
        self._found_kept = True
        if self.pacer.slow_start:
            self.pacer.slow_start = False
            self.pacer.rate = found * self._tuning.pacer.backoff
            self.pacer.ceiling = found
            self.pacer.ceiling_sure = True  # kept: confirmed by the runs before

    def _lease(self) -> Lease:
        admitted, wants, last_429 = self.pacer.snapshot()
        now, mono = self._wall_clock(), self.pacer.now()
        own_429 = None if last_429 is None else now - (mono - last_429)
        wall = self.pacer.wall_until
        if (
            own_429 is not None
            and own_429 - self._published_429 >= self._tuning.budget.found_every_s
            and wall is None  # behind a wall nothing got through: no news about the limit
        ):
            self._published_429 = own_429
            self._publishing = (self._found, self._found_rough, self._found_kept, own_429)
        # Known limit: the share this run paces at, for the others to grow only into what it
        # no longer holds (before its first share, the pace it started at: the whole limit's).
        held = None if self.pacer.limit is None else (self.pacer.allocation or self.pacer.rate)
        return self._with_found(Lease(self.run_id, now, admitted, wants, own_429,
                                      None if wall is None else now + (wall - mono),
                                      allotted=held))  # fmt: skip

    def _with_found(self, lease: Lease) -> Lease:
        found, found_at = self._found if self._found is not None else (None, None)
        return replace(lease, found=found, found_at=found_at, found_rough=self._found_rough)

    def _finding(
        self, admitted: float, leases: list[Lease],
        publishing: tuple[tuple[float, float] | None, bool, bool, float],
    ) -> None:  # fmt: skip
        """Make this run's 429 a finding: what every run got through a second (the peers'
        ``leases`` as just read), rough or confirmed."""
        last, last_rough, last_kept, own_429 = publishing
        for lease in leases:  # a peer's finding this run has not applied yet
            if (lease.run_id != self.run_id and lease.found is not None
                    and lease.found_at is not None and lease.found_at <= own_429
                    and (last is None or lease.found_at > last[1])):  # fmt: skip
                last, last_rough, last_kept = (
                    (lease.found, lease.found_at),
                    lease.found_rough,
                    False,
                )
        peers = sum(lease.admitted for lease in leases if lease.run_id != self.run_id)
        through = max(1.0, admitted + peers)
        # A finding near the last is the limit: probe up from it gently. Any other (the first,
        # read while the runs are still speeding up, or a limit that moved) is rough: probe
        # quickly at once. One of the same volley (a peer's 429 within found_every_s, read from
        # the same moment) confirms nothing: it is that finding read again.
        same_volley = (
            last is not None and not last_kept
            and own_429 - last[1] < self._tuning.budget.found_every_s
        )  # fmt: skip
        near = last is not None and abs(through / last[0] - 1.0) < self._tuning.budget.settled
        # (Far from it, even within the volley, it is rough: 0.7 s after a finding of 298, read
        # as a full bucket drained, the next read 60, and kept the first one's confirmation.)
        rough = last_rough if same_volley and near else not near
        self._found = (through, own_429)
        self._found_rough = rough
        self._found_kept = False

    def apply(self, leases: list[Lease], own: Lease) -> None:
        """Set this run's allocation from the live leases; follow a peer's 429 or wall."""
        others = [lease for lease in leases if lease.run_id != self.run_id]
        everyone = [own, *others]
        now, mono = own.heartbeat, self.pacer.now()
        for lease in others:
            if lease.found is None or lease.found_at is None:
                continue
            if self._found is None or lease.found_at > self._found[1]:
                # A peer started from the same kept finding publishes it as its own.
                self._found_kept = (
                    self._found_kept and self._found is not None and lease.found == self._found[0]
                )
                self._found = (lease.found, lease.found_at)
                self._found_rough = lease.found_rough
        limit = self.pacer.limit
        if limit is not None:
            total = limit * self._tuning.pacer.known_share
            shares = allocate(total, [lease.wants for lease in everyone])
            self.pacer.allot(self._held_by_others(self._joining(shares[0], total, others),
                                                  total, others))  # fmt: skip
        else:
            self._share_found(now, everyone, left=len(others) + 1 < self.peers)
        self._beats += 1
        self.peers = len(others) + 1
        for lease in others:
            if lease.last_429 is not None and lease.last_429 > self._seen_429:
                self._seen_429 = lease.last_429
                fresh = now - lease.last_429 < 2 * self._beat_s + 1.0
                if fresh and self._found is None:
                    # No finding to share (a 429 behind a wall): slow down to just under
                    # this run's part of what got through, as for a 429 of its own.
                    self.pacer.on_peer_rate_limited(own.admitted)
            if lease.wall_until is not None and lease.wall_until > now:
                self.pacer.hold_until(mono + (lease.wall_until - now))

    def _joining(self, share: float, total: float, others: list[Lease]) -> float:
        """This run's share, or at its first beat only what the others leave unused: they
        learn of it at their next beats, up to ``beat_s`` later, and meanwhile still send
        their old shares. Shards joining one by one each added a share for that long (seconds
        of 115-121 of a limit of 100 as a migration's runs started, 116-138 as a killed
        worker's replacements joined the live shards).

        What a run leaves is what it said it wants less than its share; one held back by its
        share (wants None) uses all of it, whatever it got through lately: two shards joining
        runs in a dip (26 a second of shares of 35.8) took that gap on top of the shares, and
        the API saw 160 in a second of a limit of 100."""
        if self._beats or not others:
            return share
        wanted = [lease.wants for lease in others]  # (a run wants more than it got through)
        unused = 0.0 if None in wanted else total - sum(w for w in wanted if w is not None)
        return max(self._tuning.pacer.min_rate, min(share, unused))

    def _held_by_others(self, share: float, total: float, others: list[Lease]) -> float:
        """Known limit: a share grows only into what the others no longer hold (their leases'
        shares), a decrease is taken at once. Shares are set from leases up to a beat old:
        the first shard's run said it wanted 1 before it sent anything, the next read that
        and took half while the first still paced at all of it (130 in a second of 100).
        A joiner's share so comes in two or three beats, as the others publish theirs."""
        held = [lease.allotted for lease in others]
        if not others or None in held:  # a custsync before leases told their shares
            return share
        room = total - sum(h for h in held if h is not None)
        now = (self.pacer.allocation or 0.0) if self._beats else 0.0  # none yet of its own
        return max(self._tuning.pacer.min_rate, min(share, max(room, now)))

    def _share_found(self, now: float, everyone: list[Lease], left: bool) -> None:
        """Unknown limit: this run's part of the limit the runs found together."""
        through = sum(lease.admitted for lease in everyone)
        if self._found is None or through < self._found[0] * self._tuning.pacer.backoff * 0.95:
            self._full_since = now  # a dip: a gateway's bucket fills
        pace = (
            None
            if self._found is None
            else found_pace(
                self._found[0],
                now - self._found[1],
                self._tuning,
                self._found_kept,
                self._found_rough,
                through=through,
                full_s=min(now - self._full_since, now - self._found[1]),
            )
        )
        alone_before = self.pacer.allocation is None and not self.pacer.slow_start
        if (pace is None and self._found is not None and len(everyone) > 1
                and (alone_before or not self._beats)):  # fmt: skip
            # A run paced alone, past a rough finding gone stale, and now has company (this
            # run, or the one that joins it): what they get through now is the finding they
            # share, rough (probed quickly, and newer than any other: the others take it at
            # their next beat). Each pacing alone instead, the newcomer's slow start came on
            # top of the first's whole pace.
            self._found = (max(1.0, through, self.pacer.rate), now)
            self._found_rough, self._found_kept = True, False
            pace = found_pace(self._found[0], 0.0, self._tuning, rough=True)
        if pace is not None and (len(everyone) > 1 or self._found_kept):
            # (A run alone on a kept finding too: its own probes would pass it by 15%.)
            shares = allocate(pace, [lease.wants for lease in everyone])
            self.pacer.slow_start = False
            self.pacer.allot(self._joining(shares[0], pace, everyone[1:]))
            return
        if self.pacer.allocation is not None or left:
            # Alone now (or the finding went stale): pace as a run alone does, from all of
            # what was found, if anything was, at once.
            self.pacer.allot(None)
            self.pacer.ceiling = None
            if pace is not None and self._found is not None:
                if not self._found_rough:
                    # The runs' cap (probe_over past the finding) is no pace: it grew by the
                    # clock while they sent less (shards ending), the gateway's bucket filled,
                    # and the last run, given all of it, drew 118-122 a second of a limit of
                    # 100 for 4 s. From just under the finding, or what they got through, on:
                    # the pacer probes past it gently by itself, as it sends.
                    pace = min(pace, max(self._found[0] * self._tuning.pacer.backoff, through))
                self.pacer.rate = max(self.pacer.rate, pace)
                self.pacer.ceiling = self._found[0]
                self.pacer.ceiling_sure = not self._found_rough
            elif self._found is not None and len(everyone) > 1:
                # Passed twice the finding without a 429: it was read too early (the runs
                # still starting, peers' leases a beat old) or the limit rose. Nothing is
                # known: find it as a run does at its start (doubling while held back), not
                # by probes of 10% from a share of a low finding (seconds at half the limit).
                self.pacer.slow_start = True

    def _beat(self, lease: Lease) -> tuple[list[Lease], tuple[float, float] | None]:
        """Renew the lease (keeping a new finding past it); the live leases, and at the first
        beat the finding the store kept."""
        first = self._store is None
        if self._store is None:
            self._store = self._open_store()
        budget = self._store.budget
        if lease.found is not None and lease.found_at is not None and lease.found != self._kept:
            budget.keep_found(self.key, lease.found, lease.found_at)
            self._kept = lease.found
        return budget.beat(self.key, lease), budget.kept_found(self.key) if first else None

    def _release(self) -> None:
        if self._store is None:
            return
        try:
            self._store.budget.release(self.key, self.run_id)
        except Exception as exc:  # the lease lapses by itself anyway
            log.debug("budget release failed: %s", type(exc).__name__)
        finally:
            self._store.close()
            self._store = None
