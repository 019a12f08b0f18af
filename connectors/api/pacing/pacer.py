"""Pacing requests to the API's rate limit, whatever its shape, known or discovered.

Every shape a gateway limits in (token buckets with bursts down to 1, fixed windows of a second
to a minute, sliding logs, caps on requests in flight) admits a client that sends *evenly* just
under the limit; each punishes bursts differently. So the pacer does two things:

- **Even spacing.** One request every ``1 / pace`` seconds, by a schedule (the virtual
  scheduling of GCRA): no burst after a pause, since a small server burst turns any two
  requests closer than the interval into a 429. Waits end on time (the last millisecond is
  yielded, not slept), and a send that was late anyway lets the next go early by at most
  ``slack`` of an interval (halved by each 429 that is not a wall, since it says the gateway
  minds the gaps): lateness neither accumulates (the pace holds) nor bunches requests.
- **Walls.** Several 429s to requests sent one after another, none admitted in between, is a
  spent window (or a bucket far overdrawn): nobody sends until it opens. The run is counted in
  the order requests were sent, not answered: a gateway answers a refusal at once and a success
  after the API's latency, so refusals of requests sent in turn meet successes of ones sent
  earlier (counted as they arrived, a spent window's wall stood only after a latency's worth
  of refusals), and refusals of requests sent apart arrive together (a token bucket a third
  overdrawn is no wall). A ``Retry-After`` of a few seconds or more is believed at once, as
  an upper bound (a 60 s window would otherwise cost a probe a second);
  a short or absent one is found by one probe at a time, at doubling intervals from 0.1 s
  (``Retry-After: 1``, all that whole seconds can say, would cost most of a one-second window).
  A believed one is probed from a second early: whole seconds round up, and a sliding log
  frees slots one by one. The retry of a refused request waits only a moment of its own
  (``RetryPolicy.paced``): the wall holds it. Rate-limit headers that tell a spent quota
  (``limit_headers.py``) raise the wall before a refusal does. A wall of under half a second
  is the end of a window of about a second, and part of it: what got through is counted
  across it (from its fall, a second's count read the limit a tenth high).
- **Refusals are 429s, and 503s in runs** (nginx's ``limit_req`` answers 503 by default): the
  client tells the pacer of both; a lone 503 is a server's fault and says nothing of the pace.

The pace:

- Known limit (``--rate-limit R``): at most ``known_share`` of R; a 429 still lowers it (the
  gateway may count differently, cap requests in flight, or be shared), never below
  ``known_floor`` of R, and it climbs back after calm.
- Unknown limit: a slow start (from ``start_rate``, doubling while the pacer is what holds
  requests back, every ``latency_doubling`` answers' latency within ``min_doubling_s`` ..
  ``doubling_s``: the feedback of one doubling is in before the next, and an API that answers
  at once is reached in a fraction of a second) until the first 429. Each 429 episode (at most one a
  second: a volley from requests already in flight is one signal) sets the pace just under
  what the API admitted over the last second and remembers that as the ceiling; after a calm
  spell the pace probes up, quickly (+10% each 0.5 s) far under the ceiling, gently (+1%/s)
  near it, and forgets a ceiling what got through has passed by 15% without a 429 (the limit
  rose). A reading far under the pace that drew it (a gateway draining a burst of ours) is
  probed gently only for a few seconds, until a second reading agrees. The pace rises only
  while the sends keep up with it (a gateway's queue holds them otherwise, unrefused).

Every value it is tuned with (``connectors/tuning.py``'s ``PacerTuning``) is a field of one
typed object, with its unit and bounds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from connectors.tuning import DEFAULTS, PacerTuning


class RequestPacer:
    """The gate every attempt passes before it is sent, told every answer's outcome."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tuning: PacerTuning = DEFAULTS.pacer,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("the rate limit must be positive")
        self._t = tuning
        self.known = rate is not None
        self.limit = rate  # the user's limit (the total for the target)
        # The most this run may use: all of a known limit's share, unless a shared budget
        # (connectors/api/pacing/shared_budget.py) gives it part of the target's.
        self.allocation: float | None = rate * self._t.known_share if rate is not None else None
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self.rate: float = rate * self._t.known_share if rate is not None else self._t.start_rate
        self.slow_start = rate is None
        self.ceiling: float | None = None  # unknown limit: what got through at the last 429
        # Probed gently near it for good: read by a window's cycle, near the pace that drew
        # it, or agreed on by two readings. One far under its pace (a gateway still draining
        # a burst of ours: a sliding count that counts refusals read 60/s of its 100 from a
        # pace of 290, and 1% a second took 25 s to climb back) only for lone_ceiling_s, then
        # quickly. (Every lone reading so: nginx's queue took a pace past a right one unrefused
        # for 3 s, then refused 45 in a second.)
        self.ceiling_sure = False
        self._ceiling_at = now
        self._next_at = now
        self._gate = asyncio.Lock()
        self._admitted: deque[float] = deque()
        self._sent: deque[float] = deque()
        self._last_429 = self._last_decrease = self._last_probe = self._last_growth = now
        self._latency: float | None = None  # running latency of answers
        self._fastest: float | None = None  # the fastest answer: the API's own latency
        self._held_back = 0  # acquires that waited for their slot since the last growth
        self._held_since_snapshot = False
        self._waiting = 0  # requests waiting for their slot now
        self._last_slot = float("-inf")  # when the last request was handed its slot
        self._started = now
        self._sends = 0  # requests handed a slot, numbered in that order
        self._unnumbered = -2  # answers told without their number: numbered as they arrive
        self._refused: set[int] = set()  # the numbers of recent refused requests
        self._wall_until: float | None = None  # set while a wall stands
        self._told_until = now  # the latest end of a wall a gateway's quota headers told
        self._wall_probe_s = self._t.first_probe_s
        self._probe_out = False
        self._probe_sent_at = now
        # The wall stood when this was sent (its rise, then each refused probe's send): the
        # window turned between it and the send of the probe that got through.
        self._wall_stood_at = now
        self._wall_down_at = now
        self._wall_up_at = now
        self._first_sent: float | None = None  # what got through is counted from here on
        self._slow_start_ended: float | None = None  # until a refusal sent after it comes
        # What got through from one wall's fall to the next: a window's worth of admissions
        # over the window (a limit over 2 s, 10 s or a minute, spent in a burst, then walled).
        self._admitted_total = 0
        self._cycle_from = (now, 0)
        self._cycle_slowest = self.rate  # the slowest pace of a cycle's sends
        # The starts of the last cycles shorter than min_cycle_s, in a row (with what had got
        # through by then): walls that fall and stand again soon, over and over.
        self._quick_cycles: deque[tuple[float, int]] = deque(maxlen=self._t.quick_cycles)
        self._ceiling_held_until = now  # a cycle's ceiling stands a cycle long at least
        self._slack = self._t.slack
        self.decreases = 0
        self.walls = 0
        self.refusals = 0
        # Told of every 429 (a shared budget passes it on to the other runs at once).
        self.on_refusal: Callable[[], None] | None = None

    # -- the gate ------------------------------------------------------------------------------

    async def acquire(self) -> int:
        """Wait until one more request may be sent; its number in the order sent, to tell
        with its answer."""
        self._waiting += 1
        try:
            return await self._slot()
        finally:
            self._waiting -= 1

    async def _slot(self) -> int:
        async with self._gate:  # FIFO: one waiter at a time holds the next slot
            while True:
                now = self._clock()
                if self._wall_until is not None:
                    # Held back, by the wall: it could use more than it gets (told a shared
                    # budget as "hungry"; a run behind a wall that admitted nothing said it
                    # wanted 1/s, and was given that while another took all of the finding).
                    self._held_since_snapshot = True
                    if now < self._wall_until:
                        await self._sleep(self._wall_until - now)
                        continue
                    if self._probe_out:  # one probe at a time; its answer moves the wall
                        await self._sleep(min(self._wall_probe_s, 0.05))
                        continue
                    self._probe_out = True
                    self._probe_sent_at = now
                    self._next_at = now + 1.0 / self.rate
                    self._last_slot = now
                    self._sent.append(now)
                    self._sends += 1
                    return self._sends
                if now >= self._next_at:
                    if self._first_sent is None:
                        self._first_sent = now
                    break
                self._held_back += 1
                self._held_since_snapshot = True
                # The event loop sleeps in whole milliseconds, rounded up: at 100 req/s that
                # is half a millisecond late on average, 5% of the pace, and lateness varies
                # enough to put two sends under a burst-1 bucket's interval. The last stretch
                # is yielded in zero-length sleeps instead (other tasks still run).
                wait = self._next_at - now
                # In steps of recheck_s at most: a share raised meanwhile moves the slot.
                await self._sleep(
                    min(wait - self._t.spin_s, self._t.recheck_s) if wait > self._t.spin_s else 0
                )
            self._sent.append(now)
            interval = 1.0 / self.rate
            self._cycle_slowest = min(self._cycle_slowest, self.rate)
            # From the schedule, not from now: a late wake-up does not slow the pace; but
            # never more than self._t.slack of an interval early relative to this send.
            self._next_at = max(self._next_at + interval, now + interval * (1.0 - self._slack))
            self._last_slot = now
            self._sends += 1
            return self._sends

    # -- what the answers say ------------------------------------------------------------------

    def admitted_rate(self, now: float, window_s: float | None = None) -> float:
        """Requests admitted (answered other than 429) a second, over the last ``window_s``,
        or since the last wall came down if that is sooner (a wall admits nothing, and says
        nothing about the pace). Slow start looks at its last two doublings only."""
        while self._admitted and now - self._admitted[0] > self._t.admitted_window_s:
            self._admitted.popleft()
        window_s = self._t.admitted_window_s if window_s is None else window_s
        # Not from before the first send: a run that reads its export for a second before it
        # sends would count half its rate at its first 429 (and a shared finding with it).
        since = self._wall_down_at if self._first_sent is None else max(
            self._wall_down_at, self._first_sent)  # fmt: skip
        span = max(0.2, min(window_s, now - since))
        return sum(1 for t in self._admitted if now - t <= span) / span

    def _sent_rate(self, now: float, window_s: float = 1.0) -> float:
        """Requests sent a second over the last ``window_s`` (at most a second)."""
        while self._sent and now - self._sent[0] > 1.0:
            self._sent.popleft()
        if window_s >= 1.0:
            return float(len(self._sent))
        return sum(1 for t in reversed(self._sent) if now - t <= window_s) / window_s

    def on_success(self, latency_s: float | None = None, number: int | None = None) -> None:
        """Request ``number`` (from ``acquire``; None: the latest answer) was admitted (any
        answer but 429), answered in ``latency_s``: the wall, if any, is down; after a calm
        spell, probe a little faster."""
        now = self._clock()
        self._number(number)  # it ends the run of refusals it was sent within
        if latency_s is not None:
            self._fastest = latency_s if self._fastest is None else min(self._fastest, latency_s)
            last = latency_s if self._latency is None else self._latency
            self._latency = last + self._t.latency_weight * (latency_s - last)
        self._admitted.append(now)
        self._admitted_total += 1
        # Behind a wall only the probe's answer (or one after the wall's time) takes it down:
        # answers of requests sent before it still arrive for a latency's while.
        if self._wall_until is not None and (self._probe_out or now >= self._wall_until):
            self._wall_until = None
            self._wall_probe_s = self._t.first_probe_s
            # When the wall fell: between the last send it stood at and the probe's. Its
            # answer is later by a latency, and probes a second or two apart find a wall's
            # fall up to that late; a cycle measured to the answer read a 10 s window's
            # admissions a tenth low, and the next window went half unused.
            fell = (self._wall_stood_at + self._probe_sent_at) / 2 if self._probe_out else now
            fell = max(self._cycle_from[0], fell)
            unsure = self._probe_sent_at - self._wall_stood_at if self._probe_out else 0.0
            cycle = fell - self._cycle_from[0]
            short = now - self._wall_up_at < self._t.short_wall_s
            if not (short and self._t.min_short_cycle_s <= cycle < self._t.min_cycle_s):
                self._wall_down_at = now
            # else: a short wall a second after the last, the end of a window of about a
            # second, and part of it: counted from its fall, a second's admissions were a
            # tenth of a second short and read the limit a tenth high; the pace held there,
            # and each window's end refused a tenth. (A lone short wall is no window's end: a
            # sliding count that counts refusals walls once, briefly, then admits less.)
            self._end_cycle(now, fell, unsure)
            self._cycle_slowest = self.rate
        self._probe_out = False
        if self.slow_start:
            self._grow_slow_start(now)
            return
        if now - self._last_429 < self._t.calm_s:
            return
        cap = self._cap()
        if self.ceiling is not None and now < self._ceiling_held_until:
            # A window's ceiling, not passed by 15% before a window has gone by: a window of
            # a minute says nothing sooner. Forgotten after 15 s, its second window was spent
            # in 28 s by quick probes and walled for the other 32.
            cap = min(cap, self._t.stale_margin * self.ceiling)
        near = (
            self.ceiling is not None
            and self.rate >= self._t.near_ceiling * self.ceiling
            and (self.ceiling_sure or now - self._ceiling_at < self._t.lone_ceiling_s)
        )
        if now - self._last_probe < (1.0 if near else self._t.fast_probe_s):
            return
        if self._sent_rate(now) < self._t.used_share * self.rate:
            # Sends do not keep up with the pace (a gateway's queue holds the requests out,
            # or the export is slow): a faster one says nothing, and would pass the ceiling
            # unheard. nginx's queue let a pace of 145 stand over 100/s, its ceiling
            # forgotten, until the queue was full and refused 45 in a second.
            return
        self._last_probe = now
        if (
            self.ceiling is not None
            and now >= self._ceiling_held_until
            and self.admitted_rate(now) > self._t.stale_margin * self.ceiling
        ):
            self.ceiling = None  # what got through passed it by 15% with no 429: it rose
            near = False
        self.rate = min(cap, self.rate * (self._t.slow_probe if near else self._t.fast_probe))

    def on_no_answer(self) -> None:
        """The request got no answer (a transport error): another may probe a wall."""
        self._probe_out = False

    def on_rate_limited(
        self, retry_after_s: float | None, sent_at: float | None = None, number: int | None = None
    ) -> None:
        """The API answered 429 to request ``number`` (from ``acquire``; None: the latest
        answer), sent at ``sent_at`` (this pacer's clock, if known): maybe a wall; at most once
        a second, a slower pace."""
        now = self._clock()
        in_row = self._refused_run(self._number(number))
        self._last_429 = now
        self.refusals += 1
        if self.on_refusal is not None:
            self.on_refusal()
        if self._wall_until is not None and self._probe_out:
            self._wall_stood_at = self._probe_sent_at
        self._probe_out = False
        if self._wall_until is not None:  # a probe hit the wall: wait longer
            self._wall_probe_s = min(self._t.max_probe_s, self._wall_probe_s * 2)
            self._raise_wall(now, retry_after_s)
            return  # nothing got through behind a wall: no news about the pace
        trusted = retry_after_s is not None and retry_after_s >= self._t.trusted_retry_after_s
        if in_row >= self._t.wall_run or trusted:
            # A run of refusals, or one that says how long (its retry waits only a moment:
            # the wall holds it, and everyone else, for that long).
            self.walls += 1
            self._raise_wall(now, retry_after_s)
        # A 429 that is no wall says two sends came too close for this gateway (a bucket of
        # burst 1 refuses any gap under its interval): from now on, none goes early.
        self._slack /= 2
        second_look = False
        if now - self._last_decrease < 1.0 and not self.slow_start:
            ended = self._slow_start_ended
            if ended is None or sent_at is None or sent_at <= ended:
                return
            second_look = True
            # The first refusal of a send paced after slow start's end: the pace it set was
            # read over half a second, and a window or log of a second admits its whole count
            # at once (read as twice the limit, refused a third of a second's sends). Once,
            # over the second since the first send: what the gateway's window holds.
        self._slow_start_ended = None
        if not self.slow_start and self._sent_rate(now) < max(self._t.min_rate, 0.2 * self.rate):
            # Hardly anything was sent over the last second (requests were waiting out their
            # Retry-After): what got through says nothing about the limit.
            return
        # Slow start: over the slowest two doublings, whatever the latency: a fast API doubles
        # several times in flight before the first 429 is back, and what got through over a
        # tenth of a second overshoots the limit (a small burst passes at once).
        admitted = self.admitted_rate(now, 2 * self._t.doubling_s if self.slow_start else 1.0)
        if self.slow_start:
            # The pace that drew the first 429 overshot by up to one doubling: start from what
            # got through, and probe quickly from there (no ceiling yet).
            self.slow_start = False
            self.rate = max(self._t.min_rate, min(self.rate, admitted) * self._t.backoff)
            self._last_decrease = self._slow_start_ended = now
            self.decreases += 1
        else:
            self._decrease(now, max(admitted, self._t.min_rate))
            if second_look:
                self.ceiling = None  # still the start's figure: probe quickly from it

    def on_quota(self, remaining: int, reset_s: float, out: int = 0) -> None:
        """The gateway's headers told what remains of its quota (``limit_headers.py``), with
        ``out`` of this run's requests still unanswered: no more left than those will take is
        a wall until the quota is whole again, probed from up to a second early (a reset in
        whole seconds is rounded up), instead of a volley of refusals finding it."""
        if remaining > out:
            return
        now = self._clock()
        if (
            self.known
            and reset_s <= 1.0
            and (self.refusals == 0 or now - self._last_429 >= self._t.calm_s)
        ):
            # A known pace that draws no refusals fits the gateway's windows of a second: it
            # ends each one with little left, and a wall there (a probe's wait at least, a
            # reset of 1 being anything up to a second) cost 7% of the limit on a 1 s window
            # telling its count. Once it is refused (a limit set too high), the walls are back.
            return
        reset_s = min(reset_s, self._t.max_wall_s)
        # At least a first probe's wait: a reset of 1 (anything up to a second, rounded up)
        # less the second was no wall at all, and a slow start sent 8 more into the spent
        # window before its refusals came back.
        until = now + max(reset_s - 1.0 if reset_s >= 1.0 else reset_s, self._t.first_probe_s)
        if self._wall_until is None or until > self._wall_until:
            self._wall_until = self._wall_stood_at = self._told_until = until
            self._wall_probe_s = self._t.first_probe_s

    # -- what other runs on the same target say (shared_budget.py) ---------------------------

    def allot(self, allocation: float | None) -> None:
        """The most this run may now use of the target's budget (None: no cap)."""
        self.allocation = allocation
        if allocation is None:
            return
        calm = not self.refusals or self._clock() - self._last_429 >= self._t.calm_s
        if allocation < self.rate or calm:
            # A known share is taken at once, up or down (a peer left or came): no 429 says
            # it is too much, and probing up to it would waste seconds of the limit. (Nor
            # at a run's start: a joiner given a trickle at its first beat waited calm_s.)
            if allocation > self.rate:
                # The next slot too, from the last send on: the slot set at the old share (a
                # second on at 1/s) held a shard to a request a second for 35 s of a
                # migration. (Only a share: the pacer's own raises, a wall's fall or a probe,
                # keep their slot, and a run alone is paced as it was measured.)
                self._next_at = min(self._next_at, self._last_slot + 1.0 / allocation)
            self.rate = allocation

    def on_peer_rate_limited(self, share_through: float) -> None:
        """Another run drew a 429 while this run's share of what got through was
        ``share_through``: the same slowdown as a 429 of its own (once a second at most)."""
        now = self._clock()
        if now - self._last_decrease < 1.0:
            return
        if self._sent_rate(now) < max(self._t.min_rate, 0.2 * self.rate):
            return  # this run is hardly sending: its pace is no part of the problem
        # Not a calm-breaker: each run keeps probing after its own calm, as flows sharing a
        # link do; a peer's 429s alone would hold every run down for good.
        self.slow_start = False
        self._decrease(now, max(share_through, self._t.min_rate))

    def on_cap_found(self) -> None:
        """The refusals were a cap on requests in flight's (``concurrency.py``), which now
        keeps the run under it: no ceiling of the pace, which probes past it quickly until the
        cap is what holds the run."""
        self.ceiling = None

    def on_cap_lost(self) -> None:
        """The cap on requests in flight was no cap after all (``concurrency.py``). While it
        held the run, slots were handed out faster than it let requests go, and the pace,
        its sends seemingly keeping up, was probed past what got through (290/s over a cap
        that let 185/s through): back to what got through."""
        now = self._clock()
        self.rate = max(self._floor(), min(self.rate, self.admitted_rate(now)))

    def hold_until(self, moment: float) -> None:
        """Another run found a wall standing until ``moment`` (this pacer's clock)."""
        if moment > self._clock() and (self._wall_until is None or moment > self._wall_until):
            self._wall_until = self._wall_stood_at = moment

    def now(self) -> float:
        """This pacer's clock."""
        return self._clock()

    def snapshot(self) -> tuple[float, float | None, float | None]:
        """What this run tells the others: admitted a second, the pace it could use (None:
        more than it has, it is held back), and when its last 429 was (this pacer's clock;
        None: never)."""
        now = self._clock()
        # Over half a second: while the runs speed up, a second's count lags far behind.
        admitted = self.admitted_rate(now, 2 * self._t.doubling_s)
        # Held back, just started or still starting: it could use more than it has.
        # (A request waiting now is held back whether or not it woke since the last beat.)
        hungry = (self._held_since_snapshot or self._waiting > 0 or self.slow_start
                  or now - self._started < 1.0)  # fmt: skip
        self._held_since_snapshot = False
        wants = None if hungry else admitted * 1.25 + 1.0
        return admitted, wants, self._last_429 if self.refusals else None

    @property
    def doubling_s(self) -> float:
        """How often slow start may double: a few answers' latency, within bounds."""
        if self._latency is None:
            return self._t.doubling_s
        return min(
            self._t.doubling_s,
            max(self._t.min_doubling_s, self._t.latency_doubling * self._latency),
        )

    @property
    def latency_s(self) -> float | None:
        """The running latency of answers (None before the first)."""
        return self._latency

    @property
    def fastest_s(self) -> float | None:
        """The fastest answer yet: the API's latency without a gateway's queue (None before
        the first)."""
        return self._fastest

    @property
    def wall_until(self) -> float | None:
        """Until when a wall stands (this pacer's clock), if one does."""
        return self._wall_until

    # -- internals -----------------------------------------------------------------------------

    def _floor(self) -> float:
        """The slowest pace: a known limit's floor, else min_rate."""
        if self.allocation is not None and self.limit is not None:
            return self._t.known_floor / self._t.known_share * self.allocation
        return self._t.min_rate

    def _decrease(self, now: float, through: float) -> None:
        """Just under what got through; never under a known limit's floor. The ceiling is
        sure unless it is far under the pace that drew it (``lone_drop``): then only when
        the one before agrees with it, or was sure and is not passed by it."""
        last, was_sure = self.ceiling, self.ceiling_sure
        self.ceiling = through if self.limit is None else None
        agree = self._t.ceiling_agree
        self.ceiling_sure = through >= self._t.lone_drop * self.rate or (
            last is not None
            and (
                (1 - agree) * last <= through <= (1 + agree) * last
                or (was_sure and through <= last)
            )
        )
        self._ceiling_at = now
        self._ceiling_held_until = now
        self.rate = max(self._floor(), min(self.rate, through) * self._t.backoff)
        self._last_decrease = now
        self.decreases += 1

    def _end_cycle(self, now: float, fell: float, unsure: float) -> None:
        """A wall came down (at ``fell``, found at ``now``): over the cycle since the last one
        fell (or the run began), what got through a second is what the gateway's
        window holds; a pace above it would spend the next window early and wall again. A
        second's admissions cannot tell a window of 2 s, 10 s or a minute, nor one that counts
        refusals."""
        since, admitted_then = self._cycle_from
        self._cycle_from = (fell, self._admitted_total)
        cycle = fell - since
        if cycle < self._t.min_cycle_s:
            if since != self._started:  # a cycle from a wall's fall (not the run's start)
                self._quick_cycles.append((since, admitted_then))
                self._walled_pace(now, fell)
            return  # a window of a second or so: the per-second figures already tell it
        self._quick_cycles.clear()
        through = (self._admitted_total - admitted_then) / cycle
        walled = (fell - self._wall_up_at) / cycle
        if self._cycle_slowest < self._t.cycle_paced * through and walled < self._t.cycle_walled:
            # The pace, not the gateway, held what got through: it was under it for part of
            # the cycle and the wall stood for a moment at the end. A pace climbing 30 to 85/s read
            # its own mean, 49/s, as the limit (a sliding count of 100 that was still
            # draining our first burst): the last second's reading stands.
            return
        if through < self.rate:
            self.slow_start = False
            # And the ceiling: probed past quickly, the next window was spent in half of it
            # and walled for the rest, its in-flight requests refused, each window.
            self._decrease(now, max(through, self._t.min_rate))
            self._ceiling_held_until = fell + cycle
            self.ceiling_sure = True  # a window's worth, not a second's
            if unsure > self._t.cycle_unsure * cycle:
                # Not a ceiling when its fall is known only roughly: a sliding count that
                # counts refusals stood past its window (a probe refused adds to it) until
                # probes 2 s apart found it, and read 2 s windows of 50 as 33 a second. Nor
                # a pace: it drained our first burst behind a wall its refused probes kept
                # up, and only they got through (3.6/s; probed up by 10%, 25 s to 100/s).
                # Found again as at the start, doubling from there until a refusal.
                self.ceiling, self.ceiling_sure = None, False
                self.slow_start = True

    def _walled_pace(self, now: float, fell: float) -> None:
        """Walls that fell and stood again within min_cycle_s, ``quick_cycles`` times in a
        row, over a pace more than ``walled_pace`` times what got through over them: the
        gateway lets a trickle through (a sliding count still over its limit, which counts
        the refusals too), and the walls, not the pace, hold the sends down. Nothing else
        lowers that pace: the slowdown a refusal brings is skipped when hardly anything was
        sent, and cycles this short set none. Paces of 866/s and 432/s stayed over a sliding
        count of 100/s that let 28/s and 11/s through, for 10-25 s, its walls refusing a fifth
        to two fifths of what was sent. (Windows of a second wall each second too, at a pace
        near what gets through: not these.) From what got through, with no ceiling (the
        trickle is the gateway's recovery, not its limit): probed up quickly."""
        if len(self._quick_cycles) < self._t.quick_cycles:
            return
        first, admitted_then = self._quick_cycles[0]
        through = (self._admitted_total - admitted_then) / max(fell - first, 1e-3)
        if self.rate <= self._t.walled_pace * through:
            return
        self._quick_cycles.clear()
        self.slow_start = False
        self.rate = max(self._floor(), through)
        self.ceiling = None
        self._last_decrease = now
        self.decreases += 1

    def _number(self, number: int | None) -> int:
        """An answer's request number: told, or (unnumbered) the next in arrival order."""
        if number is None:
            self._unnumbered -= 1  # downwards, apart from acquire's numbers
            return self._unnumbered
        return number

    def _refused_run(self, number: int) -> int:
        """Request ``number`` was refused: how many requests sent in a row with it were
        refused (up to ``wall_run``). One unanswered yet, or admitted, ends the run."""
        refused = self._refused
        refused.add(number)
        if len(refused) > 4096:  # runs far shorter than this are all that is ever looked at
            self._refused = refused = {n for n in refused if abs(n - number) < 1024}
        run, limit = 1, self._t.wall_run
        for step in (-1, 1):
            n = number + step
            while n in refused and run < limit:
                run += 1
                n += step
        return run

    def _cap(self) -> float:
        return float("inf") if self.allocation is None else self.allocation

    def _grow_slow_start(self, now: float) -> None:
        """Double the pace every self._t.doubling_s while it is what holds requests back and is used
        (an API that answers slowly is not sped up by a faster pace, nor one behind a wall,
        and the pace must not run away)."""
        if now - self._last_growth < self.doubling_s:
            return
        # Over the last doubling, not the last second: a second's count lags the doublings
        # behind it, and held each step for a second against an API with no limit.
        if self._held_back and self._sent_rate(now, self.doubling_s) >= 0.5 * self.rate:
            self.rate = min(self._cap(), self.rate * 2.0)
        self._held_back = 0
        self._last_growth = now

    def _raise_wall(self, now: float, retry_after_s: float | None) -> None:
        if self._wall_until is None:
            self._wall_up_at = self._wall_stood_at = now
        wait = self._wall_probe_s
        if retry_after_s is not None and retry_after_s >= self._t.trusted_retry_after_s:
            # Whole seconds (or an HTTP-date) round the wait up by up to a second, and a
            # sliding log frees its first slot before the last: probe from a second early.
            wait = max(wait, min(retry_after_s, self._t.max_wall_s) - 1.0)
            self._wall_stood_at = now + wait  # told, not probed: it turns after that
        # A refusal of a request already out when the headers told the quota spent (more of
        # them the busier the machine) says nothing sooner: a probe's wait in its place had
        # the run probe a 10 s window by the second, 21 refusals instead of 2-5.
        self._wall_until = max(now + wait, self._told_until)
