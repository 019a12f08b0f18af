"""``custsync sync``: one run, start to finish, with progress and artefacts.

The export streams through the run in batches (read -> validate -> plan -> send -> artefacts),
so memory stays flat whatever its size: only a census of its ids (about 13 bytes a row, for
duplicates) spans the whole export. The steps run as plain calls or as Prefect tasks, as the
runner decides (``flows/sync_flow.py`` runs them inside the ``sync-customers`` flow).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import polars as pl

from connectors.api.targets import Credentials
from connectors.errors import CrmError, CustsyncError, InputError, RunLockedError
from connectors.reports.artifacts import REJECT_HEADER, CsvAppender, top_reasons, write_report
from connectors.state.shard_files import SHARD_ARTEFACTS
from connectors.state.shard_runs import WaitingShard
from connectors.state.store import StateStore, opener
from connectors.tuning import Tuning
from engine import steps
from engine.config import ShardAssignment, SyncConfig, shard_folder
from engine.context import RunContext, new_run_id, open_run
from engine.outcome import RunOutcome
from engine.runner import InlineRunner, StepRunner
from engine.session import ApiSession
from engine.shard_heartbeat import BeatingRunner, ShardHeartbeat
from engine.totals import RunTotals
from engine.writeback import WritebackOutcome, write_back
from schemas.outcomes import (
    MAPPING_COLUMNS,
    RowOutcome,
    RowStatus,
    api_rejects,
    mapping_rows,
    outcome_rows,
    rejected_ids,
)
from schemas.plan import ACTION, KNOWN_ID, KNOWN_STATUS, PlanAction
from schemas.report import SyncReport
from schemas.shards import Shard
from schemas.validation import FILE, ROW, ValidationResult

log = logging.getLogger("custsync.sync")

PLAN_HEADER = ["external_id", "entity_id", "customer_id", ACTION]
UNMATCHED_COLUMNS = ["external_id", "customer_id", "entity_id"]


def run_sync(
    config: SyncConfig,
    run_id: str | None = None,
    on_start: Callable[[str], None] | None = None,
    runner: StepRunner | None = None,
    credentials: Credentials | None = None,
    assignment: ShardAssignment | None = None,
) -> RunOutcome[SyncReport]:
    """Run a sync; write its artefacts; the exit code follows the interface spec.
    ``credentials``: resolved by the caller (else the environment's); ``assignment``: the
    migration shard this run is."""
    started = time.perf_counter()
    run_id = run_id or new_run_id()
    out_dir = config.out or Path("out") / run_id
    runner = runner or InlineRunner()
    if assignment is None:
        with open_run(config, runner, run_id, out_dir, on_start, credentials) as run:
            return _Sync(run).execute(started)
    outcome = _run_shard(config, run_id, out_dir, runner, credentials, assignment, started)
    if outcome.exit_code == 0:
        _take_over(config, out_dir, runner, credentials, assignment)
    return outcome


def _run_shard(
    config: SyncConfig,
    run_id: str,
    out_dir: Path,
    runner: StepRunner,
    credentials: Credentials | None,
    assignment: ShardAssignment,
    started: float,
    taker: str = "",
) -> RunOutcome[SyncReport]:
    """A shard of a migration: its heartbeat, and its end, where the migration's parent looks
    (``taker``: the live run that took this attempt over, ``""`` the attempt's own flow run)."""
    key = (assignment.migration_id, assignment.shard.label, assignment.attempt)
    with ShardHeartbeat(opener(config.state), *key, taker=taker) as heartbeat:
        try:
            beating = BeatingRunner(runner, heartbeat)
            with open_run(config, beating, run_id, out_dir, None, credentials, assignment) as run:
                outcome = _Sync(run).execute(started)
        except CustsyncError as exc:
            locked = isinstance(exc, RunLockedError)  # the attempt it replaced still runs
            heartbeat.finish("locked" if locked else "failed", None, exc.template)
            raise
        failed = f"{outcome.report.failed:,} rows failed" if outcome.exit_code else None
        reason = outcome.error or failed
        # Before its end is told: the parent merges the files of the shards that ended.
        _store_artefacts(config.state, key, out_dir)
        heartbeat.finish("failed" if reason else "ok", outcome.report.as_json(), reason)
        return outcome


def _take_over(
    config: SyncConfig,
    out_dir: Path,
    runner: StepRunner,
    credentials: Credentials | None,
    ended: ShardAssignment,
) -> None:
    """Run, here and now, the shards of the same migration (and entity: its credentials) that
    no run has begun, one after another until none waits: a given-up shard's replacement, a
    shard whose worker died starting it, one waiting for a worker's slot.

    A replacement's flow run waits for a worker's free slot (a killed worker's shards wait for
    the live ones to end), then for a new process to start: 6-11 s in which the API got
    nothing from a migration whose live shards had all ended (``bench/RESULTS.md``). This
    process is up, its store open, its pace found. A shard whose run a dead worker took but
    never started is taken at once, not after the parent's start allowance. While another
    shard has stopped beating (its worker may be dead, and its parent not have given it up
    yet), it stays to see, looking every two beats, for ``linger_s`` at most. A taken attempt
    that fails says why in its row, and its parent submits it again, as for any attempt."""
    tuning = Tuning.from_environment().migration
    taker = f"{ended.shard.label} a{ended.attempt} {uuid.uuid4().hex[:6]}"
    mid = ended.migration_id
    with StateStore.open(config.state) as store:
        runs = store.shard_runs
        beats: dict[str, int] = {}  # each running shard's beats at the last look
        until = time.monotonic() + tuning.linger_s
        while True:
            same = [w for w in runs.waiting(mid) if w.spec.get("entity") == ended.shard.entity]
            taken = next((w for w in same if runs.take(mid, w.shard, w.attempt, taker)), None)
            if taken is not None:
                _run_taken(config, out_dir, runner, credentials, ended, taken, taker)
                beats, until = {}, time.monotonic() + tuning.linger_s
                continue
            running = {r.shard: r.beats for r in runs.read(mid).values()
                       if r.status == "running" and r.taken_by != taker}  # fmt: skip
            stalled = [name for name, count in running.items() if beats.get(name) == count]
            if not running or (beats and not stalled) or time.monotonic() > until:
                return
            beats = running
            time.sleep(2 * tuning.beat_s)  # a live run beats at least once meanwhile


def _run_taken(
    config: SyncConfig,
    out_dir: Path,
    runner: StepRunner,
    credentials: Credentials | None,
    ended: ShardAssignment,
    taken: WaitingShard,
    taker: str,
) -> None:
    """One attempt taken over, run as its own flow run would have (in its own folder)."""
    shard = Shard(**taken.spec)
    assignment = ShardAssignment(shard=shard, migration_id=ended.migration_id,
                                 attempt=taken.attempt)  # fmt: skip
    log.info("shard %s attempt %d: taken over by this run, which ended shard %s",
             shard.label, taken.attempt, ended.shard.label)  # fmt: skip
    there = out_dir.parent / shard_folder(shard, taken.attempt)
    try:
        _run_shard(config.model_copy(update={"out": there}), new_run_id(), there, runner,
                   credentials, assignment, time.perf_counter(), taker)  # fmt: skip
    except CustsyncError as exc:  # its row says why: its parent submits it again
        log.warning("shard %s attempt %d, taken over: %s", shard.label, taken.attempt,
                    exc.template)  # fmt: skip


def _store_artefacts(state: str, key: tuple[str, str, int], out_dir: Path) -> None:
    """A shard's files, in the store, where the migration's parent finds them from any
    machine (no folder shared by every worker needed)."""
    with StateStore.open(state) as store:
        for name in SHARD_ARTEFACTS:
            if (out_dir / name).exists():
                store.shard_files.put(*key, out_dir / name)


class _Sync:
    """The batches of one run, their artefacts and their totals."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.totals = RunTotals()
        self.done = 0
        self.total = run.source.census.rows
        self.error: str | None = None
        self.looked = False  # for customers the store did not make (steps.check_no_twins)

    def execute(self, started: float) -> RunOutcome[SyncReport]:
        run, config = self.run, self.run.config
        if config.crm_update == "full" and run.source.writeback is None:
            raise InputError("{crm_update} full needs a [writeback] table in the mapping file")
        gone = steps.deletions(run) if config.delete_missing else steps.no_deletions()
        self.total += gone.height
        load_duration_s = None
        written_back: WritebackOutcome | None = None
        if config.dry_run:
            self._dry_run(gone)
            written_back = self._would_write_back()
        else:
            run.store.runs.begin(run.run_id, "sync", run.target.description)
            load_started = time.perf_counter()
            try:
                self._load(gone)
            except BaseException as exc:  # interrupted, or worse: never left "running"
                so_far = self.totals.report(time.perf_counter() - started).as_json()
                with contextlib.suppress(Exception):  # the store may be what failed
                    run.store.runs.finish(
                        run.run_id, "failed", {**so_far, "stopped_by": type(exc).__name__}
                    )
                raise
            load_duration_s = round(time.perf_counter() - load_started, 3)
            # A migration's shard leaves the write-back to its parent, which gives the CRM
            # every UUID the migration made once its shards are merged (engine/migrate.py).
            written_back = steps.write_back(run) if run.assignment is None else None
        if gone.height:
            self.totals.plan[PlanAction.DELETE.value] += gone.height
        report = self.totals.report(time.perf_counter() - started)
        report.run_id, report.target = run.run_id, run.target.description
        report.dry_run, report.load_duration_s = config.dry_run, load_duration_s
        if written_back is not None:
            written_back.tell(report, config.dry_run)
        report.reasons = top_reasons(run.out_dir / "rejects.csv")
        report.missing_columns = list(run.source.missing_columns)
        report.over_limit = report.limits_exceeded(config.max_rejected_pct, config.max_failed)
        # Up to --max-failed failed rows are tolerated (0: none); an API that stopped, never.
        sent_badly = report.failed > config.max_failed or self.error is not None
        failed = bool(report.over_limit) or (not config.dry_run and sent_badly)
        if not config.dry_run:
            run.store.runs.finish(run.run_id, "failed" if failed else "ok", report.as_json())
        write_report(report.as_json(), run.out_dir)
        run.runner.publish(report, self._first_rejects(), str(run.out_dir))
        error = self.error or report.over_limit
        code = 1 if failed else 0
        crm_short = written_back.falls_short() if written_back is not None else None
        if crm_short is not None and not failed:  # synced; the CRM is what is behind
            code, error = CrmError.exit_code, crm_short
        return RunOutcome(report, run.out_dir, code, error)

    def _would_write_back(self) -> WritebackOutcome | None:
        """A dry run's write-back: what is due now, in crm-update; nothing pushed or marked."""
        run = self.run
        if run.source.writeback is None:
            return None
        full = run.config.crm_update == "full"
        return write_back(run.store, run.source.writeback, run.source.census.entities,
                          run.out_dir, full=full, dry_run=True)  # fmt: skip

    # -- the two ways through the batches ------------------------------------------------------

    def _dry_run(self, gone: pl.DataFrame) -> None:
        """Write the plan; change nothing anywhere (no state, no API)."""
        out = self.run.out_dir
        with (
            CsvAppender(out / "plan.csv", PLAN_HEADER) as plan_csv,
            CsvAppender(out / "rejects.csv", REJECT_HEADER) as rejects_csv,
        ):
            for result in self.run.source.validated(
                self.run.runner, rejects_csv, self.totals.validation
            ):
                planned = self._plan(result)
                known = pl.col(KNOWN_ID).alias("customer_id")
                plan_csv.write(planned.select("external_id", "entity_id", known, ACTION))
                self._advance(result.rows_read)
            plan_csv.write(gone.with_columns(pl.lit(PlanAction.DELETE.value).alias(ACTION)))

    def _load(self, gone: pl.DataFrame) -> None:
        """Every batch sent as it is planned; results land in the store as they arrive."""
        run, config = self.run, self.run.config
        with (
            ApiSession(
                run.target, config.rate_limit, config.concurrency, run.budget_place
            ) as session,
            CsvAppender(run.out_dir / "mappings.csv", MAPPING_COLUMNS) as mappings_csv,
            CsvAppender(run.out_dir / "rejects.csv", REJECT_HEADER) as rejects_csv,
            contextlib.ExitStack() as optional,
        ):
            unmatched_csv = None
            if config.match_on:  # the rows created without a match: listed, not only counted
                unmatched_csv = optional.enter_context(
                    CsvAppender(run.out_dir / "unmatched.csv", UNMATCHED_COLUMNS)
                )
            for result in run.source.validated(run.runner, rejects_csv, self.totals.validation):
                planned = self._plan(result)
                if (
                    not self.looked
                    and (planned.get_column(ACTION) == PlanAction.CREATE.value).any()
                ):
                    self.looked = True  # before the first create: are these the API's twins?
                    self._count(steps.check_no_twins(run, session))
                outcomes = self._send(planned, session) if self.error is None else []
                if unmatched_csv is not None:
                    unmatched_csv.write(outcome_rows([o for o in outcomes if o.unmatched]))
                self._advance(result.rows_read - len(outcomes))
                mappings = self._mappings(result, planned, outcomes)
                self.totals.add_mappings(mappings)
                mappings_csv.write(mappings)
                rejects_csv.write(run.source.with_columns(api_rejects(planned, outcomes)))
                if self.error:
                    return
            # Journalled creates this run did not touch, and --delete-missing.
            settled = run.runner.step("settle", steps.settle, gone, run, session, self._on_result)
            self._count(settled)
            mappings = outcome_rows(settled.outcomes)
            self.totals.add_mappings(mappings)
            mappings_csv.write(mappings)
            # Their failures too (a create journalled earlier that cannot be settled, a
            # deletion refused): in no row of this export, so with no row number or file.
            unplaced = pl.DataFrame(
                schema={"external_id": pl.String, ROW: pl.Int64, FILE: pl.String}
            )
            rejects_csv.write(api_rejects(unplaced, settled.outcomes))

    # -- one batch -------------------------------------------------------------------------------

    def _plan(self, result: ValidationResult) -> pl.DataFrame:
        run, census = self.run, self.run.source.census
        planned = run.runner.step("plan", steps.plan, result.valid, run.store,
                                  run.config.match_on, census.shared_matches)  # fmt: skip
        self.totals.add_plan(planned)
        return planned

    def _send(self, planned: pl.DataFrame, session: ApiSession) -> list[RowOutcome]:
        """The batch's rows to send, in slices of --batch-size (one Prefect task each)."""
        run = self.run
        # Rows that failed last time go first: the next run retries them before the rest.
        to_send = planned.filter(pl.col(ACTION) != PlanAction.UNCHANGED.value).sort(
            pl.col(KNOWN_STATUS).fill_null("") != RowStatus.FAILED.value, maintain_order=True
        )
        outcomes: list[RowOutcome] = []
        for rows in to_send.iter_slices(run.config.batch_size):
            loaded = run.runner.step(
                "load-batch", steps.load_batch, rows, run, session, self._on_result
            )
            self._count(loaded)
            outcomes.extend(loaded.outcomes)
            if self.error:
                break
        return outcomes

    def _mappings(
        self, result: ValidationResult, planned: pl.DataFrame, outcomes: list[RowOutcome]
    ) -> pl.DataFrame:
        ids = rejected_ids(result, planned)
        # The entity of a rejected row may be what made it invalid: the store is asked by id.
        known = self.run.store.customers.lookup_any_entity(ids)
        return mapping_rows(result, planned, outcomes, known)

    def _count(self, loaded: steps.LoadReport) -> None:
        self.totals.add_load(loaded)
        self.error = self.error or loaded.error

    def _on_result(self, _: RowOutcome) -> None:
        self._advance(1)

    def _advance(self, rows: int) -> None:
        self.done += rows
        self.run.runner.progress(self.done, self.total)

    def _first_rejects(self) -> pl.DataFrame:
        """The first rejects of the run, for the Prefect summary (never the whole file)."""
        path = self.run.out_dir / "rejects.csv"
        if not path.exists():
            return pl.DataFrame(schema=dict.fromkeys(REJECT_HEADER, pl.String))
        # The rows that were not sent, or failed, first: they are what someone must act on.
        rows = pl.scan_csv(path, infer_schema=False)
        serious = pl.col("action").is_in(["failed", "rejected"])
        return pl.concat([rows.filter(serious).head(500), rows.filter(~serious).head(500)]
                         ).head(500).collect()  # fmt: skip
