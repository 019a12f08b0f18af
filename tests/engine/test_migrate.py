"""The migration's parent against a pool that runs each shard's sync here, for real (the
sandbox on loopback, a SQLite store): shards to their end, a shard whose run stops beating
submitted again, the artefacts merged; what is checked before anything is submitted."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.errors import CustsyncError, InputError, ShardReplacedError
from connectors.state.shard_runs import ShardRuns
from connectors.state.store import StateStore, opener
from connectors.tuning import DEFAULTS
from engine.config import ShardAssignment, SyncConfig
from engine.migrate import (
    Migration,
    MigrationProgress,
    credentials_parameters,
    for_workers,
    plan_migration,
)
from engine.shard_heartbeat import ShardHeartbeat
from engine.sync import run_sync
from sandbox.process import SandboxProcess
from schemas.shards import Shard
from tests.helpers import (
    HEADER,
    KEY,
    USER,
    export,
    on_server,
    people,
    person,
    read_csv,
    write,
)  # fmt: skip

TUNING = DEFAULTS.migration


class HerePool:
    """Runs each shard's sync when it is submitted (so its state is known at once); the
    attempts listed in ``dies`` never run: their run says RUNNING and never beats again; those
    in ``never_start`` were taken by a worker that died starting them: PENDING, never a beat;
    those in ``waits`` wait for a worker's free slot: SCHEDULED until withdrawn; those in
    ``runs_at`` run at that look of the parent's (a worker busy until then)."""

    def __init__(
        self,
        dies: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
        never_start: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
        elsewhere: Path | None = None,
        worker_env: dict[str, str | None] | None = None,
        waits: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
        runs_at: dict[tuple[int, int], int] | None = None,
    ) -> None:
        self.dies, self.never_start, self.waits = dies, never_start, waits
        self.runs_at = runs_at or {}
        self.looks = 0
        self.later: dict[int, list[tuple[str, Shard, dict[str, Any]]]] = {}
        self.withdrawn: list[str] = []
        # The environment of the workers' machine, where it differs from the command's. A
        # run that ended does not stay for a dead shard's replacement: here the parent cannot
        # give that shard up while the run is being run (tests below run it beside one).
        self.worker_env = {"CUSTSYNC_SHARD_LINGER_S": "0", **(worker_env or {})}
        # Each shard's files on a disk of its own, gone when it ends (another machine's).
        self.elsewhere = elsewhere
        self.ids = itertools.count()
        self.ended: dict[str, tuple[str, str | None]] = {}
        self.given_up: list[str] = []
        self.attempts: dict[int, int] = {}
        self.blocks: dict[str, Any] = {}

    def submit(self, shard: Shard, parameters: dict[str, Any]) -> str:
        run_id = f"run-{next(self.ids)}"
        self.blocks[shard.label] = parameters.get("credentials_blocks")
        attempt = self.attempts[shard.index] = self.attempts.get(shard.index, 0) + 1
        if (shard.index, attempt) in self.never_start:
            self.ended[run_id] = ("PENDING", None)
            return run_id
        if (shard.index, attempt) in self.dies:
            config = SyncConfig.model_validate(parameters["config"])
            assignment = ShardAssignment.model_validate(parameters["assignment"])
            with StateStore.open(config.state) as store:
                store.shard_runs.beat(assignment.migration_id, shard.label, attempt, 0, 0)
            self.ended[run_id] = ("RUNNING", None)
            return run_id
        if (shard.index, attempt) in self.waits:
            self.ended[run_id] = ("SCHEDULED", None)
            return run_id
        if (shard.index, attempt) in self.runs_at:
            self.ended[run_id] = ("RUNNING", None)
            look = self.runs_at[(shard.index, attempt)]
            self.later.setdefault(look, []).append((run_id, shard, parameters))
            return run_id
        self._run(run_id, shard, parameters)
        return run_id

    def _run(self, run_id: str, shard: Shard, parameters: dict[str, Any]) -> None:
        config = SyncConfig.model_validate(parameters["config"])
        if self.elsewhere is not None:
            config = config.model_copy(update={"out": self.elsewhere / run_id})
        assignment = ShardAssignment.model_validate(parameters["assignment"])
        with pytest.MonkeyPatch.context() as worker:
            for name, value in self.worker_env.items():
                if value is None:
                    worker.delenv(name, raising=False)
                else:
                    worker.setenv(name, value)
            try:
                outcome = run_sync(config, assignment=assignment)
            except CustsyncError as exc:  # its flow run fails in one line
                self.ended[run_id] = ("FAILED", str(exc))
                return
        self.ended[run_id] = ("COMPLETED" if outcome.exit_code == 0 else "FAILED", outcome.error)
        if self.elsewhere is not None:
            shutil.rmtree(self.elsewhere / run_id)

    def states(self, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        self.looks += 1
        assert self.looks < 100, "the migration never ends"  # a run that waits for ever
        for run_id, shard, parameters in self.later.pop(self.looks, []):
            self._run(run_id, shard, parameters)
        for _, shard, parameters in itertools.chain(*self.later.values()):  # busy, alive
            config = SyncConfig.model_validate(parameters["config"])
            assignment = ShardAssignment.model_validate(parameters["assignment"])
            with StateStore.open(config.state) as store:
                key = (assignment.migration_id, shard.label, assignment.attempt)
                store.shard_runs.beat(*key, 0, 0)
        return {r: self.ended[r] for r in run_ids}

    def give_up(self, run_id: str, why: str) -> None:
        self.given_up.append(why)
        self.ended[run_id] = ("CRASHED", why)

    def withdraw(self, run_id: str, why: str) -> None:
        self.withdrawn.append(why)
        self.ended[run_id] = ("CANCELLED", why)


@pytest.fixture
def config(
    api_credentials: None,
    tmp_path: Path,
    sandbox_server: SandboxProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> SyncConfig:
    entity = f"E-{tmp_path.name[-12:]}"
    rows = [*people(60), ["X5", "x5@example.com", "Ann", "Later", "Paris", "FR"]]
    source = export(tmp_path / "export.csv", rows)
    return for_workers(SyncConfig(sources=[str(source)], target=sandbox_server.url,
                                  entity_id=entity, state=str(tmp_path / "state.db")))  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += 10.0  # each look at the shards is ten seconds later


def test_every_shard_runs_to_its_end_and_the_artefacts_are_merged(
    tmp_path: Path, config: SyncConfig
) -> None:
    seen: list[MigrationProgress] = []
    clock = Clock()
    plan = plan_migration(config, 3)
    assert [s.label for s in plan] == [f"{config.entity_id} {i}/3" for i in (1, 2, 3)]
    outcome = Migration(config, plan, HerePool(), tmp_path / "out", seen.append,
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0 and outcome.error is None
    mappings = read_csv(tmp_path / "out" / "mappings.csv")
    assert sorted(m["external_id"] for m in mappings) == sorted(f"X{i}" for i in range(60))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["rows_read"], report["created"], report["plan"]) == (61, 60, {"create": 60})
    assert seen[-1].finished == 3 and seen[-1].done == seen[-1].total
    shard_dirs = [p.parent for p in (tmp_path / "out" / "shards").glob("*/*/report.json")]
    assert len(shard_dirs) == 3 and all((d / "mappings.csv").exists() for d in shard_dirs)


def test_shards_on_other_machines_leave_their_files_in_the_store_for_the_merge(
    tmp_path: Path, config: SyncConfig
) -> None:
    clock = Clock()
    pool = HerePool(elsewhere=tmp_path / "other-machines")
    outcome = Migration(config, plan_migration(config, 3), pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0 and not any((tmp_path / "other-machines").iterdir())
    mappings = read_csv(tmp_path / "out" / "mappings.csv")
    assert sorted(m["external_id"] for m in mappings) == sorted(f"X{i}" for i in range(60))
    assert all(m["customer_id"] for m in mappings)
    assert len(list((tmp_path / "out" / "shards").glob("*/*/mappings.csv"))) == 3
    # Merged, and removed from the store: it held customers' ids no longer needed there.
    with StateStore.open(config.state) as store:
        count = store.db.execute("SELECT COUNT(*) FROM migration_file").fetchone()[0]
    assert count == 0


def test_a_shard_that_stops_beating_is_given_up_and_run_again_exactly_once(
    tmp_path: Path, config: SyncConfig, sandbox_server: SandboxProcess
) -> None:
    clock = Clock()
    pool = HerePool(dies={(1, 1)})
    outcome = Migration(config, plan_migration(config, 2), pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0
    assert pool.given_up == [f"no heartbeat for {TUNING.stale_s:.0f} s (its worker stopped)"]
    assert clock.now > TUNING.stale_s
    assert len(read_csv(tmp_path / "out" / "mappings.csv")) == 60


def test_a_shard_whose_worker_died_starting_it_is_given_up_after_the_start_allowance(
    tmp_path: Path, config: SyncConfig
) -> None:
    # A run killed while PENDING stays PENDING on the server, and never beats: the start
    # allowance (longer than the heartbeat's) is what gives it up, not the heartbeat's. (The
    # last shard: no live run ends after its submission, to take it over.)
    clock = Clock()
    pool = HerePool(never_start={(1, 1)})
    outcome = Migration(config, plan_migration(config, 2), pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0
    assert pool.given_up == [
        f"taken by a worker but not started in {TUNING.start_s:.0f} s (its worker stopped)"
    ]
    assert TUNING.start_s > TUNING.stale_s and clock.now > TUNING.start_s
    assert len(read_csv(tmp_path / "out" / "mappings.csv")) == 60


def test_a_shard_whose_worker_died_starting_it_is_taken_by_a_live_run_that_ends(
    tmp_path: Path, config: SyncConfig, sandbox_server: SandboxProcess
) -> None:
    # Shard 1's worker died while its run was PENDING; shard 2's run ends before the start
    # allowance is up, and runs shard 1 itself: nothing is given up, no second attempt.
    clock = Clock()
    pool = HerePool(never_start={(0, 1)})
    outcome = Migration(config, plan_migration(config, 2), pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0, outcome.error
    assert pool.given_up == [] and pool.attempts == {0: 1, 1: 1}
    assert len(pool.withdrawn) == 1 and clock.now <= TUNING.stale_s  # one look
    assert len(read_csv(tmp_path / "out" / "mappings.csv")) == 60
    assert len(on_server(sandbox_server, str(config.entity_id))) == 60


def test_a_taken_run_that_never_beats_is_given_up_after_twice_the_starts_seen(
    tmp_path: Path, config: SyncConfig
) -> None:
    # Shard 2 was seen started (its first beat, 10 s after it was taken); then its worker
    # died, and so did the worker taking shard 1 before its run beat. The start allowance is
    # the migration's own starts twice over (20 s), not start_s: a worker killed while its
    # runs started cost 90 s of the API's time. The replacements get twice that again.
    clock = Clock()
    pool = HerePool(dies={(1, 1)}, never_start={(0, 1)})
    outcome = Migration(config, plan_migration(config, 2), pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0
    assert sorted(pool.given_up) == [
        f"no heartbeat for {TUNING.stale_s:.0f} s (its worker stopped)",
        "taken by a worker but not started in 20 s (its worker stopped)",
    ]
    assert clock.now < TUNING.start_s
    assert len(read_csv(tmp_path / "out" / "mappings.csv")) == 60


def test_a_run_given_up_that_starts_after_all_sends_nothing(
    tmp_path: Path, config: SyncConfig, sandbox_server: SandboxProcess
) -> None:
    # Its start was only late: by then the parent had submitted attempt 2. Attempt 1 steps
    # aside before it takes the shard's lock or sends a request; attempt 2 runs the shard.
    shard = plan_migration(config, 1)[0]
    runs = StateStore.open(config.state).shard_runs
    runs.submit("m-late", shard.label, 1)
    runs.submit("m-late", shard.label, 2)
    late = ShardAssignment(shard=shard, migration_id="m-late", attempt=1)
    before = len(on_server(sandbox_server, str(config.entity_id)))
    with pytest.raises(ShardReplacedError):
        run_sync(config.model_copy(update={"out": tmp_path / "a1"}), assignment=late)
    assert len(on_server(sandbox_server, str(config.entity_id))) == before == 0
    current = ShardAssignment(shard=shard, migration_id="m-late", attempt=2)
    outcome = run_sync(config.model_copy(update={"out": tmp_path / "a2"}), assignment=current)
    assert outcome.exit_code == 0 and outcome.report.created == 60
    assert runs.read("m-late")[shard.label].status == "ok"


def second_one_killed(config: SyncConfig, migration_id: str) -> tuple[Shard, Shard, ShardRuns]:
    """Two shards submitted; the second's run beat once, then its worker was killed."""
    first, second = plan_migration(config, 2)
    runs = StateStore.open(config.state).shard_runs
    for shard in (first, second):
        runs.submit(migration_id, shard.label, 1, dataclasses.asdict(shard))
    assert runs.beat(migration_id, second.label, 1, 0, 0)
    return first, second, runs


def test_a_live_run_that_ends_takes_over_a_replacement_no_worker_began(
    tmp_path: Path, config: SyncConfig, sandbox_server: SandboxProcess
) -> None:
    # Shard 2's worker died and its replacement waits for a worker's free slot: shard 1's
    # run, once it ends, runs it in its own process (no flow run's start); the replacement's
    # flow run, starting late, finds the attempt taken and sends nothing.
    first, second, runs = second_one_killed(config, "m-take")
    runs.submit("m-take", second.label, 2, dataclasses.asdict(second))
    mine = ShardAssignment(shard=first, migration_id="m-take", attempt=1)
    outcome = run_sync(config.model_copy(update={"out": tmp_path / "s1"}), assignment=mine)
    taken = runs.read("m-take")[second.label]
    assert (taken.attempt, taken.status) == (2, "ok")
    assert taken.taken_by is not None and taken.taken_by.startswith(f"{first.label} a1 ")
    assert taken.report is not None
    assert outcome.report.created + taken.report["created"] == 60
    assert len(on_server(sandbox_server, str(config.entity_id))) == 60
    with StateStore.open(config.state) as store:  # its files, where the parent merges them
        merged = tmp_path / "merged.csv"
        assert store.shard_files.write_out("m-take", second.label, 2, "mappings.csv", merged)
    assert len(read_csv(merged)) == taken.report["created"] > 0
    late = ShardAssignment(shard=second, migration_id="m-take", attempt=2)
    with pytest.raises(ShardReplacedError, match="or taken over by a live run"):
        run_sync(config.model_copy(update={"out": tmp_path / "late"}), assignment=late)
    assert runs.read("m-take")[second.label] == taken
    assert len(on_server(sandbox_server, str(config.entity_id))) == 60


def test_a_run_that_ends_stays_while_a_shard_is_silent_and_takes_its_replacement(
    tmp_path: Path, config: SyncConfig, sandbox_server: SandboxProcess
) -> None:
    # Shard 2's worker died just before shard 1's run ended; its parent gives it up 3 s
    # later: shard 1's run, seeing shard 2 silent, stayed, and takes the replacement over.
    first, second, runs = second_one_killed(config, "m-stay")

    def give_up() -> None:  # the parent, in a process of its own
        with StateStore.open(config.state) as store:
            store.shard_runs.submit("m-stay", second.label, 2, dataclasses.asdict(second))

    parent = threading.Timer(3.0, give_up)
    parent.start()
    mine = ShardAssignment(shard=first, migration_id="m-stay", attempt=1)
    started = time.monotonic()
    run_sync(config.model_copy(update={"out": tmp_path / "s1"}), assignment=mine)
    parent.join()
    taken = runs.read("m-stay")[second.label]
    assert (taken.attempt, taken.status) == (2, "ok") and taken.taken_by is not None
    assert len(on_server(sandbox_server, str(config.entity_id))) == 60
    assert time.monotonic() - started < TUNING.linger_s


def test_a_run_that_ends_while_every_other_shard_beats_does_not_stay(
    tmp_path: Path, config: SyncConfig
) -> None:
    first, second = plan_migration(config, 2)
    with StateStore.open(config.state) as store:
        for shard in (first, second):
            store.shard_runs.submit("m-go", shard.label, 1, dataclasses.asdict(shard))
    mine = ShardAssignment(shard=first, migration_id="m-go", attempt=1)
    with ShardHeartbeat(opener(config.state), "m-go", second.label, 1, beat_s=0.2):
        started = time.monotonic()
        run_sync(config.model_copy(update={"out": tmp_path / "s1"}), assignment=mine)
        # Its own shard, then two looks two beats apart (a live run beat between them).
        assert time.monotonic() - started < TUNING.linger_s / 4


def test_the_parent_withdraws_a_replacement_taken_over_and_watches_its_taker_s_beats(
    tmp_path: Path, config: SyncConfig, sandbox_server: SandboxProcess
) -> None:
    # Shard 2's worker dies; its replacement waits for a slot that shard 1's run holds until
    # the parent's eighth look, when shard 1 runs, ends, and takes the replacement over.
    clock = Clock()
    pool = HerePool(dies={(1, 1)}, waits={(1, 2)}, runs_at={(0, 1): 8})
    outcome = Migration(config, plan_migration(config, 2), pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0, outcome.error
    [why] = pool.given_up  # (after three times the longest gap seen between beats: 10 s)
    assert why == "no heartbeat for 30 s (its worker stopped)"
    label = plan_migration(config, 2)[0].label
    assert len(pool.withdrawn) == 1 and pool.withdrawn[0].startswith(
        f"taken over by the run of shard {label} a1 "
    )
    assert pool.attempts == {0: 1, 1: 2}  # no third attempt: the taken one counted
    assert len(read_csv(tmp_path / "out" / "mappings.csv")) == 60
    assert len(on_server(sandbox_server, str(config.entity_id))) == 60


def test_a_taker_that_dies_before_its_first_beat_is_given_up_after_a_heartbeat_s_wait(
    tmp_path: Path, config: SyncConfig
) -> None:
    # A taker beats the moment it takes an attempt; one that never does died in between: its
    # shard waits out the heartbeat's 10 s, not the start allowance of a flow run's process.
    clock = Clock()

    class TakenAndDead(HerePool):
        def states(self, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
            if self.looks == 0:
                with StateStore.open(config.state) as store:
                    [(mid,)] = store.db.execute("SELECT migration_id FROM migration_shard"
                                                " GROUP BY migration_id").fetchall()  # fmt: skip
                    assert store.shard_runs.take(mid, second.label, 1, "a run that died")
            return super().states(run_ids)

    first, second = plan_migration(config, 2)
    pool = TakenAndDead(waits={(1, 1)})
    outcome = Migration(config, [first, second], pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0, outcome.error
    assert pool.withdrawn == ["taken over by the run of shard a run that died"]
    assert pool.given_up == [
        f"taken by a worker but not started in {TUNING.stale_s:.0f} s (its worker stopped)"
    ]
    assert pool.attempts == {0: 1, 1: 2} and len(read_csv(tmp_path / "out" / "mappings.csv")) == 60


def test_a_shard_that_keeps_dying_fails_the_migration_after_the_others_finish(
    tmp_path: Path, config: SyncConfig
) -> None:
    clock = Clock()
    dies = {(0, attempt) for attempt in range(1, TUNING.max_attempts + 1)}
    outcome = Migration(config, plan_migration(config, 2), HerePool(dies), tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 1
    assert outcome.error is not None and outcome.error.startswith("1 of 2 shards failed; shard")
    assert f"({TUNING.max_attempts} attempts)" in outcome.error
    assert 0 < len(read_csv(tmp_path / "out" / "mappings.csv")) < 60


def test_the_entity_of_the_command_s_environment_reaches_workers_that_lack_it(
    tmp_path: Path, config: SyncConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config.entity_id is not None
    monkeypatch.setenv("VERIFONE_ENTITY_ID", config.entity_id)
    from_env = for_workers(config.model_copy(update={"entity_id": None}))
    clock = Clock()
    outcome = Migration(from_env, plan_migration(from_env, 2),
                        HerePool(worker_env={"VERIFONE_ENTITY_ID": None}), tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0, outcome.error
    assert len(read_csv(tmp_path / "out" / "mappings.csv")) == 60


def test_a_migration_whose_every_shard_fails_says_why_in_one_line(
    tmp_path: Path, config: SyncConfig
) -> None:
    clock = Clock()
    pool = HerePool(worker_env={"VERIFONE_API_KEY": None})  # the workers have no credentials
    outcome = Migration(config, plan_migration(config, 2), pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 1
    assert outcome.error is not None and outcome.error.startswith("2 of 2 shards failed; shard")
    assert "VERIFONE_API_KEY" in outcome.error
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["created"] == 0 and report["reasons"] == []


def test_a_migration_into_an_api_holding_its_entity_s_customers_stops_before_any_shard(
    config: SyncConfig, sandbox_server: SandboxProcess
) -> None:
    assert config.entity_id is not None
    made = httpx.post(f"{sandbox_server.url}/v2/customer", auth=(USER, KEY),
                      json=person(config.entity_id))  # fmt: skip
    made.raise_for_status()
    with pytest.raises(InputError, match="twin"):
        plan_migration(config, 2)
    assert len(plan_migration(config.model_copy(update={"ignore_existing": True}), 2)) == 2


def test_what_a_migration_needs_is_checked_before_anything_is_submitted(
    tmp_path: Path, config: SyncConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match="shards must be at least 1"):
        plan_migration(config, 0)
    with pytest.raises(InputError, match="needs an API every worker reaches"):
        plan_migration(SyncConfig(sources=config.sources, state=config.state), 2)
    with pytest.raises(InputError, match="needs state"):
        for_workers(SyncConfig(sources=config.sources, target=config.target, state=""))
    monkeypatch.delenv("VERIFONE_API_KEY")
    with pytest.raises(InputError):
        plan_migration(config, 2)
    (tmp_path / "missing.toml").unlink(missing_ok=True)
    with pytest.raises(InputError):
        bad = for_workers(config.model_copy(update={"sources": [str(tmp_path / "nope.csv")]}))
        plan_migration(bad, 2)


def test_each_entity_of_the_export_has_its_shards_and_may_have_its_own_credentials(
    tmp_path: Path, config: SyncConfig
) -> None:
    rows = [[*row, "E-a" if i % 3 else "E-b"] for i, row in enumerate(people(30))]
    rows.append(["X40", "x40@example.com", "Ann", "Lee", "Rome", "IT", ""])  # no entity
    source = write(tmp_path / "entities.csv", [*HEADER, "entity_id"], rows)
    both = config.model_copy(update={"sources": [str(source)], "entity_id": None})
    plan = plan_migration(both, 2)  # X40 names no entity: the first shard rejects it
    assert [s.orphans for s in plan] == [True, False, False, False]
    assert [s.label for s in plan] == ["E-a 1/2", "E-a 2/2", "E-b 1/2", "E-b 2/2"]
    _, every, own = credentials_parameters({"VERIFONE_API_KEY": "all-key"},
                                           {"E-b": {"VERIFONE_API_KEY": "b-key"}})  # fmt: skip
    pool, clock = HerePool(), Clock()
    outcome = Migration(both, plan, pool, tmp_path / "out", None, None, every, own,
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0, outcome.error
    mapped = read_csv(tmp_path / "out" / "mappings.csv")
    by_entity = {(m["entity_id"], m["external_id"]) for m in mapped if m["customer_id"]}
    assert len(by_entity) == 30 and ("E-b", "X0") in by_entity and ("E-a", "X1") in by_entity
    rejected = read_csv(tmp_path / "out" / "rejects.csv")
    assert [r["external_id"] for r in rejected] == ["X40"]
    assert pool.blocks["E-b 1/2"] == {"VERIFONE_API_KEY": "b-key"}
    assert pool.blocks["E-a 2/2"] == {"VERIFONE_API_KEY": "all-key"}


def test_the_parent_gives_the_crm_every_uuid_the_migration_made_once_and_the_shards_none(
    tmp_path: Path, config: SyncConfig
) -> None:
    # Before: each shard wrote crm-update.csv on its own worker's disk and marked its rows as
    # given; the parent merged no such file, and the next night's held a header alone.
    columns = "\n".join(f'"{c}" = "{c}"' for c in HEADER[1:])
    mapping = tmp_path / "m.toml"
    writeback = '[writeback]\nid_column = "Id"\nuuid_field = "Verifone_Customer_ID__c"\n'
    mapping.write_text(f'external_id = "external_id"\n[columns]\n{columns}\n{writeback}')
    config = config.model_copy(update={"mapping": mapping})
    clock = Clock()
    pool = HerePool(elsewhere=tmp_path / "other-machines")
    outcome = Migration(config, plan_migration(config, 3), pool, tmp_path / "out",
                        clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert outcome.exit_code == 0, outcome.error
    made = {m["external_id"]: m["customer_id"] for m in read_csv(tmp_path / "out" / "mappings.csv")}
    given = read_csv(tmp_path / "out" / "crm-update.csv")
    assert {r["Id"]: r["Verifone_Customer_ID__c"] for r in given} == made and len(made) == 60
    assert outcome.report.crm_update_rows == 60
    assert not list((tmp_path / "out" / "shards").rglob("crm-update.csv"))
    with StateStore.open(config.state) as store:  # marked as given: tomorrow's file is empty
        assert store.writeback.due([str(config.entity_id)]).height == 0
    again = Migration(config, plan_migration(config, 3), HerePool(), tmp_path / "again",
                      clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert again.exit_code == 0 and again.report.unchanged == 60
    assert read_csv(tmp_path / "again" / "crm-update.csv") == []


def test_a_migration_merges_its_own_shard_files_and_drops_them_even_when_stopped(
    tmp_path: Path, config: SyncConfig
) -> None:
    # Before: a second migration with the same --out merged the first one's shard files; a
    # parent stopped after its shards stored their files left them (ids, UUIDs) in the store.
    clock = Clock()
    first = Migration(config, plan_migration(config, 3), HerePool(), tmp_path / "out",
                      clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert first.exit_code == 0
    for report in (tmp_path / "out" / "shards").rglob("report.json"):  # the first's, stale
        (report.parent / "unmatched.csv").write_text(
            "external_id,customer_id,entity_id\nSTALE,u,E\n"
        )
    second = Migration(config, plan_migration(config, 3), HerePool(), tmp_path / "out",
                       clock=clock, sleep=clock.sleep).run()  # fmt: skip
    assert second.exit_code == 0
    unmatched = tmp_path / "out" / "unmatched.csv"
    assert not unmatched.exists() or "STALE" not in unmatched.read_text()

    def stopped(seconds: float) -> None:  # the parent interrupted once every shard stored
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Migration(config, plan_migration(config, 3), HerePool(), tmp_path / "third",
                  clock=clock, sleep=stopped).run()  # fmt: skip
    with StateStore.open(config.state) as store:
        left = store.db.execute("SELECT COUNT(*) FROM migration_file").fetchone()[0]
    assert left == 0
