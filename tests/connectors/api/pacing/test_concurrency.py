from __future__ import annotations

import random

from connectors.api.pacing.concurrency import InFlightCap, default_concurrency
from connectors.tuning import DEFAULTS


def test_default_concurrency_follows_the_rate() -> None:
    assert default_concurrency(None) == 64
    assert [default_concurrency(r) for r in (1, 10, 100, 1_000)] == [4, 11, 101, 256]


def test_a_cap_on_requests_in_flight_is_learnt_from_which_sends_were_refused() -> None:
    cap = InFlightCap()
    now = 0.0
    for _ in range(20):  # out at each send 4..10; the gateway admits 8 at most
        for out in range(4, 11):
            now += 0.01
            cap.observe(out, out > 8, now)
    assert cap.limit == 8
    assert cap.allows(7) and not cap.allows(8)


def test_a_rate_limit_refusing_a_few_at_every_number_out_is_no_cap() -> None:
    cap = InFlightCap()
    rng = random.Random(7)
    for i in range(2_000):  # 5% refused, whatever the number out
        cap.observe(rng.randint(1, 8), rng.random() < 0.05, i * 0.01)
    assert cap.limit is None and cap.allows(1_000)


def test_a_walls_probes_refused_one_at_a_time_are_no_cap() -> None:
    cap = InFlightCap()
    for i in range(50):  # behind a wall: one probe out, refused
        cap.observe(1, True, i * 0.1)
    assert cap.limit is None


def cap_of_three() -> tuple[InFlightCap, float]:
    """A cap read as 3 (sends with 4 and 5 out refused), holding a send back; and the time."""
    cap = InFlightCap()
    now = 0.0
    for _ in range(40):
        for out in range(1, 6):
            now += 0.01
            cap.observe(out, out > 3, now)
    assert cap.limit == 3
    assert not cap.allows(3)  # it holds a send back
    return cap, now


def test_a_cap_that_held_sends_back_unrefused_grows_by_one() -> None:
    cap, now = cap_of_three()
    relax = DEFAULTS.pacer.cap_relax_s
    cap.observe(2, False, now + relax / 2)
    assert cap.limit == 3  # not calm long enough
    cap.observe(2, False, now + relax + 0.1)
    assert cap.limit == 4
    for i in range(100):  # answers after it: the refusals read before told the old cap
        cap.observe(2 + i % 3, False, now + relax + 0.2 + i * 0.01)
    assert cap.limit == 4


def test_a_refusal_that_came_before_enough_got_through_under_it_is_read_again() -> None:
    cap = InFlightCap()
    now = 0.0
    for out in (1, 2, 1, 2, 3):  # a refusal at 3 out, with only four sends under it yet
        now += 0.05
        cap.observe(out, out > 2, now)
    assert cap.limit is None
    for i in range(120):  # answers under it keep coming, none refused
        now += 0.05
        cap.observe(1 + i % 2, False, now)
    assert cap.limit == 2


def test_a_cap_under_which_sends_are_still_refused_was_no_cap() -> None:
    """A rate limit refuses bunched sends, which also put more out: read as a cap, it is
    forgotten when sends under it are refused too."""
    cap = InFlightCap()
    now = 0.0
    for i in range(150):  # paced: one or two out, all admitted; then one bunch refused
        now += 0.03
        cap.observe(1 + i % 2, False, now)
    cap.observe(3, True, now)
    assert cap.limit == 2
    for i in range(50):
        now += 0.03
        cap.observe(1 + i % 2, i % 25 == 24, now)  # the rate limit refuses under it too
    assert cap.limit is None and cap.allows(64)


def test_a_cap_grown_by_one_and_refused_there_is_back_where_it_was_not_forgotten() -> None:
    """Refusals at the one more a calm cap grew by are the cap's own: two of them, counted as
    refusals under it, forgot a cap of 8 read right, and the requests it held went at once."""
    cap = InFlightCap()
    now = 0.0
    for i in range(150):  # up to three out, all admitted; one send with four out refused
        now += 0.01
        cap.observe(1 + i % 3, False, now)
    cap.observe(4, True, now)
    assert cap.limit == 3 and not cap.allows(3)
    now += DEFAULTS.pacer.cap_relax_s + 0.1
    cap.observe(2, False, now)
    assert cap.limit == 4
    for _ in range(6):  # four out now and then, admitted: the gateway's count lags ours
        now += 0.01
        cap.observe(4, False, now)
    assert cap.observe(4, True, now + 0.01)  # the one more, refused: a cap told
    assert cap.limit == 3
    cap.observe(4, True, now + 0.02)  # sent under the grown cap, answered after
    assert cap.limit == 3 and not cap.allows(3)


def test_a_grown_cap_that_held_unrefused_is_the_cap() -> None:
    cap, now = cap_of_three()
    relax = DEFAULTS.pacer.cap_relax_s
    now += relax + 0.1
    cap.observe(2, False, now)
    assert cap.limit == 4
    for i in range(200):  # four out, held a relax's while, nothing refused
        cap.observe(3 + i % 2, False, now + (i + 1) * relax / 100)
    cap.observe(4, True, now + 2 * relax + 0.1)  # a refusal at it now: no way back to three
    assert cap.limit == 4
