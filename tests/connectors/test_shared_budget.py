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

from connectors.api_config import Credentials
from connectors.rate_limit import KNOWN_SHARE, RequestPacer
from connectors.shared_budget import SharedBudget, allocate, budget_key
from connectors.state.budget import LEASE_S
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.conftest import KEY, USER, export, people

ROOT = Path(__file__).parents[2]


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
        made.append(SharedBudget(location, "key", f"run-{n}", pacer, wall_clock=clock))
    return clock, made


def beat_all(budgets: list[SharedBudget]) -> None:
    async def go() -> None:
        for budget in budgets:
            await budget.beat_once()

    asyncio.run(go())


def test_a_known_limit_is_divided_and_a_lapsed_runs_share_reclaimed(tmp_path: Path) -> None:
    clock, (a, b, c) = budgets(str(tmp_path / "state.db"), 90, 3)
    beat_all([a, b, c])
    beat_all([a, b, c])
    assert [x.pacer.rate for x in (a, b, c)] == pytest.approx([30 * KNOWN_SHARE] * 3)
    assert a.peers == 3
    clock.now += LEASE_S + 0.5  # b and c were killed: their leases lapse
    beat_all([a])
    assert a.peers == 1 and a.pacer.rate == pytest.approx(90 * KNOWN_SHARE)


def test_a_429_drawn_by_one_run_slows_the_others(tmp_path: Path) -> None:
    clock, (a, b) = budgets(str(tmp_path / "state.db"), None, 2)
    for budget in (a, b):
        budget.pacer.slow_start = False
        budget.pacer.rate = 60.0
        for _ in range(50):  # 50 sent and admitted over the last second
            budget.pacer._admitted.append(clock.now + 1.0)
            budget.pacer._sent.append(clock.now + 1.0)
    clock.now += 1.5  # a second after the runs began
    beat_all([a, b])
    a.pacer.on_rate_limited(1.0)
    beat_all([a, b])
    assert b.pacer.rate < 50 and b.pacer.decreases == 1


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
    assert stats["rate_limited"] <= 6
    assert elapsed >= 300 / 30 * 0.9
