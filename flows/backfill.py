"""``custsync backfill-3ds``: make the billing records of customers already in the API 3DS-ready.

read the export -> fetch the known customers from the API (rate-limited) -> judge readiness ->
fill what the export can supply -> update exactly the customers whose record became more
complete -> readiness report before and after (CSV, JSON, HTML with a chart, Rich, Prefect).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from connectors.customer_api import CustomerApi, Decision
from connectors.rate_limit import RequestPacer
from connectors.readiness_report import readiness_summary, write_readiness
from connectors.state_store import StateStore
from flows import sync_steps as steps
from flows.runner import InlineRunner
from schemas.payload import request_body
from schemas.phones import e164_column
from schemas.readiness import CUSTOMER_ID, PROBLEMS, judge, merge_from_export, records_frame


@dataclass
class BackfillOutcome:
    """A finished backfill."""

    report: dict[str, Any]
    out_dir: Path
    exit_code: int
    error: str | None = None


def export_supply(config: steps.SyncConfig) -> pl.DataFrame:
    """API-valid, normalised export rows, phones in E.164 where the billing country allows."""
    result = steps.read_and_validate(config)
    return e164_column(result.valid, "phone_number", "billing.country_code")


async def fetch(api: CustomerApi, ids: list[str]) -> tuple[list[dict[str, Any]], int]:
    """The API's records of ``ids`` (concurrent, paced); and how many have vanished."""
    results = await asyncio.gather(*(api.get(i) for i in ids))
    records = [r.body for r in results if r.decision is Decision.DONE]
    return records, sum(1 for r in results if r.decision is Decision.NOT_FOUND)


async def send_updates(
    api: CustomerApi, rows: list[dict[str, Any]]
) -> list[tuple[str, Decision, str | None]]:
    """Full-record updates of the improved customers."""
    results = await asyncio.gather(*(api.update(r[CUSTOMER_ID], request_body(r)) for r in rows))
    return [
        (r[CUSTOMER_ID], res.decision, res.reason) for r, res in zip(rows, results, strict=True)
    ]


@dataclass
class BatchResult:
    """One batch of known customers: judged before, as the API holds them after, what was sent."""

    before: pl.DataFrame
    final: pl.DataFrame
    sent: set[str]
    failed: list[str]
    vanished: int
    improved: int


def backfill_batch(
    known: pl.DataFrame,
    export: pl.DataFrame,
    target: steps.Target,
    store: StateStore,
    run_id: str,
    config: steps.SyncConfig,
    pacer: RequestPacer,
    loop: asyncio.Runner,
) -> BatchResult:
    """Fetch a batch of known customers, judge, fill from the export, update the improved."""

    async def work() -> tuple[
        list[dict[str, Any]],
        int,
        list[tuple[str, Decision, str | None]],
        pl.DataFrame,
        pl.DataFrame,
    ]:
        async with steps.open_api(target, config, pacer) as api:
            records, vanished = await fetch(api, known.get_column(CUSTOMER_ID).to_list())
            api_frame = records_frame(records).join(
                known.select(CUSTOMER_ID, "external_id"), on=CUSTOMER_ID, how="left"
            )
            before = judge(api_frame)
            after = judge(merge_from_export(before, export).drop(PROBLEMS))
            improved = after.filter(
                pl.col(PROBLEMS).list.len() < before.get_column(PROBLEMS).list.len()
            )
            outcomes = []
            if not config.dry_run and improved.height:
                outcomes = await send_updates(api, improved.drop(PROBLEMS).to_dicts())
            return (
                records,
                vanished,
                outcomes,
                before,
                after.join(improved.select(CUSTOMER_ID), on=CUSTOMER_ID, how="semi"),
            )

    _, vanished, outcomes, before, improved_after = loop.run(work())
    sent = {customer for customer, decision, _ in outcomes if decision is Decision.DONE}
    failed = [
        reason or "update failed"
        for _, decision, reason in outcomes
        if decision is not Decision.DONE
    ]
    for row in improved_after.filter(pl.col(CUSTOMER_ID).is_in(list(sent))).iter_rows(named=True):
        store.record(row["entity_id"], row["external_id"], "updated", run_id, row[CUSTOMER_ID])
    # What the API holds now: the improved record where it was sent (or would be, dry run).
    shown = (
        improved_after
        if config.dry_run
        else improved_after.filter(pl.col(CUSTOMER_ID).is_in(list(sent)))
    )
    final = pl.concat([shown, before.join(shown.select(CUSTOMER_ID), on=CUSTOMER_ID, how="anti")])
    return BatchResult(before, final, sent, failed, vanished, improved_after.height)


def run_backfill(config: steps.SyncConfig, runner: InlineRunner | None = None) -> BackfillOutcome:
    """Run the backfill; write readiness.csv, report.json and readiness.html."""
    runner = runner or InlineRunner()
    started = time.perf_counter()
    run_id = steps.new_run_id()
    out_dir = config.out_dir or Path("out") / f"backfill-{run_id}"
    with steps.open_target(config.__class__(**{**config.__dict__, "dry_run": False})) as target:
        export = runner.step("read-and-validate", export_supply, config)
        store = StateStore.open(config.state)
        try:
            if not config.dry_run:
                store.lock_runs(run_id)
            known = pl.concat(
                [
                    store.lookup(entity, group.get_column("external_id").to_list())
                    for (entity,), group in export.group_by("entity_id", maintain_order=True)
                ]
                or [store.lookup("", [])]
            ).filter(pl.col("customer_id").is_not_null())
            pacer = RequestPacer(config.rate_limit)
            batches: list[BatchResult] = []
            with asyncio.Runner() as loop:
                for batch in known.iter_slices(config.batch_size):
                    arguments = (batch, export, target, store, run_id, config, pacer, loop)
                    batches.append(runner.step("backfill-batch", backfill_batch, *arguments))
            before = pl.concat([b.before for b in batches]) if batches else judge(records_frame([]))
            final = pl.concat([b.final for b in batches]) if batches else before
            sent = {c for b in batches for c in b.sent}
            failed = [f for b in batches for f in b.failed]
            vanished = sum(b.vanished for b in batches)
            improved_count = sum(b.improved for b in batches)
            records_count = sum(b.before.height for b in batches)
            summary = readiness_summary(before, final)
            report = {
                **summary,
                "customers_known": known.height,
                "customers_fetched": records_count,
                "vanished": vanished,
                "updated": len(sent),
                "would_update": improved_count if config.dry_run else 0,
                "failed": len(failed),
                "dry_run": config.dry_run,
                "duration_s": round(time.perf_counter() - started, 3),
                "run_id": run_id,
                "target": target.description,
            }
            runner.step("write-report", write_readiness, out_dir, before, final, sent, report)
            return BackfillOutcome(
                report, out_dir, 1 if failed else 0, failed[0] if failed else None
            )
        finally:
            if not config.dry_run:
                store.unlock_runs()
            store.close()
