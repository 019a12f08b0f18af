"""One API budget for the runs of a target: fair shares, 429s and walls passed on, a lapsed
run's share reclaimed; and two real ``custsync sync`` processes keeping within one limit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.api.pacing.pacer import RequestPacer
from connectors.api.pacing.shared_budget import (
    SharedBudget,
    allocate,
    budget_key,
    found_pace,
)
from connectors.api.targets import Credentials
from connectors.state.store import opener
from connectors.tuning import DEFAULTS
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.helpers import KEY, ROOT, USER, export, people


def test_shares_are_max_min_fair() -> None:
    assert allocate(90, [None, None, None]) == pytest.approx([30, 30, 30])
    # One needs little: the rest is split among the others.
    assert allocate(90, [None, 10, None]) == pytest.approx([40, 10, 40])
    assert allocate(90, [100, None]) == pytest.approx([45, 45])
    assert allocate(90, [10, 20]) == pytest.approx([40, 50])  # the idle 60 split evenly


def test_the_budget_is_per_target_and_credentials_and_holds_no_secret() -> None:
    alice = Credentials(user_uid="alice", api_key="secret-1")
    same = budget_key("https://api.example/v2/", Credentials(user_uid="alice", api_key="other"))
    assert budget_key("https://api.example/v2", alice) == same
    assert budget_key("https://api.example/v2", Credentials(user_uid="bob")) != same
    assert budget_key("https://other.example/v2", alice) != same
    assert "secret" not in same and "alice" not in same


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def budgets(location: str, rate: float | None, count: int) -> tuple[Clock, list[SharedBudget]]:
    clock = Clock()
    made = []
    for n in range(count):
        pacer = RequestPacer(rate, clock)
        made.append(SharedBudget(opener(location), "key", f"run-{n}", pacer, wall_clock=clock))
    return clock, made


def beat_all(budgets: list[SharedBudget]) -> None:
    async def go() -> None:
        for budget in budgets:
            await budget.beat_once()

    asyncio.run(go())


def test_a_known_limit_is_divided_and_a_lapsed_runs_share_reclaimed(tmp_path: Path) -> None:
    clock, (a, b, c) = budgets(str(tmp_path / "state.db"), 90, 3)
    for _ in range(3):  # a share grows into what the others no longer hold: a beat later
        beat_all([a, b, c])
        held = sum(x.pacer.allocation or 0 for x in (a, b, c))
        assert held <= 90 * 1.001 + 2 * DEFAULTS.pacer.min_rate  # (a share is never under it)
    assert [x.pacer.rate for x in (a, b, c)] == pytest.approx([30 * DEFAULTS.pacer.known_share] * 3)
    assert a.peers == 3
    clock.now += DEFAULTS.budget.lease_s + 0.5  # b and c were killed: their leases lapse
    beat_all([a])
    assert a.peers == 1 and a.pacer.rate == pytest.approx(90 * DEFAULTS.pacer.known_share)


def sending(clock: Clock, budgets: list[SharedBudget], rate: float, admitted: int) -> None:
    """A second and a half later: each run past slow start at ``rate``, ``admitted`` of its
    sends got through evenly over the last second; each has read the others' leases."""
    clock.now += 1.5
    for budget in budgets:
        budget.pacer.slow_start = False
        budget.pacer.rate = rate
        budget.pacer._admitted.clear()
        for n in reversed(range(admitted)):
            budget.pacer._admitted.append(clock.now - (n + 0.5) / admitted)
            budget.pacer._sent.append(clock.now - (n + 0.5) / admitted)
    beat_all(budgets)
    beat_all(budgets)


def first_429(clock: Clock, runs: list[SharedBudget], through_each: int) -> None:
    sending(clock, runs, 60.0, through_each)
    runs[0].pacer.on_rate_limited(1.0)
    beat_all(runs)


def test_a_429_drawn_by_one_run_slows_the_others_to_their_part_of_the_limit(
    tmp_path: Path,
) -> None:
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    first_429(clock, [a, b], 50)
    # Together they got 100/s through when a drew its 429: each now paces half of it, and
    # since a first finding is rough, they probe up quickly.
    first = found_pace(100, 0.0, rough=True)
    assert first is not None and first < 100 * 1.01
    assert b.pacer.rate == pytest.approx(first / 2)
    assert a.pacer.allocation == pytest.approx(first / 2)
    for _ in range(3):  # as fast as what gets through says
        getting_through(clock, [a, b])
    assert b.pacer.rate > 100 / 2 * 1.2
    # A second finding near the first confirms it: just under it from there, gently.
    first_429(clock, [a, b], 52)
    assert (
        b.pacer.rate
        == pytest.approx(a.pacer.rate)
        == pytest.approx(104 * DEFAULTS.pacer.backoff / 2)
    )
    clock.now += 2.0
    beat_all([a, b])
    assert 104 * DEFAULTS.pacer.backoff / 2 < b.pacer.rate < 104 / 2


def test_a_run_that_joins_or_leaves_moves_the_parts_at_once(tmp_path: Path) -> None:
    location = str(tmp_path / "state.db")
    clock, (a, b) = budgets(location, None, 2)
    first_429(clock, [a, b], 50)
    first_429(clock, [a, b], 50)  # confirmed
    late = SharedBudget(
        opener(location), "key", "run-late", RequestPacer(None, clock), wall_clock=clock
    )
    beat_all([a, b, late])
    beat_all([a, b, late])
    assert not late.pacer.slow_start  # no slow start into a limit already found
    parts = [x.pacer.allocation for x in (a, b, late)]
    assert all(part is not None and part > 0 for part in parts)
    assert sum(part for part in parts if part is not None) == pytest.approx(
        100 * DEFAULTS.pacer.backoff
    )
    clock.now += (
        DEFAULTS.budget.lease_s + 0.5
    )  # a and late were killed: b has it all at its next beat
    beat_all([b])
    assert b.pacer.allocation is None and b.pacer.rate >= 100 * DEFAULTS.pacer.backoff
    assert b.pacer.ceiling == pytest.approx(100)


@pytest.mark.parametrize("rate", [90.0, None])
def test_a_run_that_joins_takes_what_the_others_leave_until_they_have_seen_it(
    tmp_path: Path, rate: float | None
) -> None:
    """The others learn of a new run at their next beats, up to half a second later, and
    meanwhile send their old shares: shards joining one by one each added a share for that
    long, and the API saw seconds of 115-138 of a limit of 100."""
    location = str(tmp_path / "state.db")
    clock, (a, b) = budgets(location, rate, 2)
    if rate is None:
        first_429(clock, [a, b], 50)
        first_429(clock, [a, b], 50)  # confirmed: 100/s
    else:
        sending(clock, [a, b], 45.0, 45)
        beat_all([a, b])  # b grows into what a no longer holds, as a says so
    total = (a.pacer.allocation or 0) + (b.pacer.allocation or 0)
    late = SharedBudget(
        opener(location), "key", "run-late", RequestPacer(rate, clock), wall_clock=clock
    )
    beat_all([late])  # a and b have not seen it: they still send their shares
    used = a.pacer.allocation or 0
    assert late.pacer.rate <= max(DEFAULTS.pacer.min_rate, total - 2 * 45) + 0.01
    beat_all([a, b, late])  # now they have (and, told the limit, say so a beat later)
    if rate is not None:
        assert sum(x.pacer.allocation or 0 for x in (a, b, late)) <= total * 1.001
        beat_all([a, b, late])
    assert late.pacer.allocation == pytest.approx(a.pacer.allocation, rel=0.05)
    assert (a.pacer.allocation or 0) < used
    assert sum(x.pacer.allocation or 0 for x in (a, b, late)) == pytest.approx(total, rel=0.05)


def test_told_the_limit_a_run_grows_only_into_what_the_others_no_longer_hold(
    tmp_path: Path,
) -> None:
    """The first shard's run said it wanted 1 at its first beat (it had sent nothing yet),
    then paced at all of the limit; the next run read that and took half, and the API saw
    130 in a second of a limit of 100 (bench/RESULTS.md, --told)."""
    location = str(tmp_path / "state.db")
    clock, (a,) = budgets(location, 100, 1)
    clock.now += 1.5  # started a while ago, sent nothing yet: "wants 1"
    beat_all([a])
    assert a.pacer.allocation == pytest.approx(100 * DEFAULTS.pacer.known_share)
    late = SharedBudget(
        opener(location), "key", "run-late", RequestPacer(100, clock), wall_clock=clock
    )
    for _ in range(4):
        for run in (late, a):
            run.pacer._held_since_snapshot = True  # sending, held back by its share
            beat_all([run])
            assert (a.pacer.allocation or 0) + (late.pacer.allocation or 0) <= 100 * 1.001
    assert late.pacer.allocation == pytest.approx(a.pacer.allocation, rel=0.05)


@pytest.mark.parametrize("rate", [100.0, None])
def test_a_run_that_joins_runs_held_back_by_their_shares_waits_to_be_seen(
    tmp_path: Path, rate: float | None
) -> None:
    """Runs held back by their shares hold all of them until they see a newcomer, whatever
    they got through lately: two shards that joined a killed worker's migration read the
    others' dip (26 of a share of 35.8 each) as budget unused, took 27 and 22 on top, and
    the API saw 160 in a second of a limit of 100."""
    location = str(tmp_path / "state.db")
    clock, (a, b) = budgets(location, rate, 2)
    if rate is None:
        first_429(clock, [a, b], 50)
        first_429(clock, [a, b], 50)  # confirmed: 100/s
    sending(clock, [a, b], a.pacer.rate, 30)  # a dip: 30 of their shares got through
    for run in (a, b):
        run.pacer._held_since_snapshot = True  # each has requests waiting for their slots
    beat_all([a, b])
    late = SharedBudget(
        opener(location), "key", "run-late", RequestPacer(rate, clock), wall_clock=clock
    )
    beat_all([late])
    assert late.pacer.rate <= DEFAULTS.pacer.min_rate + 0.01


def test_a_run_that_joins_one_pacing_alone_past_its_first_finding_shares_its_pace(
    tmp_path: Path,
) -> None:
    """A shard that started first found the limit alone (rough: the first finding) and went
    on pacing alone past it. The next took the store's copy of that finding as a kept,
    confirmed one and its share of it, while the first still sent all of it: 121-130 a
    second of a limit of 100. Nor may the newcomer slow-start on top of the first."""
    location = str(tmp_path / "state.db")
    clock, (a,) = budgets(location, None, 1)
    first_429(clock, [a], 100)  # alone: a rough finding of 100/s
    a.pacer.rate = 98.0
    for _ in range(6):  # 3 s alone, past it: each finds nothing shared to keep to
        a.pacer._held_since_snapshot = True  # held back by its own pace
        getting_through(clock, [a], share=0.98)
    assert a.pacer.allocation is None
    b = SharedBudget(opener(location), "key", "run-b", RequestPacer(None, clock), wall_clock=clock)
    beat_all([b])
    assert not b._found_kept and not b.pacer.slow_start
    assert b.pacer.rate <= DEFAULTS.pacer.min_rate + 0.01  # a has not seen it yet
    for run in (a, b, a, b):  # each at its next two beats
        clock.now += 0.1
        beat_all([run])
    total = (a.pacer.allocation or 0) + (b.pacer.allocation or 0)
    assert a.pacer.allocation is not None and b.pacer.allocation is not None
    # One pace between them, probed up quickly (one probe) past just under the finding, or
    # what got through (96/s) if more: not a's 98 and b's share on top.
    under = max(100 * DEFAULTS.pacer.backoff, 96)
    assert total <= under * DEFAULTS.budget.quick_probe * 1.01


def test_a_finding_is_probed_past_and_forgotten_when_the_limit_rose(tmp_path: Path) -> None:
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    first_429(clock, [a, b], 50)
    for _ in range(24):  # 12 s of beats, no 429: what got through passed twice the finding
        getting_through(clock, [a, b])
    assert a.pacer.allocation is None and b.pacer.allocation is None
    # Nothing is known any more: each finds the limit as at its start, doubling, not by
    # probes of 10% from its part of a finding read too early.
    assert a.pacer.slow_start and b.pacer.slow_start


def test_a_confirmed_finding_is_probed_gently_past_it_and_a_rough_one_quickly() -> None:
    over = DEFAULTS.budget.probe_over
    assert found_pace(100, 0.0) == pytest.approx(100 * DEFAULTS.pacer.backoff)
    assert 100 < (found_pace(100, 5.0) or 0) < 105  # gently past it
    # Never far past it however long no 429 comes, unless more gets through: the limit rose.
    assert found_pace(100, 600.0, through=60) == pytest.approx(100 * DEFAULTS.pacer.backoff * over)
    assert found_pace(100, 600.0, through=150, full_s=600) == pytest.approx(150 * over)
    # What got through since a dip is a bucket filled in it, drained: not yet a risen limit.
    assert found_pace(100, 600.0, through=150, full_s=10) == pytest.approx(
        100 * DEFAULTS.pacer.backoff * over
    )
    # Read while speeding up: quickly, as far as what gets through goes.
    assert (found_pace(100, 1.0, rough=True, through=140) or 0) > 150
    assert found_pace(100, 4.0, rough=True, through=190) is None  # past twice it: forgotten
    # Behind a wall nothing gets through: the clock alone passes nothing, and the pace stays
    # just under the finding. (Grown by the clock, six runs forgot the finding and
    # slow-started at once into a refilled bucket: 197 a second.)
    assert found_pace(100, 4.0, rough=True) == pytest.approx(100 * DEFAULTS.pacer.backoff)
    # A little getting through (a rough finding read in a slow start holds a bucket's burst):
    # still just under it, not a probe past it.
    assert found_pace(100, 4.0, rough=True, through=40) == pytest.approx(
        100 * DEFAULTS.pacer.backoff
    )


def test_a_newer_rough_finding_replaces_a_confirmed_one_for_every_run(tmp_path: Path) -> None:
    """The limit fell (another client took part of it): a finding far from the confirmed
    one is rough, and newer, whichever run drew it."""
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    first_429(clock, [a, b], 50)
    first_429(clock, [a, b], 50)  # confirmed: 100/s
    first_429(clock, [a, b], 30)  # 60/s got through now
    assert b.pacer.allocation == pytest.approx(60 * DEFAULTS.pacer.backoff / 2, rel=0.05)
    assert a.pacer.allocation == pytest.approx(b.pacer.allocation)


def admitting(clock: Clock, run: SharedBudget, admitted: int) -> None:
    """``admitted`` of this run's sends got through evenly over the last half second (told
    to no lease yet)."""
    run.pacer.slow_start = False
    run.pacer._admitted.clear()
    for n in reversed(range(admitted)):
        run.pacer._admitted.append(clock.now - (n + 0.5) / admitted / 2)
        run.pacer._sent.append(clock.now - (n + 0.5) / admitted / 2)


def test_a_volley_of_429s_reads_what_every_run_got_through_at_that_moment(
    tmp_path: Path,
) -> None:
    """Every run refused at once, each beating at once: the first to beat read its peers'
    leases from before they sent (0), and the newest finding, 20 of a limit of 100, drew a
    slow start again that sent 166 in a second. A finding reads the leases as they are."""
    clock, runs = budgets(str(tmp_path / "state.db"), None, 3)
    beat_all(runs)  # all just started: each lease says 0 got through
    clock.now += 0.4
    for run in runs:
        admitting(clock, run, 20)  # 40/s each, 120/s together
    for run in runs:  # each refused, each beating at once, in turn
        run.pacer.on_rate_limited(1.0)
        beat_all([run])
        clock.now += 0.01
    beat_all(runs)
    found = [run._found[0] for run in runs if run._found is not None]
    assert found == [pytest.approx(120, rel=0.05)] * 3
    assert all(run._found_rough for run in runs)
    total = sum(run.pacer.allocation or 0.0 for run in runs)
    assert total == pytest.approx(found_pace(120, 0.0, rough=True), rel=0.05)


def test_a_finding_read_again_in_the_same_volley_confirms_nothing(tmp_path: Path) -> None:
    """Two runs refused a tenth of a second apart read the same moment: only a finding a
    volley later, near it, makes it the limit (probed gently, never far past)."""
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    sending(clock, [a, b], 60.0, 50)
    a.pacer.on_rate_limited(1.0)
    beat_all([a, b])
    clock.now += 0.1
    admitting(clock, b, 25)  # still 50/s
    b.pacer.on_rate_limited(1.0)
    beat_all([b, a])
    assert a._found_rough and b._found_rough
    first_429(clock, [a, b], 50)  # a volley later, near it: confirmed
    assert not a._found_rough and not b._found_rough


def test_a_finding_far_from_the_last_is_rough_even_within_a_second_of_it(
    tmp_path: Path,
) -> None:
    """A full bucket's burst read 298 of a limit of 100 and was confirmed by another such
    reading; 0.7 s later, its wall's refusals read 60, which kept that confirmation as one of
    the same volley. Far from the last, a finding is rough whenever it comes."""
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    first_429(clock, [a, b], 150)
    first_429(clock, [a, b], 150)  # 300/s twice: confirmed
    assert not a._found_rough
    clock.now += 0.5
    for run in (a, b):
        admitting(clock, run, 15)  # 30/s each now
    beat_all([a])  # a's lease says so
    b.pacer.on_rate_limited(1.0)  # b's first 429: a finding
    beat_all([b, a])
    assert a._found is not None and a._found[0] == pytest.approx(60, rel=0.1)
    assert a._found_rough and b._found_rough


def test_the_last_run_left_takes_the_finding_not_the_runs_cap_grown_while_they_idled(
    tmp_path: Path,
) -> None:
    """Shards ending send little: a token bucket fills while the runs' cap (probe_over past a
    confirmed finding) still stands. The last run, given all of that cap at once, drew 118-122
    a second of a limit of 100 for 4 s."""
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    first_429(clock, [a, b], 50)
    first_429(clock, [a, b], 50)  # confirmed: 100/s
    for _ in range(30):  # 15 s of a fifth of the pace getting through
        getting_through(clock, [a, b], share=0.2)
    asyncio.run(a.stop())
    getting_through(clock, [b], share=0.2)
    assert b.pacer.allocation is None  # alone: paced as a run alone
    assert b.pacer.rate <= 100 * DEFAULTS.pacer.backoff + 0.01
    assert b.pacer.ceiling == pytest.approx(100) and b.pacer.ceiling_sure


def found_then_ended(location: str) -> Clock:
    """Two runs found the limit (100/s together) and ended: only the store's kept finding
    is left."""
    clock, (a, b) = budgets(location, None, 2)
    first_429(clock, [a, b], 50)

    async def leave() -> None:
        for run in (a, b):
            await run.stop()

    asyncio.run(leave())
    return clock


def test_a_run_that_starts_after_the_others_ended_starts_from_their_finding(
    tmp_path: Path,
) -> None:
    # A killed shard's replacement starts when the live shards have ended: their leases are
    # gone, and a slow start from 40/s found the limit all over again (a tenth of it for
    # seconds). The store keeps the newest finding past the leases.
    location = str(tmp_path / "state.db")
    clock = found_then_ended(location)
    clock.now += 600.0
    late = SharedBudget(
        opener(location), "key", "late", RequestPacer(None, clock), wall_clock=clock
    )
    beat_all([late])
    assert not late.pacer.slow_start
    assert late.pacer.rate == pytest.approx(100 * DEFAULTS.pacer.backoff)
    assert late.pacer.ceiling == pytest.approx(100)
    # Kept an hour at most: a finding older than that is no guide.
    clock.now += DEFAULTS.budget.kept_s + 1.0
    asyncio.run(late.stop())
    later = SharedBudget(
        opener(location), "key", "later", RequestPacer(None, clock), wall_clock=clock
    )
    beat_all([later])
    assert later.pacer.slow_start and later.pacer.rate == DEFAULTS.pacer.start_rate


@pytest.mark.parametrize("count", [1, 2])
def test_runs_started_from_a_kept_finding_stay_just_under_it_until_a_429_says_more(
    tmp_path: Path, count: int
) -> None:
    # A killed worker's two shards start again after the stall, from the store's finding.
    # Probed quickly after 4 s, they sent 1.38x the limit for a second: the gateway's bucket,
    # full after the stall, admitted it.
    location = str(tmp_path / "state.db")
    clock = found_then_ended(location)
    clock.now += 60.0
    runs = [
        SharedBudget(
            opener(location), "key", f"new-{n}", RequestPacer(None, clock), wall_clock=clock
        )
        for n in range(count)
    ]
    beat_all(runs)  # the first beat of each (the second to start joins the first)
    most = 0.0
    for _ in range(int(DEFAULTS.budget.kept_gentle_s)):  # no 429 meanwhile
        beat_all(runs)
        for run in runs:  # each pacer's own calm probes too
            run.pacer._last_429 = clock.now - 10.0
            run.pacer.on_success()
        most = max(most, sum(run.pacer.rate for run in runs))
        clock.now += 1.0
    assert 100 * DEFAULTS.pacer.backoff <= most <= 100 * DEFAULTS.budget.kept_most + 0.01
    for _ in range(4):  # then no 429 for long, but nothing more got through: no further
        beat_all(runs)
        clock.now += 1.0
    assert sum(run.pacer.rate for run in runs) <= 100 * DEFAULTS.budget.probe_over + 0.01
    # All of it gets through: the limit rose since, probed quickly once it has for
    # risen_after_s (a bucket filled in the stall is drained by then).
    for _ in range(int(DEFAULTS.budget.risen_after_s / DEFAULTS.budget.beat_s) + 10):
        getting_through(clock, runs)
    assert sum(run.pacer.rate for run in runs) > 100 * DEFAULTS.budget.kept_most * 1.2


def getting_through(clock: Clock, runs: list[SharedBudget], share: float = 1.0) -> None:
    """Half a second on: ``share`` of each run's pace got through over the last second."""
    clock.now += 0.5
    for run in runs:
        run.pacer._admitted.clear()
        admitted = max(1, int(run.pacer.rate * share))
        for n in reversed(range(admitted)):
            run.pacer._admitted.append(clock.now - (n + 0.5) / admitted)
    beat_all(runs)


def test_a_confirmed_finding_is_probed_past_by_what_gets_through_not_by_the_clock(
    tmp_path: Path,
) -> None:
    """Runs that send under a confirmed finding (shards searching, one ending) let a token
    bucket fill: probes timed from the finding then drew seconds of 1.2-1.7x the limit from
    it, and slow start at twice the finding. A limit that rose is followed once what gets
    through says so, gently (the finding's age has long passed what 1% a second needs)."""
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    first_429(clock, [a, b], 50)
    first_429(clock, [a, b], 50)  # confirmed: 100/s
    most = 0.0
    for _ in range(80):  # 40 s, no 429, a third of the pace getting through
        getting_through(clock, [a, b], share=0.3)
        most = max(most, a.pacer.rate + b.pacer.rate)
        assert not a.pacer.slow_start and not b.pacer.slow_start
    assert most <= 100 * DEFAULTS.budget.probe_over + 0.01
    # Now all of it gets through, and more would: followed up once it has for risen_after_s
    # (a bucket filled meanwhile is drained by then).
    for _ in range(int(DEFAULTS.budget.risen_after_s / DEFAULTS.budget.beat_s) + 10):
        getting_through(clock, [a, b])
    assert a.pacer.rate + b.pacer.rate > 100 * DEFAULTS.budget.probe_over * 1.25


def test_after_a_dip_the_runs_probe_no_further_than_the_cap_while_a_bucket_drains(
    tmp_path: Path,
) -> None:
    """A worker killed: the live runs sent 70 of 100 for 3 s while its leases lapsed, the
    gateway's bucket filled, and it admitted all they sent after. Their cap, raised by what
    got through, let the finding's probe (1% a second) climb to 1.18x: seconds of 111-118."""
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    first_429(clock, [a, b], 50)
    first_429(clock, [a, b], 50)  # confirmed: 100/s
    for _ in range(6):  # 3 s of a dip
        getting_through(clock, [a, b], share=0.7)
    most = 0.0
    for _ in range(40):  # 20 s: all gets through, the bucket draining
        getting_through(clock, [a, b])
        most = max(most, a.pacer.rate + b.pacer.rate)
    # (Shares computed at different beats from wants that moved meanwhile sum to a little
    # more than the pace for a beat: 3% here. Before, the climb reached 1.18x.)
    assert most <= 100 * DEFAULTS.pacer.backoff * DEFAULTS.budget.probe_over * 1.03


def test_a_wall_found_by_one_run_holds_the_others(tmp_path: Path) -> None:
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    beat_all([a, b])
    for _ in range(4):
        a.pacer.on_rate_limited(30.0)  # a spent window, 30 s to go
    beat_all([a, b])
    assert b.pacer.wall_until == pytest.approx(clock.now + 29.0, abs=0.1)  # probed 1 s early


@pytest.mark.slow
def test_two_processes_on_one_store_stay_within_one_limit(location: str, tmp_path: Path) -> None:
    state = location
    faults = FaultSettings(rate_limit=30, burst=3, latency_ms=20)
    env = {**os.environ, "VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": KEY}
    with SandboxProcess(users={USER: KEY}, faults=faults) as server:
        runs = []
        started = time.perf_counter()
        for name in ("north", "south"):
            source = export(tmp_path / f"{name}.csv", people(150))
            runs.append(subprocess.Popen(
                [sys.executable, "-m", "flows", "-q", "sync", str(source), "--target", server.url,
                 "--entity-id", name, "--state", state, "--rate-limit", "30",
                 "--out", str(tmp_path / name)],
                env=env, cwd=ROOT,
            ))  # fmt: skip
        assert [run.wait(timeout=120) for run in runs] == [0, 0]
        elapsed = time.perf_counter() - started
        stats = server.stats()
    assert stats["writes"]["create"] == 300
    # Each alone would pace 29.7/s: two at once, unshared, would draw 429s by the hundred.
    # Shared, a few at most: arrivals at a burst-3 bucket jitter on 2 busy cores (7 seen once
    # in a serial run, bench/shared_budget.py for the figures).
    assert stats["rate_limited"] <= 15
    assert elapsed >= 300 / 30 * 0.9
