"""The steps of a sync, as plain functions over a ``RunContext``: the Prefect tasks wrap these.

plan (against the state store) -> load (in slices, each result recorded as it lands) ->
settle (journalled creates this run did not touch; --delete-missing).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from connectors.api.counters import ApiCounters
from connectors.errors import ApiStopError, InputError, RunError
from connectors.state.store import StateStore
from engine.context import RunContext
from engine.session import ApiSession
from engine.writeback import WritebackOutcome
from engine.writeback import write_back as writeback_step
from schemas.outcomes import LoadTotals, RowOutcome
from schemas.plan import deletion_limit, ensure_payload_hash, flag_shared_matches, plan_sync
from schemas.shards import in_shard
from schemas.validation import Census, id_hash

if TYPE_CHECKING:
    from connectors.api.client import CustomerApi
    from engine.loader import Loader

GONE_COLUMNS = ["entity_id", "external_id", "customer_id"]
OnResult = Callable[[RowOutcome], None]


def no_deletions() -> pl.DataFrame:
    """The deletions of a run without --delete-missing."""
    return pl.DataFrame(schema=dict.fromkeys(GONE_COLUMNS, pl.String))


def deletions(run: RunContext) -> pl.DataFrame:
    """--delete-missing: known customers whose external id is in no row of this run; refused
    (exit 2, before anything is sent) past --max-deletes or 5% of the known customers."""
    census: Census = run.source.census
    seen = census.id_hashes if census.id_hashes is not None else pl.Series([], dtype=pl.UInt64)
    frames = []
    known_count = 0
    for entity in census.entities:
        known = run.store.customers.known_external_ids(entity)
        known_count += known.height
        # Compared by hash: a collision can only spare a customer, never delete one wrongly.
        gone = known.filter(~id_hash(pl.col("external_id")).is_in(seen.implode()))
        frames.append(gone.with_columns(pl.lit(entity).alias("entity_id")))
    gone = pl.concat(frames) if frames else no_deletions()
    limit = deletion_limit(known_count, run.config.max_deletes)
    # A dry run shows the deletions a real run would refuse, rather than refusing itself.
    if gone.height > limit and not run.config.dry_run:
        raise InputError(
            f"refusing to delete {gone.height} customers whose external id left the export "
            f"(limit {limit} of {known_count} known); check the export, or pass {{max_deletes}}"
        )
    return gone.select(GONE_COLUMNS)


def plan(
    valid: pl.DataFrame,
    store: StateStore,
    match_on: tuple[str, ...] = (),
    shared_matches: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Valid rows with the action to take and the known customer id (and with ``match_on``,
    how many rows of the export share each row's match values); the payload hash of the rows
    compared with the store's (``load_batch`` hashes the rest before sending them)."""
    states = [
        store.customers.lookup(entity, group.get_column("external_id").to_list())
        for (entity,), group in valid.group_by("entity_id", maintain_order=True)
        if store.customers.knows_entity(entity)  # a first run: 200 lookups a million rows saved
    ]
    state = pl.concat(states) if states else store.customers.lookup("", [])
    return flag_shared_matches(plan_sync(valid, state), match_on, shared_matches)


@dataclass
class LoadReport:
    """The outcome of a load step."""

    outcomes: list[RowOutcome] = field(default_factory=list)
    counters: ApiCounters = field(default_factory=ApiCounters)
    totals: LoadTotals = field(default_factory=LoadTotals)
    error: str | None = None  # the API stopped the run (credentials refused, say)


def _with_loader(
    run: RunContext,
    session: ApiSession,
    work: Callable[[Loader, list[RowOutcome]], Coroutine[Any, Any, None]],
    match_on: tuple[str, ...] = (),
    match_required: bool = False,
) -> LoadReport:
    """Run ``work(loader, outcomes)`` in the session's loop; what the API stopped is kept."""
    # Imported here: a run with nothing to send never pays for httpx and tenacity.
    from engine.loader import Loader

    report = LoadReport()

    async def go() -> None:
        api = session.api()
        before = api.counters.copy()
        loader = Loader(api, run.store, run.run_id, match_on, match_required)
        try:
            await work(loader, report.outcomes)
        except* ApiStopError as group:
            # The task group cancelled the rest; what finished is kept and reported.
            first = group.exceptions[0]
            # Its settings named where it is shown (the CLI's flags, the config's fields).
            report.error = first.template if isinstance(first, ApiStopError) else str(first)
        finally:
            run.store.db.flush()  # the outcomes recorded, before anything else reads them
        report.counters = api.counters.since(before)
        report.totals = loader.totals

    session.loop.run(go())
    return report


TWINS = (
    "the Customer API already holds customers of entity {entity}, and the state store knows "
    "none of them: run from a new or lost store, this sync would create each one again, a "
    "twin. To adopt them pass {{match_on}} with a field they share (email_address, say); if "
    "they are not this export's customers, pass {{ignore_existing}}"
)


def check_no_twins(run: RunContext, session: ApiSession) -> LoadReport:
    """Before the first create of an entity the store knows no customer of: one search for any
    customer of that entity the API holds. One there means the store is not the one that made
    them (new, lost, another machine's): InputError (exit 2) before anything is written.
    Skipped where twins cannot come: --match-on adopts, --ignore-existing says they are not
    this export's, a dry run creates nothing, a migration's parent looked for its shards.
    The report's error: why the API could not be asked (credentials refused, the target
    unreachable, the search failing), which stops the run as a failed create would."""
    report = LoadReport()
    config = run.config
    if config.dry_run or config.match_on or config.ignore_existing or run.assignment:
        return report
    fresh = [e for e in run.source.census.entities if not run.store.customers.made_any(e)]
    if not fresh:
        return report
    held: list[str] = []

    async def look() -> None:
        api = session.api()  # the client: inside the loop
        before = api.counters.copy()
        try:
            held.extend(await entities_held(api, fresh))
        finally:
            report.counters = api.counters.since(before)

    try:
        session.loop.run(look())
    except RunError as exc:
        report.error = exc.template
    if held:
        raise InputError(TWINS.format(entity=held[0]))
    return report


async def entities_held(api: CustomerApi, entities: list[str]) -> list[str]:
    """Those of ``entities`` the API holds a customer of (one search each, one result)."""
    from connectors.api.answers import Answer
    from connectors.api.rsql import equals

    held = []
    for entity in entities:
        found = await api.search(equals("entity_id", entity), page_size=1)
        if found.answer is not Answer.DONE:
            raise RunError(f"could not ask the API for customers of entity {entity}: "
                           f"{found.reason}")  # fmt: skip
        if found.body:
            held.append(entity)
    return held


def load_batch(
    rows: pl.DataFrame, run: RunContext, session: ApiSession, on_result: OnResult | None = None
) -> LoadReport:
    """Send one slice of planned rows (none ``unchanged``); results land in the store as they
    come."""
    rows = ensure_payload_hash(rows)

    async def work(loader: Loader, outcomes: list[RowOutcome]) -> None:
        def collect(outcome: RowOutcome) -> None:
            outcomes.append(outcome)
            if on_result is not None:
                on_result(outcome)

        await loader.load(rows.iter_rows(named=True), collect)

    return _with_loader(run, session, work, run.config.match_on, run.config.match_required)


def settle(
    gone: pl.DataFrame, run: RunContext, session: ApiSession, on_result: OnResult | None = None
) -> LoadReport:
    """After the upserts: reconcile creates earlier runs left unanswered that this run did not
    touch (their ids left the export, or their rows were rejected), and delete the customers
    whose external id left the export."""
    shard = run.assignment.shard if run.assignment is not None else None
    entity = shard.entity if shard is not None else run.config.resolved_entity()
    orphans = run.store.journal.pending(not_run=run.run_id, entity=entity)
    if shard is not None:  # the other shards' creates are theirs, maybe in flight right now
        mine = in_shard([p.external_id for p in orphans], shard)
        orphans = [p for p, keep in zip(orphans, mine, strict=True) if keep]
    if not orphans and not gone.height:
        return LoadReport()

    async def work(loader: Loader, outcomes: list[RowOutcome]) -> None:
        await loader.each(orphans, loader.reconcile_journal, outcomes.append)

        def deleted(outcome: RowOutcome) -> None:
            outcomes.append(outcome)
            if on_result is not None:
                on_result(outcome)

        gone_rows = gone.select(GONE_COLUMNS).iter_rows()
        await loader.each(gone_rows, lambda row: loader.delete(*row), deleted)

    return _with_loader(run, session, work)


def write_back(run: RunContext) -> WritebackOutcome | None:
    """The mapping's ``[writeback]`` for this run's entities (``engine/writeback.py``); None
    when the mapping has none."""
    writeback = run.source.writeback
    if writeback is None:
        return None
    full = run.config.crm_update == "full"
    entities = run.source.census.entities
    return writeback_step(run.store, writeback, entities, run.out_dir, full=full,
                          login=run.crm_login)  # fmt: skip
