"""The pacer: even spacing; a known limit held under, an unknown one found from 429s; walls."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from connectors.api.pacing.pacer import RequestPacer
from connectors.tuning import DEFAULTS


class Clock:
    """A fake clock whose sleep advances it: the pacer's time without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0001)  # a zero-length yield still lets time pass
        await asyncio.sleep(0)


TUNING = DEFAULTS.pacer


def pacer_on(clock: Clock, rate: float | None) -> RequestPacer:
    return RequestPacer(rate, clock, clock.sleep)


def send_times(pacer: RequestPacer, clock: Clock, count: int) -> list[float]:
    async def run() -> list[float]:
        times = []
        for _ in range(count):
            await pacer.acquire()
            times.append(clock.now)
        return times

    return asyncio.run(run())


def admitted_for(pacer: RequestPacer, clock: Clock, seconds: float, per_s: float) -> None:
    """Requests sent and answered other than 429 at ``per_s`` a second for ``seconds``."""
    for _ in range(round(seconds * per_s)):
        clock.now += 1.0 / per_s
        pacer._sent.append(clock.now)  # as acquire() records a send
        pacer.on_success()


def paced_for(pacer: RequestPacer, clock: Clock, seconds: float) -> None:
    """Requests sent at the pacer's pace, whatever it becomes, and admitted, for ``seconds``."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 1.0 / pacer.rate
        pacer._sent.append(clock.now)
        pacer.on_success()


def test_a_known_limit_is_paced_evenly_just_under_it_without_a_burst() -> None:
    clock = Clock()
    pacer = pacer_on(clock, 100)
    times = send_times(pacer, clock, 200)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.75 / 99  # never bunched, even after a late wake-up
    assert (times[-1] - times[0]) / 199 == pytest.approx(1 / 99, rel=0.02)


def test_known_pacing_in_real_time() -> None:
    async def run() -> float:
        pacer = RequestPacer(100)
        started = time.perf_counter()
        for _ in range(300):  # no burst: 300 at 99/s
            await pacer.acquire()
        return time.perf_counter() - started

    assert 2.8 <= asyncio.run(run()) <= 3.5


def test_429s_lower_a_known_pace_but_never_under_its_floor_and_it_climbs_back() -> None:
    clock = Clock()
    pacer = pacer_on(clock, 50)
    for _ in range(10):
        admitted_for(pacer, clock, 1.0, 50)
        pacer.on_rate_limited(1.0)
    assert pacer.rate == pytest.approx(TUNING.known_floor * 50)
    admitted_for(pacer, clock, 30, 45)
    assert pacer.rate == pytest.approx(TUNING.known_share * 50)  # and no higher


def test_a_429_after_a_quiet_second_says_nothing_about_the_pace() -> None:
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    pacer.rate = 500.0
    admitted_for(pacer, clock, 1.0, 400)
    clock.now += 5.0  # everyone was waiting out a Retry-After: nothing sent
    pacer.on_rate_limited(1.0)
    assert pacer.rate == 500.0 and pacer.decreases == 0


def test_slow_start_doubles_only_while_the_pace_holds_requests_back() -> None:
    clock = Clock()
    pacer = pacer_on(clock, None)
    assert pacer.rate == TUNING.start_rate and pacer.slow_start
    admitted_for(pacer, clock, 1.0, 20)  # nothing waited: a slow API, not the pace
    assert pacer.rate == TUNING.start_rate
    for _ in range(4):
        # A doubling's worth of sends, each held back: enough to double again at once (a
        # second's count would lag the doublings and hold each step for a second).
        send_times(pacer, clock, round(pacer.rate * TUNING.doubling_s) + 1)
        pacer.on_success()
    assert pacer.rate == 16 * TUNING.start_rate
    clock.now += 2 * TUNING.doubling_s  # held back, but nothing sent lately: no growth
    pacer._held_back = 1
    pacer.on_success()
    assert pacer.rate == 16 * TUNING.start_rate


def slow_start_pace_after(latency_s: float, seconds: float) -> float:
    """The pace slow start reaches in ``seconds`` when every answer takes ``latency_s``."""
    clock = Clock()
    pacer = pacer_on(clock, None)
    started = clock.now
    while clock.now - started < seconds:
        send_times(pacer, clock, max(1, round(pacer.rate * 0.01)))  # held back by the pace
        pacer.on_success(latency_s)
    return pacer.rate


@pytest.mark.parametrize(
    ("latency_s", "doubling_s"),
    [(0.0005, TUNING.min_doubling_s), (0.02, 0.12), (0.04, 0.24), (0.5, TUNING.doubling_s)],
)
def test_slow_start_doubles_every_few_answers_latency_within_bounds(
    latency_s: float, doubling_s: float
) -> None:
    clock = Clock()
    pacer = pacer_on(clock, None)
    for _ in range(100):
        pacer.on_success(latency_s)
    assert pacer.doubling_s == pytest.approx(doubling_s, rel=0.02)


def test_an_api_that_answers_at_once_is_reached_in_a_fraction_of_a_second() -> None:
    # Against an unlimited API on loopback a 0.25 s doubling spent most of a small export's
    # run in slow start; at 40 ms the feedback of one doubling must still be in before the next.
    assert slow_start_pace_after(0.0005, 0.5) >= 64 * TUNING.start_rate
    assert slow_start_pace_after(0.04, 0.5) <= 4 * TUNING.start_rate


def test_the_first_429_starts_just_under_what_got_through_then_once_a_second() -> None:
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.rate = 400.0  # slow start overshot
    admitted_for(pacer, clock, 1.0, 100)
    pacer.on_rate_limited(1.0)
    assert not pacer.slow_start
    assert pacer.rate == pytest.approx(100 * TUNING.backoff, rel=0.02)
    first = pacer.rate
    pacer.on_rate_limited(1.0)  # the same volley: one signal
    assert pacer.rate == first
    admitted_for(pacer, clock, 1.0, 90)
    clock.now += 0.01
    pacer.on_rate_limited(1.0)
    assert pacer.rate == pytest.approx(90 * TUNING.backoff, rel=0.02)
    assert pacer.ceiling == pytest.approx(90, rel=0.02)


def test_what_got_through_is_counted_from_the_first_send_not_from_the_pacer_made() -> None:
    # A run reads its export for a second, then sends at 80/s and draws its first 429 a
    # quarter of a second in: 80/s got through, not the 40/s a half-second window would say.
    clock = Clock()
    pacer = pacer_on(clock, None)
    clock.now += 1.0
    pacer.rate = 80.0
    send_times(pacer, clock, 1)
    admitted_for(pacer, clock, 0.25, 80)
    pacer.on_rate_limited(1.0)
    assert pacer.rate == pytest.approx(80 * TUNING.backoff, rel=0.1)


def test_probing_is_quick_far_under_the_ceiling_gentle_near_it_and_a_stale_one_is_dropped() -> None:
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    admitted_for(pacer, clock, 1.0, 100)
    pacer.on_rate_limited(None)
    admitted_for(pacer, clock, 1.5, 100)
    pacer.on_rate_limited(None)  # a second reading agrees: the ceiling is sure
    assert pacer.ceiling == pytest.approx(100, rel=0.02)
    assert pacer.ceiling_sure
    pacer.rate = 50.0
    paced_for(pacer, clock, 5.0)
    assert pacer.rate > 50 * 1.1**3  # quick, far under
    pacer.rate = 98.0
    paced_for(pacer, clock, 5.0)
    assert pacer.rate < 98 * 1.011**5  # gentle, near the ceiling
    paced_for(pacer, clock, 30.0)
    assert pacer.ceiling is None  # what got through passed it by 15% with no 429: it rose
    paced_for(pacer, clock, 5.0)
    assert pacer.rate > 150


def test_a_pace_the_sends_do_not_keep_up_with_is_not_raised_past_the_ceiling() -> None:
    """nginx's ``limit_req`` without ``nodelay`` queues what passes its rate: sends slow to
    what it lets through, and the answers still come. A pace raised on those answers stood at
    145 over 100 a second, its ceiling forgotten as passed, until the queue was full and
    refused 45 in a second. The pace rises only while the sends keep up with it, and a
    ceiling is passed only by what gets through."""
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    admitted_for(pacer, clock, 1.0, 100)
    pacer.on_rate_limited(None)
    assert pacer.ceiling == pytest.approx(100, rel=0.02) and pacer.ceiling_sure
    admitted_for(pacer, clock, 20.0, 100)  # the queue lets 100 a second through
    assert pacer.rate < 100 / TUNING.used_share * TUNING.fast_probe
    assert pacer.ceiling == pytest.approx(100, rel=0.02)


def test_a_lone_reading_of_the_ceiling_is_probed_gently_for_seconds_then_quickly() -> None:
    """A sliding count that counts refusals, still draining slow start's burst, admitted 60 a
    second of its 100 for a few seconds: read once, that was a ceiling probed at 1% a second,
    25 s to climb back. A lone reading is probed gently for a few seconds (a real limit draws
    the second reading that confirms it by then), then quickly; a second reading that agrees
    makes it sure, and one under a sure ceiling keeps it so. (One near the pace that drew
    it is sure at once, as the test of nginx's queue below shows.)"""
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    pacer.rate = 200.0  # (probed up to 240 while 60 got through)
    admitted_for(pacer, clock, 1.01, 60)
    pacer.on_rate_limited(None)
    assert pacer.ceiling == pytest.approx(60, rel=0.02) and not pacer.ceiling_sure
    admitted_for(pacer, clock, TUNING.lone_ceiling_s - 0.5, 60)
    gentle = pacer.rate
    assert gentle < 60 * 1.011**TUNING.lone_ceiling_s  # gentle at first
    admitted_for(pacer, clock, 4.0, 70)
    assert pacer.rate > 1.3 * gentle  # then quickly: the reading was the gateway's drain
    clock.now += 1.0
    pacer.rate = 230.0
    admitted_for(pacer, clock, 1.0, 100)
    pacer.on_rate_limited(None)
    assert not pacer.ceiling_sure  # 100 far under 230, and against 60: no agreement
    pacer.rate = 230.0
    admitted_for(pacer, clock, 1.5, 104)
    pacer.on_rate_limited(None)
    assert pacer.ceiling_sure  # 104 against 100
    admitted_for(pacer, clock, 1.5, 90)
    pacer.on_rate_limited(None)
    assert pacer.ceiling_sure  # under a sure one: the limit is no higher
    admitted_for(pacer, clock, 10.0, pacer.rate)
    assert pacer.rate < 90 * 1.011**10  # gentle for good


def walled(clock: Clock, retry_after: float | None) -> RequestPacer:
    pacer = pacer_on(clock, 100)
    admitted_for(pacer, clock, 1.0, 99)
    clock.now += 0.01
    for _ in range(TUNING.wall_run):
        pacer.on_rate_limited(retry_after)
    return pacer


def test_a_run_of_429s_is_a_wall_and_a_long_retry_after_is_believed() -> None:
    clock = Clock()
    pacer = walled(clock, 42.0)
    assert pacer.walls == 1
    raised_at = clock.now
    send_times(pacer, clock, 1)  # the probe waits for the window to open
    assert clock.now - raised_at == pytest.approx(41.0, abs=0.01)  # a second early: rounding


def test_a_run_behind_a_wall_tells_a_shared_budget_it_could_use_more() -> None:
    """A run that admitted nothing behind a wall said it wanted 1/s (what it got through,
    and a little), and a shared budget gave it that while another run took all the rest."""
    clock = Clock()
    pacer = walled(clock, 42.0)
    pacer._started = clock.now - 10.0  # long past its start
    pacer.snapshot()  # the wall's own refusals told
    clock.now += 5.0
    send_times(pacer, clock, 1)  # a request waits for the wall
    _, wants, _ = pacer.snapshot()
    assert wants is None  # held back: more than it has


def test_a_run_given_a_trickle_says_it_is_held_and_takes_a_raised_share_at_once() -> None:
    """A shard that joined when the others used the whole budget was given 1/s. Its next
    request then slept one long sleep to its slot: the beats in that second saw nothing held
    back (it wanted 1/s again), and a share raised meanwhile waited for the old slot. It sent
    about one request a second for 35 s of a migration while the others took the rest."""
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    clock.now = 10.0  # long past its start and any 429
    pacer.allot(1.0)
    slot = send_times(pacer, clock, 2)[-1] + 1.0  # the next request's slot at 1/s
    seen: dict[str, object] = {}

    async def beats() -> None:
        # The shared budget's beats, every half second of the pacer's clock.
        while clock.now < slot - 0.7:
            await asyncio.sleep(0)
        pacer.snapshot()
        while clock.now < slot - 0.4:
            await asyncio.sleep(0)
        seen["wants"] = pacer.snapshot()[1]
        seen["raised_at"] = clock.now
        pacer.allot(20.0)  # the others left some: its share is raised

    async def run() -> list[float]:
        beat = asyncio.create_task(beats())
        await asyncio.sleep(0)
        times = []
        for _ in range(2):
            await pacer.acquire()
            times.append(clock.now)
        await beat
        return times

    waited, next_one = asyncio.run(run())
    assert seen["wants"] is None  # a request waiting for its slot: held back
    # The raised share is the pace from then on, not after the 1 s slot it replaced.
    assert waited < slot - 0.3
    assert next_one - waited <= 1.0 / 20.0 + 0.01


def numbered_sends(pacer: RequestPacer, clock: Clock, count: int) -> list[int]:
    async def run() -> list[int]:
        return [await pacer.acquire() for _ in range(count)]

    return asyncio.run(run())


def test_a_run_of_refusals_is_counted_in_the_order_requests_were_sent() -> None:
    """A gateway refuses at once and admits after the API's latency: refusals of requests
    sent in turn arrive among successes of ones sent before them (a spent window), and
    refusals of requests sent apart arrive together (a bucket a little overdrawn)."""
    clock = Clock()
    pacer = pacer_on(clock, 100)
    admitted_for(pacer, clock, 1.0, 99)
    earlier, spent = numbered_sends(pacer, clock, 8), numbered_sends(pacer, clock, 8)
    for admitted, refused in zip(earlier[: TUNING.wall_run], spent, strict=False):
        pacer.on_rate_limited(None, number=refused)
        pacer.on_success(0.04, admitted)  # sent before the window was spent
    assert pacer.walls == 1  # after wall_run refusals, not a latency's worth of them

    clock = Clock()
    pacer = pacer_on(clock, 100)
    admitted_for(pacer, clock, 1.0, 99)
    sends = numbered_sends(pacer, clock, 4 * TUNING.wall_run)
    for refused in sends[::4]:  # one in four refused, answered before the others
        pacer.on_rate_limited(None, number=refused)
    for admitted in (n for n in sends if n not in sends[::4]):
        pacer.on_success(0.04, admitted)
    assert pacer.walls == 0


@pytest.mark.parametrize("refused_probes", [0, 2], ids=["probe-admitted", "third-probe"])
@pytest.mark.parametrize("limit", [None, 100.0], ids=["unknown", "known"])
def test_walls_that_stand_again_at_once_set_the_pace_from_what_got_through(
    limit: float | None, refused_probes: int
) -> None:
    """A sliding count still over its limit, which counts refusals, lets a probe and a send
    through now and then: each wall falls and stands again within a tenth of a second, or
    (its first probes refused) within a second. The walls, not the pace, held the sends down,
    and no refusal lowered a pace under which hardly anything was sent: 866/s stayed over a
    gateway letting 28/s through for 25 s, and 432/s over 11/s for 10 s. A known limit's pace
    goes no lower than its floor."""
    clock = Clock()
    pacer = pacer_on(clock, limit)
    pacer.slow_start = False
    pacer.rate = 866.0 if limit is None else pacer.rate
    admitted_for(pacer, clock, 1.0, 800 if limit is None else 99)  # the first window

    def burst() -> None:  # one admitted, then a run of refusals: a wall
        first, *rest = numbered_sends(pacer, clock, 1 + TUNING.wall_run)
        pacer.on_success(0.04, first)
        for number in rest:
            pacer.on_rate_limited(None, number=number)

    burst()
    # The first wall's cycle is the run's first second; then quick_cycles short ones.
    for cycle in range(1 + TUNING.quick_cycles):
        assert pacer.walls >= 1 and (limit is not None or pacer.rate > 700)
        for _ in range(refused_probes):  # the count still full: the wall stands longer
            (probe,) = numbered_sends(pacer, clock, 1)
            pacer.on_rate_limited(None, number=probe)
        (probe,) = numbered_sends(pacer, clock, 1)  # the wall's probe, admitted: it falls
        pacer.on_success(0.04, probe)
        if cycle < TUNING.quick_cycles:
            burst()
    assert pacer.ceiling is None  # what got through, probed up quickly
    if limit is None:
        assert pacer.rate < 30
    else:
        assert pacer.rate == pytest.approx(TUNING.known_floor * limit)


def test_a_short_or_absent_retry_after_is_probed_one_request_at_a_time_at_doubling_waits() -> None:
    clock = Clock()
    pacer = walled(clock, None)
    probes = []
    for _ in range(4):
        send_times(pacer, clock, 1)
        probes.append(clock.now)
        pacer.on_rate_limited(1.0)  # "1": whole seconds cannot say "soon"
    waits = [b - a for a, b in itertools.pairwise(probes)]
    assert waits == pytest.approx([0.2, 0.4, 0.8], abs=0.01)

    async def two_at_once() -> list[float]:
        async def one() -> float:
            await pacer.acquire()
            if pacer.walls and pacer._wall_until is not None:
                pacer.on_success()  # the probe got through: the wall is down
            return clock.now

        return list(await asyncio.gather(one(), one()))

    first, second = asyncio.run(two_at_once())
    assert second > first  # the second waited for the probe's answer
    # Behind the wall nothing was learned; its fall ends a cycle (run start to fall, 2.5 s)
    # whose admissions lower the pace once more, to a known limit's floor at most.
    assert pacer.decreases == 2 and pacer.rate >= TUNING.known_floor * 100


def test_a_probe_without_an_answer_lets_another_probe() -> None:
    clock = Clock()
    pacer = walled(clock, None)
    send_times(pacer, clock, 1)
    pacer.on_no_answer()
    before = clock.now
    send_times(pacer, clock, 1)
    assert clock.now - before < 0.1


def test_a_bad_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestPacer(0)


def test_a_quota_told_spent_is_a_wall_until_it_is_whole_probed_a_second_early() -> None:
    clock = Clock()
    pacer = pacer_on(clock, 100)
    pacer.on_quota(5, 3.0)  # some left: nothing changes
    assert pacer.wall_until is None
    pacer.on_quota(0, 3.0)  # none left, whole again in at most 3 s (rounded up)
    assert pacer.wall_until == pytest.approx(2.0)
    first = send_times(pacer, clock, 1)[0]
    assert first == pytest.approx(2.0, abs=0.01)  # one probe, no volley into the wall
    pacer.on_success()
    assert pacer.wall_until is None
    pacer = pacer_on(clock, None)
    pacer.on_quota(0, 0.4)  # under a second: believed as it is
    assert pacer.wall_until == pytest.approx(clock.now + 0.4)
    clock.now += 1.0
    pacer.on_quota(0, 1.0)  # up to a second, rounded up: spent now, probed at once
    assert pacer.wall_until == pytest.approx(clock.now + DEFAULTS.pacer.first_probe_s)


def test_a_known_pace_that_is_not_refused_ends_windows_of_a_second_without_a_wall() -> None:
    """A known pace of 99 a second into windows of 100 that tell their count ends each with
    little left: walled there a probe's wait at least, it got 92% of the limit, where the same
    windows untold give 99%. Once it is refused (the limit set too high), the walls are back."""
    clock = Clock()
    pacer = pacer_on(clock, 100)
    pacer.on_quota(0, 1.0, out=3)
    assert pacer.wall_until is None
    pacer.on_quota(0, 4.0, out=3)  # a longer quota spent (another client's share): a wall
    assert pacer.wall_until == pytest.approx(clock.now + 3.0)
    pacer = pacer_on(clock, 100)
    pacer.on_rate_limited(None)
    pacer.on_quota(0, 1.0, out=3)
    assert pacer.wall_until == pytest.approx(clock.now + DEFAULTS.pacer.first_probe_s)


def test_what_remains_goes_to_the_requests_out_and_their_refusals_keep_the_told_wall() -> None:
    clock = Clock()
    pacer = pacer_on(clock, 100)
    pacer.on_quota(3, 5.0, out=2)  # more left than is out: go on
    assert pacer.wall_until is None
    pacer.on_quota(3, 5.0, out=3)  # the three out take the rest
    assert pacer.wall_until == pytest.approx(4.0)
    clock.now += 0.2
    for _ in range(3):  # more out than the count said: refused, and no sooner for it
        pacer.on_rate_limited(None)
    assert pacer.wall_until == pytest.approx(4.0)
    assert send_times(pacer, clock, 1)[0] == pytest.approx(4.0, abs=0.01)


def against_fixed_windows(
    pacer: RequestPacer,
    clock: Clock,
    window_s: float,
    per_window: int,
    until: float,
    retry_after_s: float | None,
) -> tuple[dict[int, int], list[float]]:
    """Send through ``pacer`` until ``until`` against fixed windows of ``per_window`` requests
    each ``window_s`` (turning at multiples of it, whatever the pacer's start), answered at
    once: what each window admitted, and when requests were refused."""
    used: dict[int, int] = {}
    refused_at: list[float] = []

    async def run() -> None:
        while clock.now < until:
            await pacer.acquire()
            window = int(clock.now // window_s)
            used[window] = used.get(window, 0) + 1
            if used[window] <= per_window:
                pacer.on_success(0.04)
            else:
                refused_at.append(clock.now)
                pacer.on_rate_limited(retry_after_s)

    asyncio.run(run())
    return used, refused_at


def test_a_cycle_the_pace_held_under_what_got_through_is_no_reading_of_the_gateway() -> None:
    """A gateway that admits everything but two spells of 0.3 s, at 2 s and at 8 s. After the
    first the pace climbs from 30 a second (no ceiling, as walls letting a trickle through leave
    it) to about 70: over the cycle from one wall's fall to the next, 45 a second got through,
    the pace's own mean. Read as the gateway's figure, that was the pace and a sure ceiling (a
    sliding count of 100 still draining our first burst read 49/s so, and held the run there
    for 20 s). The reading at the second wall stands."""
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    pacer.rate = 30.0

    def through(until: float) -> None:
        async def run() -> None:
            while clock.now < until:
                await pacer.acquire()
                if 2.0 <= clock.now < 2.3 or 8.0 <= clock.now < 8.3:
                    pacer.on_rate_limited(None)
                else:
                    pacer.on_success(0.04)

        asyncio.run(run())

    through(2.6)
    assert pacer.walls == 1 and pacer.wall_until is None
    pacer.rate, pacer.ceiling = 30.0, None
    through(9.0)
    assert pacer.walls == 2 and pacer.wall_until is None
    assert pacer.ceiling is not None and pacer.ceiling > 60  # the mean was 45
    assert pacer.rate > 58


def test_a_cycle_whose_fall_was_found_roughly_starts_slow_start_again() -> None:
    """A count that counts refusals stands past its window while its probes, ever further
    apart, are refused and add to it: it falls somewhere in the last 2 s between probes. Only
    the probes got through over that cycle, 3.6 a second of a gateway of 100, which was the
    pace, probed up by 10% each half second: 25 s back to 100. The pace is found again as at
    the start, doubling from what got through."""
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    pacer.rate = 200.0

    async def run() -> None:
        while pacer.walls == 0 or pacer.wall_until is not None:
            await pacer.acquire()
            if 1.0 <= clock.now < 5.5:
                pacer.on_rate_limited(None)
            else:
                pacer.on_success(0.04)

    asyncio.run(run())
    assert pacer.ceiling is None and pacer.slow_start
    fell, until = pacer.rate, clock.now + 1.0

    async def on() -> None:
        while clock.now < until:
            await pacer.acquire()
            pacer.on_success(0.04)

    asyncio.run(on())
    assert pacer.rate >= 4 * fell  # doubling, not 10% each half second


def test_windows_of_ten_seconds_are_spent_evenly_after_the_first() -> None:
    """A fixed window of 1,000 each 10 s, no Retry-After: the slow start spends the first in a
    second, and the wall stands until it turns. What got through over the cycle (wall's fall
    to wall's fall) is 100 a second, and a ceiling: probed past quickly, each window was spent
    in half of it and walled for the rest (a wall refuses what is in flight, and its probes)."""
    clock = Clock()
    clock.now = 3.7  # the windows turn at whole tens of seconds
    pacer = pacer_on(clock, None)
    used, refused_at = against_fixed_windows(pacer, clock, 10.0, 1000, 80.0, None)
    assert pacer.ceiling is not None and 90 <= pacer.ceiling <= 105
    later = range(2, 7)  # the windows 20-70 s, after the first whole one
    assert sum(min(used.get(w, 0), 1000) for w in later) >= 0.9 * 1000 * len(later)
    late = [t for t in refused_at if t >= 20.0]
    assert len(late) <= 4 * len(later), late  # a wall every other window at most, not each


def test_fixed_windows_of_a_second_settle_the_pace_under_them() -> None:
    """A fixed window of 100 a second, its phase not the clock's, answering ``Retry-After: 1``:
    each window's end refuses a run of requests and walls the pacer until the next opens. What
    got through over a whole cycle (wall to wall) is 100 a second; counted since the wall fell,
    a second's admissions read 10% high, and the pace held there refused every second."""
    clock = Clock()
    clock.now = 0.37  # the gateway's windows turn at whole seconds
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    pacer.rate = 110.0
    used: dict[int, int] = {}
    refused_at: list[float] = []

    async def run() -> None:
        while clock.now < 12.0:
            await pacer.acquire()
            window = int(clock.now)
            used[window] = used.get(window, 0) + 1
            if used[window] <= 100:
                pacer.on_success(0.04)
            else:
                refused_at.append(clock.now)
                pacer.on_rate_limited(1.0)

    asyncio.run(run())
    assert pacer.rate <= 100.0
    late = [t for t in refused_at if t >= 6.0]
    assert len(late) <= 6, late  # 6 s at the limit: a probe's few, not 10 a second


def test_a_refusal_sent_after_slow_start_ended_corrects_its_figure_once() -> None:
    """A window or log of a second admits its whole 100 at once: over slow start's last half
    second that read 200 a second. The first refusal of a send paced after slow start ended
    reads again, over the second since the first send; one sent before it says nothing new."""
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.rate = 400.0
    send_times(pacer, clock, 1)  # the first send
    clock.now = 0.5
    admitted_for(pacer, clock, 0.5, 200)  # the window's 100 in the last half second
    pacer.on_rate_limited(None, sent_at=clock.now - 0.01)
    ended = clock.now
    assert pacer.rate == pytest.approx(200 * TUNING.backoff, rel=0.05)
    clock.now += 0.05
    pacer.on_rate_limited(None, sent_at=ended - 0.01)  # in flight when slow start ended
    assert pacer.rate == pytest.approx(200 * TUNING.backoff, rel=0.05)
    pacer.on_rate_limited(None, sent_at=ended + 0.02)  # paced after it: news
    assert pacer.rate == pytest.approx(100 * TUNING.backoff, rel=0.1)
    assert pacer.ceiling is None  # still the start's figure: probed from quickly
    before = pacer.rate
    pacer.on_rate_limited(None, sent_at=ended + 0.03)  # once only
    assert pacer.rate == before


def test_a_window_of_a_minute_holds_its_ceiling_a_minute() -> None:
    """A fixed window of 6,000 a minute: its ceiling (100 a second) is probed past by 15% at
    most until a window has gone by, since none says more sooner. Forgotten after 15 s of
    gentle probes, the quick ones spent the second window in 28 s and walled the rest."""
    clock = Clock()
    clock.now = 12.5
    pacer = pacer_on(clock, None)
    used, refused_at = against_fixed_windows(pacer, clock, 60.0, 6000, 240.0, None)
    for window in (2, 3):
        spent = [t for t in refused_at if window * 60 <= t < (window + 1) * 60]
        assert not spent or min(spent) - window * 60 >= 45, (window, spent[:3])
        assert used[window] >= 0.9 * 6000


def test_a_cap_in_flight_found_to_be_none_takes_the_pace_back_to_what_got_through() -> None:
    """While a cap held the run, slots went out faster than requests did, and the pace was
    probed far past what got through; the cap forgotten, the pace is what got through."""
    clock = Clock()
    pacer = pacer_on(clock, None)
    pacer.slow_start = False
    admitted_for(pacer, clock, 2.0, 185)  # what the cap let through
    pacer.rate = 290.0  # probed on while the cap held the sends
    pacer.on_cap_lost()
    assert 170 <= pacer.rate <= 190
    pacer.on_cap_lost()  # never raised by it
    assert pacer.rate <= 190
