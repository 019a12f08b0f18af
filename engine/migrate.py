"""``custsync migrate``: one export, split into shards, synced by workers wherever they are.

The parent checks everything a run would (target, credentials, exports, mapping) before
anything is submitted, lists the export's entities, and submits one shard per entity and hash
bucket (``schemas/shards.py``) to a pool (``ShardPool``: Prefect's work pool in production).
Each shard is an ordinary sync of its rows; the shards share the target's API budget through
the state store (``connectors/api/pacing/shared_budget.py``) and leave their artefacts there too
(``connectors/state/shard_files.py``: no folder shared by every machine needed). The
parent watches their heartbeats in the store (``ShardRuns``), not Prefect's run states alone:
a worker killed with ``kill -9`` leaves its flow run "Running" on the server forever (nothing
is left to report the crash), while its heartbeat stops at once.
A shard whose heartbeat stops counting for ``stale_s`` (``connectors/tuning.py``) is given up
and submitted again; the journal makes the new attempt exactly-once. A shard's run that ends
takes over, in its own process, any attempt of the migration no run has begun (``engine/sync.py``):
a dead worker's shards are not left waiting for a slot and a new process. When every shard is done,
the parent writes their files under ``DIR/shards/``, merges ``mappings.csv`` and
``rejects.csv``, and writes one ``report.json``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from connectors.api.targets import LOCAL, Credentials
from connectors.errors import CrmError, InputError
from connectors.reports.artifacts import top_reasons, write_report
from connectors.sources.export_files import expand_sources, opening
from connectors.sources.mapping_file import load_mapping
from connectors.sources.remote_files import is_url
from connectors.state.shard_files import SHARD_ARTEFACTS
from connectors.state.shard_runs import ShardRun
from connectors.state.store import StateStore
from connectors.tuning import MigrationTuning, Tuning
from engine.config import ShardAssignment, SyncConfig, shard_folder
from engine.context import check_out_dir
from engine.outcome import RunOutcome
from engine.steps import TWINS, entities_held
from engine.target import open_target
from engine.writeback import WritebackOutcome, check_login, write_back
from schemas.normalize import clean_text
from schemas.report import SyncReport, merged_sync_report
from schemas.shards import Shard

log = logging.getLogger("custsync.migrate")

# Its timings (MigrationTuning): a heartbeat that has not counted up for stale_s means the
# shard's run is gone; a run a worker has taken (PENDING, or RUNNING) that has not beaten once
# means its worker died while starting it (a run killed while PENDING stays PENDING on the
# server for ever). How long a start may take is what this migration's own starts took: twice
# the longest seen from taken to first beat (a worker killed while its runs started cost 90 s
# of the API's time when every start waited start_s), times the attempt (a machine slower than
# those measured gets its replacement more time each round), never under stale_s nor over
# start_s, which holds until a start has been seen. A run given up too early costs a start,
# never a duplicate: the journal and the shard's lock see to that, and the run, once started,
# finds itself replaced and steps aside (engine/shard_heartbeat.py).


class ShardPool(Protocol):
    """Where shards run: submitted as flow runs, watched, given up on."""

    def submit(self, shard: Shard, parameters: dict[str, Any]) -> str:
        """Submit one shard's sync; its run's id."""
        ...

    def states(self, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        """Each run's state (``SCHEDULED``, ``RUNNING``, ``COMPLETED``, ``FAILED``, ``CRASHED``
        ...) and its message."""
        ...

    def give_up(self, run_id: str, why: str) -> None:
        """Mark a run that stopped beating as crashed (its worker is gone)."""
        ...

    def withdraw(self, run_id: str, why: str) -> None:
        """Cancel a run not needed any more (a live run took its attempt over)."""
        ...


@dataclass
class ShardState:
    """What the parent knows of one shard."""

    shard: Shard
    attempt: int = 0
    run_id: str = ""
    beats: int = 0  # this attempt's, as the store counts them (0 when submitted)
    beat_seen: float = 0.0  # monotonic: when the beats last counted up (or a worker took it)
    done: int = 0
    total: int = 0
    status: str = "submitted"  # submitted, running (it has beaten), retrying, ok, failed
    flow_state: str = "SCHEDULED"  # its run's, as last seen
    submitted: float = 0.0  # monotonic: this attempt's submission
    report: dict[str, Any] | None = None
    reason: str | None = None
    taken_by: str | None = None  # the live run that took this attempt over from its flow run

    @property
    def finished(self) -> bool:
        """Done with: ok, or failed for good."""
        return self.status in ("ok", "failed")


@dataclass
class MigrationProgress:
    """All shards together, for the console and Prefect's progress artifact."""

    done: int
    total: int
    rows_per_s: float
    running: int
    finished: int
    retrying: int
    shards: int
    eta_s: float | None


def shard_dir(out_dir: Path, migration_id: str, shard: Shard, attempt: int) -> Path:
    """Where one attempt of a shard of this migration writes its artefacts: a folder of the
    migration's own, so another migration with the same ``--out`` never merges them."""
    return out_dir / "shards" / migration_id / shard_folder(shard, attempt)


def credentials_parameters(
    blocks: dict[str, str] | None, by_entity: dict[str, dict[str, str]] | None
) -> tuple[dict[str, str] | None, dict[str, Any], dict[str, dict[str, Any]]]:
    """The shards' ``credentials_blocks``: the same Secret blocks for all, or each entity's own
    (``{"E1": {"VERIFONE_USER_UID": "e1-uid", "VERIFONE_API_KEY": "e1-key"}, ...}``); and the
    blocks the parent checks the target with (the first entity's when all have their own)."""
    own = {entity: {"credentials_blocks": named} for entity, named in (by_entity or {}).items()}
    parent = blocks or next(iter((by_entity or {}).values()), None)
    return parent, {"credentials_blocks": blocks}, own


def for_workers(config: SyncConfig) -> SyncConfig:
    """The sync every shard runs, its paths absolute (workers run in the project's folder) and
    its entity named (``VERIFONE_ENTITY_ID`` is this shell's, not the workers')."""
    if not config.state:
        raise InputError("custsync migrate needs {state}: the store every shard shares")
    state = config.state
    return config.model_copy(update={
        "entity_id": config.entity_id or config.resolved_entity(),
        "sources": [s if is_url(s) else str(Path(s).resolve()) for s in config.sources],
        "mapping": config.mapping.resolve() if config.mapping else None,
        "state": state if "://" in state else str(Path(state).resolve()),
    })  # fmt: skip


def plan_migration(
    config: SyncConfig, shards: int, credentials: Credentials | None = None
) -> list[Shard]:
    """Check what a sync checks before anything is sent (exit 2 on a bad target, credential,
    file or mapping); the shards: each entity of the export in ``shards`` parts."""
    if shards < 1:
        raise InputError("{shards} must be at least 1")
    if config.target == LOCAL:
        raise InputError(
            "custsync migrate needs an API every worker reaches: {target} a name or URL "
            "(for a try on one machine, start `custsync sandbox` and pass its URL)"
        )
    if config.dry_run:
        raise InputError("custsync migrate sends: use custsync sync {dry_run} for a plan")
    with open_target(config.target, credentials):
        pass  # credentials present, target known
    mapping = load_mapping(config.mapping)
    check_login(mapping.writeback if mapping is not None else None)  # before anything is sent
    paths = expand_sources(config.sources)
    default = config.resolved_entity()
    with opening(paths, mapping, config.read_options) as export:
        entity = clean_text("entity_id")
        if default is not None:
            entity = entity.fill_null(pl.lit(default))
        found = export.select(entity.unique()).drop_nulls().collect(engine="streaming")
    entities = sorted(found.get_column("entity_id").to_list())
    if not entities:
        raise InputError(
            "no entity: pass {entity_id}, set VERIFONE_ENTITY_ID, or map an entity_id column"
        )
    _check_no_twins(config, entities, credentials)
    # Rows that name no entity (and no --entity-id): the first shard reads them, and rejects
    # them with their reason, as a sync would.
    orphans = default is None
    return [Shard(i, shards, e, orphans and n == i == 0)
            for n, e in enumerate(entities) for i in range(shards)]  # fmt: skip


def _check_no_twins(
    config: SyncConfig, entities: list[str], credentials: Credentials | None
) -> None:
    """A sync's look for twins (``steps.check_no_twins``), once for the whole migration: its
    shards start together, and each would find the others' first creates."""
    if config.match_on or config.ignore_existing:
        return
    with StateStore.open(config.state) as store:
        fresh = [e for e in entities if not store.customers.made_any(e)]
    if not fresh:
        return
    from connectors.api.client import CustomerApi

    async def look() -> list[str]:
        with open_target(config.target, credentials) as target:
            async with CustomerApi(target.base_url, target.credentials) as api:
                return await entities_held(api, fresh)

    held = asyncio.run(look())
    if held:
        raise InputError(TWINS.format(entity=held[0]))


class Migration:
    """The parent of one migration: submits, watches, resubmits, merges."""

    def __init__(
        self,
        config: SyncConfig,
        shards: list[Shard],
        pool: ShardPool,
        out_dir: Path,
        progress: Callable[[MigrationProgress], None] | None = None,
        migration_id: str | None = None,
        parameters: dict[str, Any] | None = None,
        entity_parameters: dict[str, dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        tuning: MigrationTuning | None = None,
        shard_config: SyncConfig | None = None,
    ) -> None:
        check_out_dir(out_dir)
        self.config = config
        # What the shards are handed, if not ``config`` itself: secrets by reference.
        self.shard_config = shard_config or config
        self.tuning = tuning or Tuning.from_environment().migration
        self.pool = pool
        self.out_dir = out_dir.resolve()
        self.progress = progress
        self.migration_id = migration_id or uuid.uuid4().hex[:12]
        self.parameters = parameters or {}  # for every shard's run (credentials blocks)...
        self.entity_parameters = entity_parameters or {}  # ...or for one entity's shards
        self.shards = [ShardState(s) for s in shards]
        self.store = StateStore.open(config.state)
        self.runs = self.store.shard_runs
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        self.longest_beat_gap_s = 0.0  # as the parent's looks saw it (to a poll's precision)
        self.longest_start_s = 0.0  # from a worker taking a run to its first beat, likewise

    def run(self) -> RunOutcome[SyncReport]:
        """Every shard to its end (ok, or failed for good), then the merged artefacts."""
        try:
            for state in self.shards:
                self._submit(state)
            while not all(s.finished for s in self.shards):
                self._sleep(self.tuning.poll_s)
                self.watch()
            log.info("longest heartbeat gap seen: %.1f s (a shard is given up after %.0f s)",
                     self.longest_beat_gap_s, self.tuning.stale_s)  # fmt: skip
            return self._merge()
        finally:
            # The shards' files hold customers' ids: gone with the migration, merged or not (a
            # parent stopped before its merge left them in the store for good).
            try:
                self.store.shard_files.drop(self.migration_id)
            finally:
                self.store.close()

    def _submit(self, state: ShardState) -> None:
        state.attempt += 1
        state.beats, state.beat_seen, state.status = 0, self._clock(), "submitted"
        state.flow_state, state.submitted = "SCHEDULED", state.beat_seen
        state.done = state.total = 0
        state.taken_by = None
        spec = dataclasses.asdict(state.shard)
        self.runs.submit(self.migration_id, state.shard.label, state.attempt, spec)
        config = self.shard_config.model_copy(
            update={"out": shard_dir(self.out_dir, self.migration_id, state.shard, state.attempt)}
        )
        assignment = ShardAssignment(
            shard=state.shard, migration_id=self.migration_id, attempt=state.attempt
        )
        own = self.entity_parameters.get(state.shard.entity, {})
        parameters = {
            "config": config.model_dump(mode="json"),
            "assignment": assignment.model_dump(mode="json"),
            **self.parameters,
            **own,
        }
        state.run_id = self.pool.submit(state.shard, parameters)
        log.info("shard %s submitted (attempt %d)", state.shard.label, state.attempt)

    def watch(self) -> None:
        """One look at every unfinished shard: its heartbeat, its run's state."""
        live = [s for s in self.shards if not s.finished]
        # States first: a run seen ended has written its end to the store before.
        states = self.pool.states([s.run_id for s in live])
        rows = self.runs.read(self.migration_id)
        now = self._clock()
        for state in live:
            row = rows.get(state.shard.label)
            flow_state, message = states.get(state.run_id, ("SCHEDULED", None))
            self._look(state, row, flow_state, message, now)
        self._report_progress(now)

    def _look(
        self, state: ShardState, row: ShardRun | None, flow_state: str, message: str | None,
        now: float,
    ) -> None:  # fmt: skip
        if row is not None and row.attempt == state.attempt:
            if row.taken_by is not None and state.taken_by is None:
                # A live run of another shard took this attempt before its flow run began:
                # that flow run is not needed (it would step aside), and its state says
                # nothing of this attempt any more; its beats do.
                state.taken_by = row.taken_by
                log.info("shard %s attempt %d: taken over by the run of shard %s, %.1f s after "
                         "its submission", state.shard.label, state.attempt, row.taken_by,
                         now - state.submitted)  # fmt: skip
                self.pool.withdraw(state.run_id, f"taken over by the run of shard {row.taken_by}")
            state.done, state.total = row.rows_done, row.rows_total
            if row.status == "ok":
                state.status, state.report = "ok", row.report
                state.done = state.total  # its last beat may be a little behind its end
                return
            if row.status == "locked":  # the run it replaced still held the shard: again
                self._again(state, row.reason or "shard locked")
                return
            if row.status == "failed":
                state.status, state.report, state.reason = "failed", row.report, row.reason
                return
            if row.beats != state.beats:
                if state.beats == 0:  # started: taken (seen not waiting) to its first beat
                    self.longest_start_s = max(self.longest_start_s, now - state.beat_seen)
                    log.info("shard %s attempt %d: first beat %.1f s after its submission",
                             state.shard.label, state.attempt, now - state.submitted)  # fmt: skip
                else:  # between two beats of a live run: what stale_s must cover
                    self.longest_beat_gap_s = max(self.longest_beat_gap_s, now - state.beat_seen)
                state.beats, state.beat_seen = row.beats, now
                state.status = "running"
        if state.taken_by is not None:
            flow_state = "RUNNING"  # its beats, from the run that took it, are what count
        elif flow_state != state.flow_state:
            log.info("shard %s attempt %d: %s %.1f s after its submission", state.shard.label,
                     state.attempt, flow_state, now - state.submitted)  # fmt: skip
            state.flow_state = flow_state
        if flow_state in ("FAILED", "CRASHED", "CANCELLED", "COMPLETED"):
            # The run ended and never said how (it died before its heartbeat, or the worker
            # could not start it): submit it again.
            self._again(state, message or f"its flow run ended {flow_state.lower()}")
        elif flow_state in ("PENDING", "RUNNING"):  # a worker has it: it must beat
            # A machine busier than ours beats less evenly: never under three times the
            # longest gap seen between a live run's beats.
            stale_s = max(self.tuning.stale_s, 3 * self.longest_beat_gap_s)
            # A taker beats the moment it takes the attempt: no process start to wait for.
            start_s = self.start_s(state.attempt) if state.taken_by is None else stale_s
            if state.beats > 0 and now - state.beat_seen > stale_s:
                why = f"no heartbeat for {stale_s:.0f} s (its worker stopped)"
            elif state.beats == 0 and now - state.beat_seen > start_s:
                why = f"taken by a worker but not started in {start_s:.0f} s (its worker stopped)"
            else:
                return
            self.pool.give_up(state.run_id, why)
            self._again(state, why)
        else:
            state.beat_seen = now  # waiting for a worker (SCHEDULED, LATE) is not a stop

    def start_s(self, attempt: int) -> float:
        """How long a taken run of this attempt may take to beat first (see the top)."""
        if not self.longest_start_s:
            return self.tuning.start_s
        measured = max(self.tuning.stale_s, 2 * self.longest_start_s) * attempt
        return min(self.tuning.start_s, measured)

    def _again(self, state: ShardState, why: str) -> None:
        log.warning("shard %s attempt %d: %s", state.shard.label, state.attempt, why)
        if state.attempt >= self.tuning.max_attempts:
            state.status, state.reason = "failed", f"{why} ({state.attempt} attempts)"
            return
        self._submit(state)
        state.status = "retrying"

    def _report_progress(self, now: float) -> None:
        if self.progress is None:
            return
        done = sum(s.done for s in self.shards)
        total = sum(s.total for s in self.shards)
        elapsed = max(now - self._started, 1e-6)
        rate = done / elapsed
        self.progress(MigrationProgress(
            done, total, rate,
            running=sum(s.status == "running" for s in self.shards),
            finished=sum(s.finished for s in self.shards),
            retrying=sum(s.status == "retrying" for s in self.shards),
            shards=len(self.shards),
            eta_s=(total - done) / rate if rate > 0 and total >= done else None,
        ))  # fmt: skip

    def _merge(self) -> RunOutcome[SyncReport]:
        """The shards' artefacts as one run's: mappings.csv, rejects.csv, report.json. Each
        shard's files come from the store (its run may have been on another machine), written
        under ``DIR/shards/``, then removed from the store."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        finished = [s for s in self.shards if s.report is not None]
        files = self.store.shard_files
        for name in SHARD_ARTEFACTS:
            parts = []
            for s in finished:
                part = shard_dir(self.out_dir, self.migration_id, s.shard, s.attempt) / name
                key = (self.migration_id, s.shard.label, s.attempt)
                if files.write_out(*key, name, part) or part.exists():
                    parts.append(part)
            if parts or name != "unmatched.csv":
                _concat_csv(parts, self.out_dir / name)
        report = merged_sync_report([s.report for s in finished if s.report is not None])
        report.run_id = f"migrate-{self.migration_id}"
        report.target = self.config.target
        report.duration_s = round(self._clock() - self._started, 3)
        report.reasons = top_reasons(self.out_dir / "rejects.csv")
        failed = [s for s in self.shards if s.status == "failed"]
        report.over_limit = report.limits_exceeded(
            self.config.max_rejected_pct, self.config.max_failed
        )
        written_back = self._write_back()
        if written_back is not None:
            written_back.tell(report)
        write_report(report.as_json(), self.out_dir)
        error = None
        if failed:
            first = failed[0]
            error = (f"{len(failed)} of {len(self.shards)} shards failed; shard "
                     f"{first.shard.label}: {first.reason}")  # fmt: skip
        error = error or report.over_limit
        code = 1 if error or report.failed > self.config.max_failed else 0
        crm_short = written_back.falls_short() if written_back is not None else None
        if crm_short is not None and code == 0:  # migrated; the CRM is what is behind
            code, error = CrmError.exit_code, crm_short
        return RunOutcome(report, self.out_dir, code, error)

    def _write_back(self) -> WritebackOutcome | None:
        """The mapping's ``[writeback]``, once for the whole migration (``engine/writeback.py``):
        the UUIDs the CRM does not hold yet for the migration's entities, pushed (or written to
        ``crm-update``) and marked as the CRM confirms them. The shards push none: a shard's
        file would stay on its worker's disk. A failed shard's customers that got a UUID are
        in it too; the rest stay due for the next run."""
        mapping = load_mapping(self.config.mapping)
        if mapping is None or mapping.writeback is None:
            return None
        entities = {state.shard.entity for state in self.shards}
        full = self.config.crm_update == "full"
        return write_back(self.store, mapping.writeback, entities, self.out_dir, full=full)


def _concat_csv(parts: list[Path], target: Path) -> None:
    """The shards' CSV files as one (header once), as text: nothing is parsed or retyped."""
    with target.open("w", encoding="utf-8", newline="") as out:
        header_written = False
        for part in parts:
            with part.open(encoding="utf-8", newline="") as handle:
                header = handle.readline()
                if not header_written:
                    out.write(header)
                    header_written = True
                shutil.copyfileobj(handle, out, 1 << 20)
    target.chmod(0o600)
