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
            concurrency = config.concurrency or steps.default_concurrency(config.rate_limit)
            with asyncio.Runner() as loop:

                async def fetch_all() -> tuple[list[dict[str, Any]], int]:
                    async with CustomerApi(target.base_url, target.credentials, pacer=pacer,
                                           concurrency=concurrency) as api:  # fmt: skip
                        return await fetch(api, known.get_column("customer_id").to_list())

                records, vanished = loop.run(fetch_all())
                api_frame = records_frame(records).join(
                    known.select("customer_id", "external_id"), on=CUSTOMER_ID, how="left"
                )
                before = judge(api_frame)
                merged = merge_from_export(before, export)
                after = judge(merged.drop(PROBLEMS))
                improved = after.filter(
                    pl.col(PROBLEMS).list.len() < before.get_column(PROBLEMS).list.len()
                )
                outcomes: list[tuple[str, Decision, str | None]] = []
                if not config.dry_run and improved.height:

                    async def update_all() -> list[tuple[str, Decision, str | None]]:
                        async with CustomerApi(target.base_url, target.credentials, pacer=pacer,
                                               concurrency=concurrency) as api:  # fmt: skip
                            return await send_updates(api, improved.drop(PROBLEMS).to_dicts())

                    outcomes = loop.run(update_all())
            failed = [o for o in outcomes if o[1] is not Decision.DONE]
            sent = {o[0] for o in outcomes if o[1] is Decision.DONE}
            for row in improved.filter(pl.col(CUSTOMER_ID).is_in(list(sent))).iter_rows(named=True):
                store.record(
                    row["entity_id"], row["external_id"], "updated", run_id, row[CUSTOMER_ID]
                )
            # What the API holds now: the improved record where the update went through.
            final = pl.concat([
                after.filter(pl.col(CUSTOMER_ID).is_in(list(sent))),
                before.filter(~pl.col(CUSTOMER_ID).is_in(list(sent))),
            ]) if not config.dry_run else after  # fmt: skip
            summary = readiness_summary(before, final)
            report = {
                **summary,
                "customers_known": known.height,
                "customers_fetched": len(records),
                "vanished": vanished,
                "updated": len(sent),
                "would_update": improved.height if config.dry_run else 0,
                "failed": len(failed),
                "dry_run": config.dry_run,
                "duration_s": round(time.perf_counter() - started, 3),
                "run_id": run_id,
                "target": target.description,
            }
            runner.step("write-report", write_readiness, out_dir, before, final, sent, report)
            return BackfillOutcome(report, out_dir, 1 if failed else 0,
                                   failed[0][2] if failed else None)  # fmt: skip
        finally:
            if not config.dry_run:
                store.unlock_runs()
            store.close()
