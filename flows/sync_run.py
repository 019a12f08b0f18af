"""``custsync sync``: one run, start to finish, with progress and artefacts.

The same steps run either inside the ``sync_customers`` Prefect flow (when a Prefect API is
configured: deployments, work pools, ``custsync serve``) or directly in this process. Without a
Prefect server, Prefect would start a temporary one first, which costs ~20 s on this 2-core
machine (measured: bench/prefect_overhead.py), far more than a nightly run of a few rows.
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

from connectors.rate_limit import RequestPacer
from connectors.state_store import StateStore
from flows import sync_steps as steps
from flows.load import RowOutcome
from flows.runner import InlineRunner
from schemas.plan import ACTION, KNOWN_STATUS

log = logging.getLogger("custsync.sync")


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
        result = runner.step("read-and-validate", steps.read_and_validate, config)
        store = StateStore.open(_state_location(config))
        try:
            if not config.dry_run:
                # Before planning: a plan made while another run writes would be stale.
                store.lock_runs(run_id)
            planned = runner.step("plan", steps.plan, result.valid, store)
            gone = (
                steps.deletions(result, store, config)
                if config.delete_missing
                else pl.DataFrame(
                    schema=dict.fromkeys(["entity_id", "external_id", "customer_id"], pl.String)
                )
            )
            actions = planned.get_column(ACTION).value_counts()
            plan_counts = dict(zip(actions[ACTION], actions["count"], strict=True))
            extra: dict[str, Any] = {
                "run_id": run_id,
                "target": target.description,
                "dry_run": config.dry_run,
                "plan": {k: int(v) for k, v in sorted(plan_counts.items())}
                | ({"delete": gone.height} if gone.height else {}),
            }
            if config.dry_run:
                return _dry_run(result, planned, gone, out_dir, extra, started, target.description)
            store.begin_run(run_id, "sync", target.description)
            load_started = time.perf_counter()
            loaded, error = _load(planned, gone, target, store, run_id, config, runner)
            extra["load_duration_s"] = round(time.perf_counter() - load_started, 3)
            mappings = steps.mapping_rows(result, planned, loaded.outcomes, store)
            report = steps.build_report(
                result, mappings, loaded, time.perf_counter() - started, extra
            )
            failed = report["failed"] > 0 or error is not None
            store.finish_run(run_id, "failed" if failed else "ok", report)
            rejects = steps.api_rejects(planned, loaded.outcomes)
            runner.step("write-back", steps.write_back, out_dir, result, mappings, rejects, report)
            runner.publish(report, result.rejects)
            return SyncOutcome(report, out_dir, target.description, 1 if failed else 0, error)
        finally:
            store.unlock_runs()
            store.close()


def _load(
    planned: pl.DataFrame,
    gone: pl.DataFrame,
    target: steps.Target,
    store: StateStore,
    run_id: str,
    config: steps.SyncConfig,
    runner: InlineRunner,
) -> tuple[steps.LoadReport, str | None]:
    """Every row to send, batch by batch; stops at the first refused credential."""
    # Rows that failed last time go first: the next run retries them before anything else.
    to_send = planned.filter(pl.col(ACTION) != "unchanged").sort(
        pl.col(KNOWN_STATUS).fill_null("") != "failed", maintain_order=True
    )
    pacer = RequestPacer(config.rate_limit)
    reports: list[steps.LoadReport] = []
    done = 0

    def on_result(_: RowOutcome) -> None:
        nonlocal done
        done += 1
        runner.progress(done, to_send.height + gone.height)

    with asyncio.Runner() as loop:
        settle = (planned, gone.head(0), target, store, run_id, config, pacer, loop)
        reports.append(runner.step("reconcile-journal", steps.settle, *settle))
        for batch in to_send.iter_slices(config.batch_size):
            if reports[-1].error:
                break
            arguments = (batch, target, store, run_id, config, pacer, loop, on_result)
            reports.append(runner.step("load-batch", steps.load_batch, *arguments))
        if gone.height and not reports[-1].error:
            settle = (planned, gone, target, store, run_id, config, pacer, loop, on_result)
            reports.append(runner.step("delete-missing", steps.settle, *settle))
    merged = steps.merge_reports(reports)
    return merged, merged.error


def _state_location(config: steps.SyncConfig) -> str:
    """A dry run must not even create the state store: an absent one is an empty one."""
    is_file = not config.state.startswith(("postgresql://", "postgres://"))
    if config.dry_run and is_file and not Path(config.state).exists():
        return ":memory:"
    return config.state


def _dry_run(
    result: Any,
    planned: pl.DataFrame,
    gone: pl.DataFrame,
    out_dir: Path,
    extra: dict[str, Any],
    started: float,
    target: str,
) -> SyncOutcome:
    """Print and write the plan; change nothing anywhere (no state, no API)."""
    from connectors.artifacts import write_rejects, write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = planned.select(
        "external_id", "entity_id", pl.col("known_customer_id").alias("customer_id"), ACTION
    )
    deletes = gone.select("external_id", "entity_id", "customer_id", pl.lit("delete").alias(ACTION))
    pl.concat([rows, deletes]).sort("external_id").write_csv(out_dir / "plan.csv")
    write_rejects(result.rejects, out_dir)
    report = {
        "rows_read": result.rows_read,
        "rows_valid": result.rows_valid,
        "rows_rejected": result.rows_rejected,
        **{k: 0 for k in ("created", "updated", "unchanged", "adopted", "deleted", "failed")},
        "requests": 0,
        "retries": 0,
        "rate_limited": 0,
        "duration_s": round(time.perf_counter() - started, 3),
        **extra,
    }
    write_report(report, out_dir)
    return SyncOutcome(report, out_dir, target, 0)
