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

from connectors.state_store import StateStore
from flows import sync_steps as steps
from flows.load import RowOutcome
from schemas.errors import AuthError
from schemas.plan import ACTION

log = logging.getLogger("custsync.sync")


@dataclass
class SyncOutcome:
    """A finished (or stopped) run."""

    report: dict[str, Any]
    out_dir: Path
    target: str
    exit_code: int
    error: str | None = None


Progress = Callable[[int, int], None]


def run_sync(
    config: steps.SyncConfig,
    run_id: str | None = None,
    on_start: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> SyncOutcome:
    """Run a sync; write its artefacts; the exit code follows the interface spec."""
    started = time.perf_counter()
    run_id = run_id or steps.new_run_id()
    out_dir = config.out_dir or Path("out") / run_id
    with steps.open_target(config) as target:
        if on_start is not None:
            on_start(target.description)
        result = steps.read_and_validate(config)
        store = StateStore.open(_state_location(config))
        try:
            planned = steps.plan(result.valid, store)
            actions = planned.get_column(ACTION).value_counts()
            plan_counts = dict(zip(actions[ACTION], actions["count"], strict=True))
            extra: dict[str, Any] = {
                "run_id": run_id,
                "target": target.description,
                "dry_run": config.dry_run,
                "plan": {k: int(v) for k, v in sorted(plan_counts.items())},
            }
            if config.dry_run:
                return _dry_run(
                    config, result, planned, out_dir, extra, started, target.description
                )
            store.begin_run(run_id, "sync", target.description)
            to_send = int(planned.height - plan_counts.get("unchanged", 0))
            done = 0

            def on_result(_: RowOutcome) -> None:
                nonlocal done
                done += 1
                if progress is not None:
                    progress(done, to_send)

            error = None
            outcomes: list[RowOutcome] = []
            loaded = None
            try:
                loaded = asyncio.run(steps.load(planned, target, store, run_id, config, on_result))
                outcomes = loaded.outcomes
            except* AuthError as group:
                error = str(group.exceptions[0])
            mappings = steps.mapping_rows(result, planned, outcomes, store)
            report = steps.build_report(
                result, mappings, loaded, time.perf_counter() - started, extra
            )
            failed = report["failed"] > 0 or error is not None
            store.finish_run(run_id, "failed" if failed else "ok", report)
            steps.write_back(
                out_dir, result, mappings, steps.api_rejects(planned, outcomes), report
            )
            return SyncOutcome(report, out_dir, target.description, 1 if failed else 0, error)
        finally:
            store.close()


def _state_location(config: steps.SyncConfig) -> str:
    """A dry run must not even create the state store: an absent one is an empty one."""
    is_file = not config.state.startswith(("postgresql://", "postgres://"))
    if config.dry_run and is_file and not Path(config.state).exists():
        return ":memory:"
    return config.state


def _dry_run(
    config: steps.SyncConfig,
    result: Any,
    planned: pl.DataFrame,
    out_dir: Path,
    extra: dict[str, Any],
    started: float,
    target: str,
) -> SyncOutcome:
    """Print and write the plan; change nothing anywhere (no state, no API)."""
    from connectors.artifacts import write_rejects, write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    planned.select(
        "external_id", "entity_id", pl.col("known_customer_id").alias("customer_id"), ACTION
    ).sort("external_id").write_csv(out_dir / "plan.csv")
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
