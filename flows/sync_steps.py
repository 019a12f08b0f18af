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
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from connectors.api_config import LOCAL, TARGETS, Credentials, resolve_target
from connectors.api_counters import ApiCounters
from connectors.export_files import ReadOptions, expand_sources, opening
from connectors.rate_limit import RequestPacer
from connectors.state_store import StateStore
from flows.outcomes import LoadTotals, RowOutcome
from flows.validate_run import load_mapping
from schemas.customer_schema import REASON_DUPLICATE
from schemas.errors import AuthError, InputError
from schemas.normalize import Profile
from schemas.payload import with_payload_hash
from schemas.plan import ACTION, KNOWN_ID, deletion_limit, plan_sync
from schemas.validation import (
    FILE,
    ROW,
    Census,
    ValidationResult,
    ValidationTotals,
    id_hash,
    take_census,
    validate_customers,
)

if TYPE_CHECKING:
    from connectors.customer_api import CustomerApi

log = logging.getLogger("custsync.sync")

LOCAL_ENTITY = "custsync-local"
DEFAULT_STATE = ".custsync/state.db"
LOCAL_SANDBOX_DB = ".custsync/sandbox.db"
MAPPING_COLUMNS = ["external_id", "customer_id", "status", "entity_id"]
GONE_COLUMNS = ["entity_id", "external_id", "customer_id"]
# Rows read, validated and planned at a time: memory stays flat whatever the export's size.
READ_BATCH_ROWS = 200_000
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
    batch_size: int = 2_000  # rows a load step sends (one Prefect task each)
    read_batch_rows: int = READ_BATCH_ROWS  # rows read, validated and planned at a time
    match_on: tuple[str, ...] = ()
    delete_missing: bool = False
    max_deletes: int | None = None

    def resolved_entity(self) -> str | None:
        """--entity-id, else VERIFONE_ENTITY_ID, else (local target only) a fixed local entity."""
        entity = self.entity_id or os.environ.get("VERIFONE_ENTITY_ID", "").strip() or None
        if entity is None and self.target == LOCAL:
            return LOCAL_ENTITY
        return entity


class Target:
    """Where this run sends its requests; the embedded sandbox starts on first use, so a run
    with nothing to send (an unchanged night, a dry run) never starts it."""

    def __init__(
        self,
        base_url: str | None,
        credentials: Credentials,
        description: str,
        start: Callable[[], str] | None = None,
    ) -> None:
        self._base_url = base_url
        self.credentials = credentials
        self.description = description
        self._start = start

    @property
    def base_url(self) -> str:
        """The API's base URL (starting the embedded sandbox if this is its first use)."""
        if self._base_url is None:
            if self._start is None:
                raise RuntimeError("this target has no API")
            self._base_url = self._start()
            log.info("embedded sandbox started at %s", self._base_url)
        return self._base_url


@contextmanager
def open_target(config: SyncConfig) -> Iterator[Target]:
    """The API to talk to; for ``local``, the embedded sandbox (started when first needed,
    stopped here). Credentials are checked before anything is read: a remote target without
    them is exit 2."""
    if config.target != LOCAL:
        base_url = resolve_target(config.target)
        credentials = Credentials.from_environment()
        named = config.target in TARGETS
        description = f"{config.target} ({base_url})" if named else base_url
        yield Target(base_url, credentials, description)
        return
    # Throwaway credentials for this run: the local sandbox accepts exactly these.
    user, key = f"local-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    with ExitStack() as stack:

        def start() -> str:
            from sandbox.process import SandboxProcess

            process = SandboxProcess(db=LOCAL_SANDBOX_DB, users={user: key})
            return stack.enter_context(process).url

        yield Target(
            None,
            Credentials(user_uid=user, api_key=key),
            f"local sandbox (embedded, data in {LOCAL_SANDBOX_DB})",
            start,
        )


@dataclass
class Source:
    """A run's exports, opened lazily, with the census of their external ids."""

    export: pl.LazyFrame
    census: Census

    def batches(self, rows: int) -> Iterator[pl.DataFrame]:
        """The rows, ``rows`` at a time, in export order (each file's rows in file order)."""
        yield from self.export.collect_batches(chunk_size=rows)


@contextmanager
def open_source(config: SyncConfig) -> Iterator[Source]:
    """Open and check every source (exit 2 on a bad file or mapping, before anything is sent),
    then one pass over the ids: rows, duplicates, entities."""
    mapping = load_mapping(config.mapping_path)
    paths = expand_sources(config.sources)
    entity = config.resolved_entity()
    with opening(paths, mapping, config.read_options) as export:
        census = take_census(export, entity, keep_id_hashes=config.delete_missing)
        if not census.entities:
            raise InputError(
                "no entity: pass --entity-id, set VERIFONE_ENTITY_ID, or map an entity_id column"
            )
        yield Source(export, census)


def validate_batch(batch: pl.DataFrame, census: Census, config: SyncConfig) -> ValidationResult:
    """One batch of rows: the entity filled in, normalised and validated (entity required)."""
    entity = config.resolved_entity()
    if entity is not None:
        batch = batch.with_columns(pl.col("entity_id").fill_null(entity))
    return validate_customers(batch, config.profile, True, census.superseded)


def deletions(census: Census, store: StateStore, config: SyncConfig) -> pl.DataFrame:
    """--delete-missing: known customers whose external id is in no row of this run; refused
    (exit 2, before anything is sent) past --max-deletes or 5% of the known customers."""
    seen = census.id_hashes if census.id_hashes is not None else pl.Series([], dtype=pl.UInt64)
    frames = []
    known_count = 0
    for entity in census.entities:
        known = store.known_external_ids(entity)
        known_count += known.height
        # Compared by hash: a collision can only spare a customer, never delete one wrongly.
        gone = known.filter(~id_hash(pl.col("external_id")).is_in(seen.implode()))
        frames.append(gone.with_columns(pl.lit(entity).alias("entity_id")))
    gone = (
        pl.concat(frames) if frames else pl.DataFrame(schema=dict.fromkeys(GONE_COLUMNS, pl.String))
    )
    limit = deletion_limit(known_count, config.max_deletes)
    # A dry run shows the deletions a real run would refuse, rather than refusing itself.
    if gone.height > limit and not config.dry_run:
        raise InputError(
            f"refusing to delete {gone.height} customers whose external id left the export "
            f"(limit {limit} of {known_count} known); check the export, or pass --max-deletes"
        )
    return gone.select(GONE_COLUMNS)


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
    # Imported here: a run with nothing to send never pays for httpx and tenacity.
    from connectors.customer_api import CustomerApi

    concurrency = config.concurrency or default_concurrency(config.rate_limit)
    return CustomerApi(target.base_url, target.credentials, pacer=pacer, concurrency=concurrency)


class ApiSession:
    """One API client for a whole run, opened on first use inside the run's event loop and
    shared by every batch: connections, TLS set-up and proven credentials carry over (a client
    per batch re-did all three, and its first request went alone). The pacer and the loop are
    the run's too, so the rate limit holds across batches (a limiter belongs to one loop)."""

    def __init__(
        self, target: Target, config: SyncConfig, pacer: RequestPacer, loop: asyncio.Runner
    ) -> None:
        self.target = target
        self.config = config
        self.pacer = pacer
        self.loop = loop
        self._api: CustomerApi | None = None

    def api(self) -> CustomerApi:
        """The client (call inside the loop)."""
        if self._api is None:
            self._api = open_api(self.target, self.config, self.pacer)
        return self._api

    def close(self) -> None:
        """Close the client's connections, if it was ever opened."""
        if self._api is not None:
            self.loop.run(self._api.aclose())
            self._api = None


def load_batch(
    batch: pl.DataFrame,
    session: ApiSession,
    store: StateStore,
    run_id: str,
    on_result: Callable[[RowOutcome], None] | None = None,
) -> LoadReport:
    """Send one batch of planned rows (none ``unchanged``); results land in the store as they
    come."""
    outcomes: list[RowOutcome] = []

    def collect(outcome: RowOutcome) -> None:
        outcomes.append(outcome)
        if on_result is not None:
            on_result(outcome)

    async def send() -> LoadReport:
        from flows.load import Loader

        api = session.api()
        before = api.counters.copy()
        loader = Loader(api, store, run_id, session.config.match_on)
        error = None
        try:
            await loader.load(batch.iter_rows(named=True), collect)
        except* AuthError as group:
            # The task group cancelled the rest; what finished is kept and reported.
            error = str(group.exceptions[0])
        return LoadReport(outcomes, api.counters.since(before), loader.totals, error)

    return session.loop.run(send())


def settle(
    gone: pl.DataFrame,
    session: ApiSession,
    store: StateStore,
    run_id: str,
    on_result: Callable[[RowOutcome], None] | None = None,
) -> LoadReport:
    """After the upserts: reconcile creates earlier runs left unanswered that this run did not
    touch (their ids left the export, or their rows were rejected), and delete the customers
    whose external id left the export."""
    outcomes: list[RowOutcome] = []
    orphans = store.pending(not_run=run_id)
    if not orphans and not gone.height:
        return LoadReport(outcomes, ApiCounters(), LoadTotals())

    async def work() -> LoadReport:
        from flows.load import Loader

        api = session.api()
        before = api.counters.copy()
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
        return LoadReport(outcomes, api.counters.since(before), loader.totals, error)

    return session.loop.run(work())


def outcome_rows(outcomes: list[RowOutcome]) -> pl.DataFrame:
    """mappings.csv rows of the ids sent to the API."""
    return pl.DataFrame(
        {
            "external_id": [o.external_id for o in outcomes],
            "customer_id": [o.customer_id for o in outcomes],
            "status": [o.status for o in outcomes],
            "entity_id": [o.entity_id for o in outcomes],
        },
        schema=dict.fromkeys(MAPPING_COLUMNS, pl.String),
    )


def mapping_rows(
    result: ValidationResult, planned: pl.DataFrame, outcomes: list[RowOutcome], store: StateStore
) -> pl.DataFrame:
    """One row per distinct external id of a batch: external_id, customer_id, status, entity_id.

    A rejected id keeps the UUID the store knows for it (the customer exists, unchanged). Rows
    rejected as duplicates are left out: their id's status is its last row's."""
    sent = outcome_rows(outcomes)
    unchanged = planned.filter(pl.col(ACTION) == "unchanged").select(
        "entity_id",
        "external_id",
        pl.col(KNOWN_ID).alias("customer_id"),
        pl.lit("unchanged").alias("status"),
    )
    rejected_ids = (
        result.rejects.filter(pl.col("reason") != REASON_DUPLICATE)
        .select(pl.col("external_id").drop_nulls().unique(maintain_order=True))
        .filter(~pl.col("external_id").is_in(planned.get_column("external_id").implode()))
        .get_column("external_id")
    )
    rejected = pl.DataFrame({"external_id": rejected_ids}, schema={"external_id": pl.String})
    if rejected.height:
        # The entity of a rejected row may be what made it invalid: the store is asked by id.
        known = store.lookup_any_entity(rejected_ids.to_list()).select("external_id", "customer_id")
        rejected = rejected.join(
            known.unique("external_id", keep="first"), on="external_id", how="left"
        )
    else:
        rejected = rejected.with_columns(pl.lit(None, pl.String).alias("customer_id"))
    rejected = rejected.with_columns(
        pl.lit("rejected").alias("status"), pl.lit(None, pl.String).alias("entity_id")
    )
    return pl.concat(
        [frame.select(MAPPING_COLUMNS) for frame in (sent, unchanged, rejected)], how="vertical"
    )


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


@dataclass
class RunTotals:
    """Everything report.json counts, summed batch by batch."""

    validation: ValidationTotals = field(default_factory=ValidationTotals)
    statuses: Counter[str] = field(default_factory=Counter)
    plan: Counter[str] = field(default_factory=Counter)
    counters: ApiCounters = field(default_factory=ApiCounters)
    load: LoadTotals = field(default_factory=LoadTotals)
    api_rejected: int = 0

    def add_plan(self, planned: pl.DataFrame) -> None:
        """Count a batch's planned actions."""
        self.plan.update(dict(planned.get_column(ACTION).value_counts().iter_rows()))

    def add_mappings(self, mappings: pl.DataFrame) -> None:
        """Count a batch's outcomes by status."""
        self.statuses.update(dict(mappings.get_column("status").value_counts().iter_rows()))

    def add_load(self, report: LoadReport) -> None:
        """Count a load step's requests and reconciliations."""
        self.counters.add(report.counters)
        for name in ("reconciliations", "reconcile_requests", "recreated"):
            setattr(self.load, name, getattr(self.load, name) + getattr(report.totals, name))
        self.api_rejected += sum(1 for o in report.outcomes if o.status == "rejected")


def build_report(totals: RunTotals, duration_s: float, extra: dict[str, Any]) -> dict[str, Any]:
    """report.json: the documented integer keys first, then the rest."""
    validation = totals.validation
    return {
        "rows_read": validation.rows_read,
        "rows_valid": validation.rows_valid,
        "rows_rejected": validation.rows_rejected,
        **{
            status: int(totals.statuses.get(status, 0))
            for status in OUTCOME_STATUSES
            if status != "rejected"
        },
        "rejected": int(totals.statuses.get("rejected", 0)),
        "api_rejected": totals.api_rejected,
        "requests": totals.counters.requests,
        "retries": totals.counters.retries,
        "rate_limited": totals.counters.rate_limited,
        "duration_s": round(duration_s, 3),
        "ambiguous_writes": totals.counters.ambiguous,
        "reconciliations": totals.load.reconciliations,
        "reconcile_requests": totals.load.reconcile_requests,
        "recreated": totals.load.recreated,
        "threeds_ready": validation.threeds_ready,
        "plan": {k: int(v) for k, v in sorted(totals.plan.items())},
        **extra,
    }


def new_run_id() -> str:
    """``20261126T013000Z-1a2b3c``: sortable, unique enough across workers."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
