"""``custsync sync``: one run, start to finish, with progress and artefacts.

The export streams through the run in batches (read -> validate -> plan -> send -> artefacts),
so memory stays flat whatever its size: only a census of its ids (about 12 bytes a row, for
duplicates) spans the whole export. The same steps run either inside the ``sync_customers``
Prefect flow (when a Prefect API is configured: deployments, work pools, ``custsync serve``) or
directly in this process: without a Prefect server, Prefect would first start a temporary one,
which costs ~20 s on this 2-core machine, far more than a nightly run of a few rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from connectors.artifacts import REJECT_HEADER, CsvAppender, write_report
from connectors.rate_limit import RequestPacer
from connectors.state_store import StateStore
from flows import sync_steps as steps
from flows.outcomes import RowOutcome
from flows.runner import InlineRunner
from schemas.plan import ACTION, KNOWN_STATUS

log = logging.getLogger("custsync.sync")

PLAN_HEADER = ["external_id", "entity_id", "customer_id", ACTION]


@dataclass
class SyncOutcome:
    """A finished (or stopped) run."""

    report: dict[str, Any]
    out_dir: Path
    target: str
    exit_code: int
    error: str | None = None


def run_sync(
    config: steps.SyncConfig,
    run_id: str | None = None,
    on_start: Callable[[str], None] | None = None,
    runner: InlineRunner | None = None,
) -> SyncOutcome:
    """Run a sync; write its artefacts; the exit code follows the interface spec."""
    runner = runner or InlineRunner()
    started = time.perf_counter()
    run_id = run_id or steps.new_run_id()
    out_dir = config.out_dir or Path("out") / run_id
    with steps.open_target(config) as target:
        if on_start is not None:
            on_start(target.description)
        with steps.open_source(config) as source:
            store = StateStore.open(_state_location(config))
            try:
                if not config.dry_run:
                    # Before planning: a plan made while another run writes would be stale.
                    store.lock_runs(run_id)
                run = _Run(config, runner, target, store, run_id, out_dir, source)
                return run.execute(started)
            finally:
                store.unlock_runs()
                store.close()


class _Run:
    """The batches of one run, their artefacts and their totals."""

    def __init__(
        self,
        config: steps.SyncConfig,
        runner: InlineRunner,
        target: steps.Target,
        store: StateStore,
        run_id: str,
        out_dir: Path,
        source: steps.Source,
    ) -> None:
        self.config = config
        self.runner = runner
        self.target = target
        self.store = store
        self.run_id = run_id
        self.out_dir = out_dir
        self.source = source
        self.totals = steps.RunTotals()
        self.done = 0
        self.total = source.census.rows
        self.error: str | None = None

    def execute(self, started: float) -> SyncOutcome:
        config = self.config
        gone = (
            steps.deletions(self.source.census, self.store, config)
            if config.delete_missing
            else pl.DataFrame(schema=dict.fromkeys(steps.GONE_COLUMNS, pl.String))
        )
        self.total += gone.height
        extra: dict[str, Any] = {
            "run_id": self.run_id,
            "target": self.target.description,
            "dry_run": config.dry_run,
        }
        if config.dry_run:
            self._dry_run(gone)
        else:
            self.store.begin_run(self.run_id, "sync", self.target.description)
            load_started = time.perf_counter()
            self._load(gone)
            extra["load_duration_s"] = round(time.perf_counter() - load_started, 3)
        if gone.height:
            self.totals.plan["delete"] += gone.height
        report = steps.build_report(self.totals, time.perf_counter() - started, extra)
        failed = not config.dry_run and (report["failed"] > 0 or self.error is not None)
        if not config.dry_run:
            self.store.finish_run(self.run_id, "failed" if failed else "ok", report)
        write_report(report, self.out_dir)
        self.runner.publish(report, self._first_rejects())
        return SyncOutcome(
            report, self.out_dir, self.target.description, 1 if failed else 0, self.error
        )

    # -- the two ways through the batches ------------------------------------------------------

    def _dry_run(self, gone: pl.DataFrame) -> None:
        """Write the plan; change nothing anywhere (no state, no API)."""
        with (
            CsvAppender(self.out_dir / "plan.csv", PLAN_HEADER) as plan_csv,
            CsvAppender(self.out_dir / "rejects.csv", REJECT_HEADER) as rejects_csv,
        ):
            for batch in self.source.batches(self.config.read_batch_rows):
                result, planned = self._validate_and_plan(batch, rejects_csv)
                known = pl.col("known_customer_id").alias("customer_id")
                plan_csv.write(planned.select("external_id", "entity_id", known, ACTION))
                self._advance(result.rows_read)
            plan_csv.write(gone.with_columns(pl.lit("delete").alias(ACTION)))

    def _load(self, gone: pl.DataFrame) -> None:
        """Every batch sent as it is planned; results land in the store as they arrive."""
        pacer = RequestPacer(self.config.rate_limit)
        with (
            asyncio.Runner() as loop,
            CsvAppender(self.out_dir / "mappings.csv", steps.MAPPING_COLUMNS) as mappings_csv,
            CsvAppender(self.out_dir / "rejects.csv", REJECT_HEADER) as rejects_csv,
        ):
            session = steps.ApiSession(self.target, self.config, pacer, loop)
            try:
                context = (session, self.store, self.run_id)
                for batch in self.source.batches(self.config.read_batch_rows):
                    result, planned = self._validate_and_plan(batch, rejects_csv)
                    outcomes = self._send(planned, context)
                    self._advance(result.rows_read - len(outcomes))
                    mappings = steps.mapping_rows(result, planned, outcomes, self.store)
                    self.totals.add_mappings(mappings)
                    mappings_csv.write(mappings)
                    rejects_csv.write(steps.api_rejects(planned, outcomes))
                    if self.error:
                        return
                # Journalled creates this run did not touch, and --delete-missing.
                arguments = (gone, *context, self._on_result)
                settled = self.runner.step("settle", steps.settle, *arguments)
                self._count(settled)
                mappings = steps.outcome_rows(settled.outcomes)
                self.totals.add_mappings(mappings)
                mappings_csv.write(mappings)
            finally:
                session.close()

    # -- one batch -------------------------------------------------------------------------------

    def _validate_and_plan(
        self, batch: pl.DataFrame, rejects_csv: CsvAppender
    ) -> tuple[Any, pl.DataFrame]:
        census = self.source.census
        result = self.runner.step("validate", steps.validate_batch, batch, census, self.config)
        self.totals.validation.add(result)
        rejects_csv.write(result.rejects)
        planned = self.runner.step("plan", steps.plan, result.valid, self.store)
        self.totals.add_plan(planned)
        return result, planned

    def _send(self, planned: pl.DataFrame, context: tuple[Any, ...]) -> list[RowOutcome]:
        """The batch's rows to send, in slices of --batch-size (one Prefect task each)."""
        # Rows that failed last time go first: the next run retries them before the rest.
        to_send = planned.filter(pl.col(ACTION) != "unchanged").sort(
            pl.col(KNOWN_STATUS).fill_null("") != "failed", maintain_order=True
        )
        outcomes: list[RowOutcome] = []
        for rows in to_send.iter_slices(self.config.batch_size):
            loaded = self.runner.step(
                "load-batch", steps.load_batch, rows, *context, self._on_result
            )
            self._count(loaded)
            outcomes.extend(loaded.outcomes)
            if self.error:
                break
        return outcomes

    def _count(self, loaded: steps.LoadReport) -> None:
        self.totals.add_load(loaded)
        self.error = self.error or loaded.error

    def _on_result(self, _: RowOutcome) -> None:
        self._advance(1)

    def _advance(self, rows: int) -> None:
        self.done += rows
        self.runner.progress(self.done, self.total)

    def _first_rejects(self) -> pl.DataFrame:
        """The first rejects of the run, for the Prefect summary (never the whole file)."""
        path = self.out_dir / "rejects.csv"
        if not path.exists():
            return pl.DataFrame(schema=dict.fromkeys(REJECT_HEADER, pl.String))
        return pl.read_csv(path, n_rows=500, infer_schema=False)


def _state_location(config: steps.SyncConfig) -> str:
    """A dry run must not even create the state store: an absent one is an empty one."""
    is_file = not config.state.startswith(("postgresql://", "postgres://"))
    if config.dry_run and is_file and not Path(config.state).exists():
        return ":memory:"
    return config.state
