"""The steps of a sync, as plain functions: the Prefect flow's tasks wrap exactly these.

target -> read and validate -> plan -> load (in batches) -> write back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from connectors.api_config import LOCAL, Credentials, resolve_target
from connectors.artifacts import write_mappings, write_rejects, write_report
from connectors.customer_api import ApiCounters, CustomerApi
from connectors.export_files import ReadOptions, expand_sources, reading
from connectors.rate_limit import RequestPacer
from connectors.state_store import StateStore
from flows.load import Loader, LoadTotals, RowOutcome
from flows.validate_run import load_mapping
from schemas.errors import AuthError, InputError
from schemas.normalize import Profile
from schemas.payload import with_payload_hash
from schemas.plan import ACTION, KNOWN_ID, deletion_limit, plan_deletions, plan_sync
from schemas.validation import FILE, ROW, ValidationResult, validate_customers

log = logging.getLogger("custsync.sync")

LOCAL_ENTITY = "custsync-local"
DEFAULT_STATE = ".custsync/state.db"
LOCAL_SANDBOX_DB = ".custsync/sandbox.db"
OUTCOME_STATUSES = ("created", "updated", "unchanged", "adopted", "deleted", "rejected", "failed")


@dataclass
class SyncConfig:
    """Everything a sync run needs to know; built from the CLI or deployment parameters."""

    sources: list[str]
    mapping_path: Path | None = None
    target: str = LOCAL
    entity_id: str | None = None
    state: str = DEFAULT_STATE
    out_dir: Path | None = None
    rate_limit: float | None = None
    concurrency: int | None = None
    dry_run: bool = False
    profile: Profile = "api"
    read_options: ReadOptions = field(default_factory=ReadOptions)
    batch_size: int = 2_000
    match_on: tuple[str, ...] = ()
    delete_missing: bool = False
    max_deletes: int | None = None

    def resolved_entity(self) -> str | None:
        """--entity-id, else VERIFONE_ENTITY_ID, else (local target only) a fixed local entity."""
        entity = self.entity_id or os.environ.get("VERIFONE_ENTITY_ID", "").strip() or None
        if entity is None and self.target == LOCAL:
            return LOCAL_ENTITY
        return entity


@dataclass
class Target:
    """Where this run sends its requests."""

    base_url: str
    credentials: Credentials
    description: str


@contextmanager
def open_target(config: SyncConfig) -> Iterator[Target]:
    """The API to talk to; for ``local``, the embedded sandbox, started and stopped here.

    Credentials are checked before anything is read: a remote target without them is exit 2.
    """
    if config.target != LOCAL:
        base_url = resolve_target(config.target)
        credentials = Credentials.from_environment()
        yield Target(base_url, credentials, f"{config.target} ({base_url})")
        return
    if config.dry_run:
        # A dry run sends nothing: no need to start anything.
        yield Target(
            "", Credentials(user_uid="local", api_key="local"), "local sandbox (not started)"
        )
        return
    from sandbox.process import SandboxProcess

    # Throwaway credentials for this run: the local sandbox accepts exactly these.
    user, key = f"local-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    with SandboxProcess(db=LOCAL_SANDBOX_DB, users={user: key}) as sandbox:
        yield Target(
            sandbox.url,
            Credentials(user_uid=user, api_key=key),
            f"local sandbox (embedded, {sandbox.url}, data in {LOCAL_SANDBOX_DB})",
        )


def read_and_validate(config: SyncConfig) -> ValidationResult:
    """Read every source, fill in the entity, normalise and validate (entity required)."""
    mapping = load_mapping(config.mapping_path)
    paths = expand_sources(config.sources)
    entity = config.resolved_entity()
    with reading(paths, mapping, config.read_options) as frame:
        if entity is None and frame.get_column("entity_id").null_count() == frame.height:
            raise InputError(
                "no entity: pass --entity-id, set VERIFONE_ENTITY_ID, or map an entity_id column"
            )
        if entity is not None:
            frame = frame.with_columns(pl.col("entity_id").fill_null(entity))
        return validate_customers(frame, config.profile, entity_required=True)


def deletions(result: ValidationResult, store: StateStore, config: SyncConfig) -> pl.DataFrame:
    """--delete-missing: known customers whose external id is in no row of this run; refused
    (exit 2, before anything is sent) past --max-deletes or 5% of the known customers."""
    seen = pl.concat(
        [result.valid.get_column("external_id"), result.rejects.get_column("external_id")]
    ).drop_nulls()
    entities = result.valid.get_column("entity_id").unique().to_list() or [config.resolved_entity()]
    frames = []
    known_count = 0
    for entity in entities:
        known = store.known_external_ids(entity)
        known_count += known.height
        frames.append(plan_deletions(known, seen).with_columns(pl.lit(entity).alias("entity_id")))
    gone = pl.concat(frames) if frames else pl.DataFrame()
    limit = deletion_limit(known_count, config.max_deletes)
    # A dry run shows the deletions a real run would refuse, rather than refusing itself.
    if gone.height > limit and not config.dry_run:
        raise InputError(
            f"refusing to delete {gone.height} customers whose external id left the export "
            f"(limit {limit} of {known_count} known); check the export, or pass --max-deletes"
        )
    return gone


def plan(valid: pl.DataFrame, store: StateStore) -> pl.DataFrame:
    """Valid rows with their payload hash, the action to take and the known customer id."""
    hashed = with_payload_hash(valid)
    states = [
        store.lookup(entity, group.get_column("external_id").to_list())
        for (entity,), group in hashed.group_by("entity_id", maintain_order=True)
    ]
    state = pl.concat(states) if states else store.lookup("", [])
    return plan_sync(hashed, state)


@dataclass
class LoadReport:
    """The outcome of the load step."""

    outcomes: list[RowOutcome]
    counters: ApiCounters
    totals: LoadTotals
    error: str | None = None  # the credentials were refused: the run stops here


def default_concurrency(rate_limit: float | None) -> int:
    """Requests in flight: enough to hold the rate at up to a second of latency (the pacer,
    not this bound, sets the pace); without a known rate, 64 (about 300 req/s at 200 ms)."""
    if rate_limit is None:
        return 64
    return max(4, min(256, int(rate_limit) + 1))


def open_api(target: Target, config: SyncConfig, pacer: RequestPacer) -> CustomerApi:
    """The API client of a run: its target, the shared pacer, the run's concurrency bound."""
    concurrency = config.concurrency or default_concurrency(config.rate_limit)
    return CustomerApi(target.base_url, target.credentials, pacer=pacer, concurrency=concurrency)


def load_batch(
    batch: pl.DataFrame,
    target: Target,
    store: StateStore,
    run_id: str,
    config: SyncConfig,
    pacer: RequestPacer,
    loop: asyncio.Runner,
    on_result: Callable[[RowOutcome], None] | None = None,
) -> LoadReport:
    """Send one batch of planned rows (none ``unchanged``); results land in the store as they
    come. The pacer and the event loop are shared across batches, so the rate limit holds
    across them (a limiter belongs to one loop)."""
    outcomes: list[RowOutcome] = []

    def collect(outcome: RowOutcome) -> None:
        outcomes.append(outcome)
        if on_result is not None:
            on_result(outcome)

    async def send() -> LoadReport:
        async with open_api(target, config, pacer) as api:
            loader = Loader(api, store, run_id, config.match_on)
            error = None
            try:
                await loader.load(batch.iter_rows(named=True), collect)
            except* AuthError as group:
                # The task group cancelled the rest; what finished is kept and reported.
                error = str(group.exceptions[0])
        return LoadReport(outcomes, api.counters, loader.totals, error)

    return loop.run(send())


def settle(
    planned: pl.DataFrame,
    gone: pl.DataFrame,
    target: Target,
    store: StateStore,
    run_id: str,
    config: SyncConfig,
    pacer: RequestPacer,
    loop: asyncio.Runner,
    on_result: Callable[[RowOutcome], None] | None = None,
) -> LoadReport:
    """Before and after the upserts: reconcile creates earlier runs left unanswered for ids not
    in this run, and delete the customers whose external id left the export."""
    outcomes: list[RowOutcome] = []
    in_run = set(zip(planned["entity_id"].to_list(), planned["external_id"].to_list(), strict=True))
    orphans = [p for p in store.pending() if (p.entity_id, p.external_id) not in in_run]

    async def work() -> LoadReport:
        async with open_api(target, config, pacer) as api:
            loader = Loader(api, store, run_id)
            error = None
            try:
                for state in orphans:
                    outcome = await loader.reconcile_journal(state)
                    if outcome is not None:
                        outcomes.append(outcome)
                for entity_id, external_id, customer_id in gone.select(
                    "entity_id", "external_id", "customer_id"
                ).iter_rows():
                    outcome = await loader.delete(entity_id, external_id, customer_id)
                    outcomes.append(outcome)
                    if on_result is not None:
                        on_result(outcome)
            except AuthError as exc:
                error = str(exc)
        return LoadReport(outcomes, api.counters, loader.totals, error)

    return loop.run(work())


def merge_reports(reports: list[LoadReport]) -> LoadReport:
    """One LoadReport from the batches'."""
    merged = LoadReport([], ApiCounters(), LoadTotals())
    for report in reports:
        merged.outcomes.extend(report.outcomes)
        for name in ("requests", "retries", "rate_limited", "ambiguous"):
            setattr(
                merged.counters,
                name,
                getattr(merged.counters, name) + getattr(report.counters, name),
            )
        for name in ("reconciliations", "reconcile_requests", "recreated"):
            setattr(
                merged.totals, name, getattr(merged.totals, name) + getattr(report.totals, name)
            )
        merged.error = merged.error or report.error
    return merged


def mapping_rows(
    result: ValidationResult, planned: pl.DataFrame, outcomes: list[RowOutcome], store: StateStore
) -> pl.DataFrame:
    """One row per distinct external id of this run: external_id, customer_id, status."""
    sent = pl.DataFrame(
        {
            "entity_id": [o.entity_id for o in outcomes],
            "external_id": [o.external_id for o in outcomes],
            "customer_id": [o.customer_id for o in outcomes],
            "status": [o.status for o in outcomes],
        },
        schema=dict.fromkeys(("entity_id", "external_id", "customer_id", "status"), pl.String),
    )
    unchanged = planned.filter(pl.col(ACTION) == "unchanged").select(
        "entity_id",
        "external_id",
        pl.col(KNOWN_ID).alias("customer_id"),
        pl.lit("unchanged").alias("status"),
    )
    valid_ids = set(planned.get_column("external_id").to_list())
    rejected_ids = [
        i for i in result.rejects.get_column("external_id").unique().drop_nulls().to_list()
        if i not in valid_ids
    ]  # fmt: skip
    rejected = pl.DataFrame(
        {"external_id": rejected_ids}, schema={"external_id": pl.String}
    ).with_columns(pl.lit(None, pl.String).alias("customer_id"), pl.lit("rejected").alias("status"))
    if rejected.height:
        known = store.mappings().select("external_id", pl.col("customer_id").alias("__known"))
        known = known.unique("external_id", keep="first")
        rejected = (
            rejected.join(known, on="external_id", how="left")
            .with_columns(pl.coalesce("customer_id", "__known").alias("customer_id"))
            .drop("__known")
        )
    rejected = rejected.with_columns(pl.lit(None, pl.String).alias("entity_id"))
    columns = ["external_id", "customer_id", "status", "entity_id"]
    return pl.concat([sent.select(columns), unchanged.select(columns), rejected.select(columns)])


def api_rejects(planned: pl.DataFrame, outcomes: list[RowOutcome]) -> pl.DataFrame:
    """rejects.csv lines for rows the API refused (400), with the API's reason."""
    lines = [
        (o.external_id, name, f"API: {o.reason}")
        for o in outcomes
        if o.status == "rejected"
        for name in (o.fields or [""])
    ]
    frame = pl.DataFrame(
        lines,
        schema={"external_id": pl.String, "field": pl.String, "reason": pl.String},
        orient="row",
    )
    where = planned.select(
        "external_id", pl.col(ROW).cast(pl.Int64).alias("row"), pl.col(FILE).alias("file")
    )
    return frame.join(where, on="external_id", how="left").select(
        "external_id", "row", "field", "reason", "file"
    )


def build_report(
    result: ValidationResult,
    mappings: pl.DataFrame,
    loaded: LoadReport | None,
    duration_s: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """report.json: the documented integer keys first, then the rest."""
    statuses = mappings.get_column("status").value_counts()
    by_status = dict(zip(statuses["status"], statuses["count"], strict=True))
    counters = loaded.counters if loaded else ApiCounters()
    totals = loaded.totals if loaded else LoadTotals()
    report: dict[str, Any] = {
        "rows_read": result.rows_read,
        "rows_valid": result.rows_valid,
        "rows_rejected": result.rows_rejected,
        **{
            status: int(by_status.get(status, 0))
            for status in OUTCOME_STATUSES
            if status != "rejected"
        },
        "rejected": int(by_status.get("rejected", 0)),
        "api_rejected": sum(
            1 for o in (loaded.outcomes if loaded else []) if o.status == "rejected"
        ),
        "requests": counters.requests,
        "retries": counters.retries,
        "rate_limited": counters.rate_limited,
        "duration_s": round(duration_s, 3),
        "ambiguous_writes": counters.ambiguous,
        "reconciliations": totals.reconciliations,
        "reconcile_requests": totals.reconcile_requests,
        "recreated": totals.recreated,
        "threeds_ready": result.threeds_ready,
        **extra,
    }
    return report


def write_back(
    out_dir: Path,
    result: ValidationResult,
    mappings: pl.DataFrame,
    extra_rejects: pl.DataFrame,
    report: dict[str, Any],
) -> None:
    """mappings.csv, rejects.csv and report.json into ``out_dir``."""
    write_mappings(mappings, out_dir)
    write_rejects(pl.concat([result.rejects, extra_rejects], how="vertical_relaxed"), out_dir)
    write_report(report, out_dir)


def new_run_id() -> str:
    """``20261126T013000Z-1a2b3c``: sortable, unique enough across workers."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
