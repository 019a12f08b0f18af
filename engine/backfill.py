"""``custsync backfill-3ds``: make the billing records of customers already in the API 3DS-ready.

Batch by batch, as in a sync: read the export -> find its known customers in the state store ->
fetch them from the API (rate-limited, one client for the run) -> judge readiness -> fill what
the export can supply -> update exactly the customers whose record became more complete ->
readiness.csv and rejects.csv appended; then the report before and after (JSON, HTML with a
chart, Rich, Prefect), summed over the batches.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from connectors.api.answers import Answer
from connectors.api.bulk_fetch import RecordFetcher, every
from connectors.api.client import CustomerApi
from connectors.api.counters import ApiCounters
from connectors.api.targets import Credentials
from connectors.reports.artifacts import REJECT_HEADER, CsvAppender
from connectors.reports.readiness import (
    READINESS_HEADER,
    ReadinessTally,
    readiness_rows,
    write_readiness_page,
)
from connectors.state.store import StateStore
from engine.config import SyncConfig
from engine.context import RunContext, new_run_id, open_run
from engine.outcome import RunOutcome
from engine.runner import InlineRunner, StepRunner
from engine.session import ApiSession
from schemas.outcomes import RowStatus
from schemas.payload import request_body
from schemas.phones import e164_column
from schemas.readiness import CUSTOMER_ID, PROBLEMS, judge, merge_from_export, records_frame
from schemas.report import BackfillReport
from schemas.validation import ValidationTotals


async def send_updates(
    api: CustomerApi, rows: list[dict[str, Any]]
) -> list[tuple[str, Answer, str | None]]:
    """Full-record updates of the improved customers."""
    results = await every([api.update(r[CUSTOMER_ID], request_body(r)) for r in rows])
    return [(r[CUSTOMER_ID], res.answer, res.reason) for r, res in zip(rows, results, strict=True)]


@dataclass
class BatchResult:
    """One batch of known customers: judged before, as the API holds them after, what was sent."""

    before: pl.DataFrame
    final: pl.DataFrame
    sent: set[str]
    failed: list[str]
    vanished: int
    improved: int
    counters: ApiCounters


def known_customers(rows: pl.DataFrame, store: StateStore) -> pl.DataFrame:
    """The customers of these export rows that the state store knows (entity, id, UUID)."""
    frames = [
        store.customers.lookup(entity, group.get_column("external_id").to_list())
        for (entity,), group in rows.group_by("entity_id", maintain_order=True)
    ]
    known = pl.concat(frames) if frames else store.customers.lookup("", [])
    keys = ["entity_id", "external_id"]
    # In the export's order (the store answers in its own), so readiness.csv follows the export.
    return rows.select(keys).join(
        known.filter(pl.col(CUSTOMER_ID).is_not_null()), on=keys, how="inner", maintain_order="left"
    )


def backfill_batch(
    known: pl.DataFrame,
    supply: pl.DataFrame,
    run: RunContext,
    session: ApiSession,
    fetcher: RecordFetcher,
) -> BatchResult:
    """Fetch a batch of known customers, judge, fill from the export, update the improved."""
    dry_run = run.config.dry_run

    async def work() -> tuple[int, list[tuple[str, Answer, str | None]], pl.DataFrame,
                              pl.DataFrame, ApiCounters]:  # fmt: skip
        api = session.api()
        counted_from = api.counters.copy()
        fetched = await fetcher.fetch(api, known.get_column(CUSTOMER_ID).to_list())
        vanished = fetched.vanished
        api_frame = known.select(CUSTOMER_ID, "external_id").join(
            records_frame(fetched.records), on=CUSTOMER_ID, how="inner", maintain_order="left"
        )
        before = judge(api_frame)
        after = judge(merge_from_export(before, supply).drop(PROBLEMS))
        improved = after.filter(
            pl.col(PROBLEMS).list.len() < before.get_column(PROBLEMS).list.len()
        )
        outcomes = []
        if not dry_run and improved.height:
            outcomes = await send_updates(api, improved.drop(PROBLEMS).to_dicts())
        improved_after = after.join(improved.select(CUSTOMER_ID), on=CUSTOMER_ID, how="semi")
        return vanished, outcomes, before, improved_after, api.counters.since(counted_from)

    vanished, outcomes, before, improved_after, counters = session.loop.run(work())
    sent = {customer for customer, decision, _ in outcomes if decision is Answer.DONE}
    failed = [
        reason or "update failed" for _, decision, reason in outcomes if decision is not Answer.DONE
    ]
    for row in improved_after.filter(pl.col(CUSTOMER_ID).is_in(list(sent))).iter_rows(named=True):
        run.store.customers.record(
            row["entity_id"], row["external_id"], RowStatus.UPDATED, run.run_id, row[CUSTOMER_ID]
        )
    # What the API holds now: the improved record where it was sent (or would be, dry run).
    shown = improved_after.filter(pl.col(CUSTOMER_ID).is_in(list(sent)) | dry_run)
    final = pl.concat([shown, before.join(shown.select(CUSTOMER_ID), on=CUSTOMER_ID, how="anti")])
    return BatchResult(before, final, sent, failed, vanished, improved_after.height, counters)


@dataclass
class _Totals:
    """A backfill's figures, summed over its batches."""

    validation: ValidationTotals = field(default_factory=ValidationTotals)
    readiness: ReadinessTally = field(default_factory=ReadinessTally)
    counters: ApiCounters = field(default_factory=ApiCounters)
    known: int = 0
    updated: int = 0
    improved: int = 0
    vanished: int = 0
    failed: list[str] = field(default_factory=list)

    def add(self, batch: BatchResult) -> None:
        self.readiness.add(batch.before, batch.final)
        self.updated += len(batch.sent)
        self.improved += batch.improved
        self.vanished += batch.vanished
        self.failed.extend(batch.failed)
        self.counters.add(batch.counters)


def run_backfill(
    config: SyncConfig, runner: StepRunner | None = None, credentials: Credentials | None = None
) -> RunOutcome[BackfillReport]:
    """Run the backfill, the export streaming through in batches as in a sync: write
    readiness.csv and rejects.csv batch by batch, then report.json and readiness.html."""
    runner = runner or InlineRunner()
    started = time.perf_counter()
    run_id = new_run_id()
    out_dir = config.out or Path("out") / f"backfill-{run_id}"
    # The target is opened as for a real run even when dry: the records are read all the same.
    # A backfill updates customers in place, never recreates one: no UUID changes, so it has
    # nothing to write back (the next sync gives the CRM whatever is due).
    with open_run(config, runner, run_id, out_dir, credentials=credentials,
                  writes_back=False) as run:  # fmt: skip
        # Recorded as a sync is (custsync runs): a dry run changes nothing, and records nothing.
        if not config.dry_run:
            run.store.runs.begin(run_id, "backfill-3ds", run.target.description)
        try:
            totals = _stream(run)
        except BaseException as exc:
            if not config.dry_run:
                with contextlib.suppress(Exception):  # the store may be what failed
                    run.store.runs.finish(run_id, "failed", {"stopped_by": type(exc).__name__})
            raise
        report = _report(config, run, totals, started)
        if not config.dry_run:
            status = "failed" if totals.failed else "ok"
            run.store.runs.finish(run_id, status, report.as_json())
    runner.step("write-report", write_readiness_page, out_dir, report)
    failed = totals.failed
    return RunOutcome(report, out_dir, 1 if failed else 0, failed[0] if failed else None)


def _report(config: SyncConfig, run: RunContext, totals: _Totals, started: float) -> BackfillReport:
    """The backfill's report, of its totals."""
    counters = totals.counters
    return BackfillReport(
        **totals.readiness.summary(),
        rows_read=totals.validation.rows_read,
        rows_rejected=totals.validation.rows_rejected,
        customers_known=totals.known,
        customers_fetched=totals.readiness.customers,
        vanished=totals.vanished,
        updated=totals.updated,
        would_update=totals.improved if config.dry_run else 0,
        failed=len(totals.failed),
        requests=counters.requests,
        retries=counters.retries,
        rate_limited=counters.rate_limited,
        dry_run=config.dry_run,
        duration_s=round(time.perf_counter() - started, 3),
        run_id=run.run_id,
        target=run.target.description,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def _stream(run: RunContext) -> _Totals:
    """Each export batch: validate, find its known customers, backfill them in slices of
    --batch-size (one Prefect task each); memory stays that of one batch."""
    config, runner, source = run.config, run.runner, run.source
    totals = _Totals()
    done = 0
    with (
        _ready_last(run.out_dir),  # exits last: after both files below are closed
        ApiSession(run.target, config.rate_limit, config.concurrency, run.budget_place) as session,
        CsvAppender(run.out_dir / "readiness.csv", READINESS_HEADER) as readiness_csv,
        CsvAppender(run.out_dir / READY_PART, READINESS_HEADER) as ready_csv,
        CsvAppender(run.out_dir / "rejects.csv", REJECT_HEADER) as rejects_csv,
    ):
        fetcher = RecordFetcher()
        for result in source.validated(runner, rejects_csv, totals.validation):
            known = known_customers(result.valid, run.store)
            totals.known += known.height
            # Only the known customers' rows can supply anything: E.164 conversion (a
            # phonenumbers parse per distinct phone) is spent on those alone.
            keys = known.select("entity_id", "external_id")
            supply = e164_column(
                result.valid.join(keys, on=["entity_id", "external_id"], how="semi"),
                "phone_number",
                "billing.country_code",
            )
            judged = 0
            for rows in known.iter_slices(config.batch_size):
                arguments = (rows, supply, run, session, fetcher)
                done_batch = runner.step("backfill-batch", backfill_batch, *arguments)
                totals.add(done_batch)
                rows_of = readiness_rows(done_batch.before, done_batch.final, done_batch.sent,
                                         result.rejects, source.columns)  # fmt: skip
                # The worklist: customers not ready first (the rest follow at the end).
                readiness_csv.write(rows_of.filter(~pl.col("ready_after")))
                ready_csv.write(rows_of.filter(pl.col("ready_after")))
                judged += rows.height
                runner.progress(done + judged, source.census.rows)
            done += result.rows_read
            runner.progress(done, source.census.rows)
    return totals


READY_PART = "readiness-ready.part.csv"  # the ready customers, until the not-ready are all out


@contextmanager
def _ready_last(out_dir: Path) -> Iterator[None]:
    """On the way out, stopped or not: the ready customers after the not-ready ones."""
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # nothing written yet: nothing to append
            _append_ready(out_dir)


def _append_ready(out_dir: Path) -> None:
    """readiness.csv's ready customers after every not-ready one (a worklist first), copied
    from the part file written beside it, a chunk at a time; the part file removed."""
    part = out_dir / READY_PART
    with part.open("rb") as ready, (out_dir / "readiness.csv").open("ab") as worklist:
        ready.readline()  # its header: readiness.csv has one
        shutil.copyfileobj(ready, worklist)
    part.unlink()
