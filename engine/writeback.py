"""The write-back: the UUIDs the CRM does not hold yet, given to it, and marked once it has them.

One function for every command that ends with it (``sync``, ``migrate``'s parent once its
shards are merged, ``writeback``): what is due is what the state store says the CRM was not
confirmed to hold (new, changed or cleared UUIDs; every UUID with ``--crm-update full``).

- ``crm = "file"``: ``crm-update.csv`` is written, then the rows are marked as given (the
  file is the hand-over; a run that dies between the two writes them again, never leaves one
  out).
- ``crm = "salesforce"`` / ``"hubspot"``: pushed through the CRM's API (``connectors/crm/``); a
  record is marked only once the CRM confirmed it, batch by batch as answers come, so a run
  that dies between an answer and its mark offers that record again (an update writing the
  same UUID twice is harmless). A record the CRM refuses is a ``rejects.csv`` line (action
  ``crm_failed``, the CRM's reason) and stays due. A CRM that cannot take the write-back at
  all (down, credentials or allocation refused) ends it in one line (``CrmError``, exit 3):
  the customers stay synced, the next run catches up. ``crm-update.csv`` is still written, as
  the record of what was pushed and what became of each record (``crm_result``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from connectors.crm.logins import CrmLogin, HubSpotLogin, SalesforceLogin, crm_login
from connectors.crm.updates import PushResult, UuidUpdate
from connectors.errors import CrmError, InputError
from connectors.reports.artifacts import REJECT_HEADER, CsvAppender, write_crm_update, write_report
from connectors.sources.mapping_file import load_mapping
from connectors.state.db import state_exists
from connectors.state.store import StateStore
from connectors.tuning import Tuning
from engine.outcome import RunOutcome
from schemas.mapping import Writeback
from schemas.report import SyncReport

T = TypeVar("T")
CONFIRMED, FAILED, NOT_SENT = "confirmed", "failed", "not_sent"


@dataclass
class WritebackOutcome:
    """What a write-back did: rows due, confirmed by the CRM, refused by it; its file; and
    why it stopped short, if it did."""

    due: int = 0
    confirmed: int = 0
    failed: int = 0
    path: str = ""
    error: str | None = None
    calls: int = 0
    crm: str = "file"

    def tell(self, report: SyncReport, dry_run: bool = False) -> None:
        """Put what it did in a sync's report."""
        report.crm_update_rows, report.crm_update = self.due, self.path
        if not dry_run and self.crm != "file":
            report.crm_confirmed, report.crm_failed = self.confirmed, self.failed
            report.crm_error = self.error

    def falls_short(self) -> str | None:
        """Why the CRM does not hold every UUID due (exit 3), in one line; None: it does."""
        if self.error is not None:
            return f"the write-back stopped: {self.error}"
        if self.failed:
            return (f"the CRM refused {self.failed:,} of {self.due:,} records (rejects.csv, "
                    "crm_failed); they are offered again on the next run")  # fmt: skip
        return None


def check_login(writeback: Writeback | None) -> CrmLogin | None:
    """The CRM login the mapping's ``[writeback]`` needs, read now: a missing one stops the
    run before anything is sent (exit 2), not after the sync."""
    return crm_login(writeback.crm) if writeback is not None else None


def write_back(
    store: StateStore,
    writeback: Writeback,
    entities: Iterable[str],
    out_dir: Path,
    *,
    full: bool = False,
    dry_run: bool = False,
    login: CrmLogin | None = None,
) -> WritebackOutcome:
    """Give the CRM what is due for these entities; mark what it confirmed. A dry run writes
    the file of what would be pushed and changes nothing."""
    due = store.writeback.due(entities, full)
    outcome = WritebackOutcome(due=due.height, crm=writeback.crm)
    if dry_run:
        outcome.path = str(write_crm_update(due, writeback, out_dir))
        return outcome
    if writeback.crm == "file":
        outcome.path = str(write_crm_update(due, writeback, out_dir))
        store.writeback.mark(due)  # after the file: a crash between hands them out again
        outcome.confirmed = due.height
        return outcome
    login = login or crm_login(writeback.crm)
    assert login is not None
    results = _Results(store, due, out_dir / "rejects.csv", writeback.uuid_field)
    try:
        _run(_push(login, writeback, results))
    except CrmError as exc:
        outcome.error = exc.template
    finally:
        results.close()
        store.db.flush()
    outcome.confirmed, outcome.failed = results.confirmed, results.failed
    outcome.calls = results.calls  # those of a write-back that stopped short too
    outcome.path = str(write_crm_update(results.record(), writeback, out_dir, "crm_result"))
    return outcome


async def _push(login: CrmLogin, writeback: Writeback, results: _Results) -> None:
    tuning = Tuning.from_environment().crm
    writer: Any
    # Imported here: a write-back by file (the default) never pays for the CRM clients.
    if isinstance(login, SalesforceLogin):
        from connectors.crm.salesforce import SalesforceWriter

        writer = SalesforceWriter(login, writeback.object, writeback.uuid_field, tuning)
    else:
        assert isinstance(login, HubSpotLogin)
        from connectors.crm.hubspot import HubSpotWriter

        writer = HubSpotWriter(login, writeback.object, writeback.uuid_field, tuning)
    try:
        await writer.push(results.updates, results.take)
    finally:
        await writer.aclose()
        results.calls = int(writer.calls)


class _Results:
    """The due rows, and what the CRM said of each: marks, rejects lines, the record."""

    def __init__(self, store: StateStore, due: pl.DataFrame, rejects: Path, field: str) -> None:
        self.store = store
        self.due = due
        self.field = field
        # A CRM record is one external id: the same id in two entities is one update (the
        # first UUID; the other is not confirmed and stays due, reported below).
        first = due.unique("external_id", keep="first", maintain_order=True)
        self.updates = [UuidUpdate(i, c) for i, c in first.select("external_id", "customer_id")
                        .iter_rows()]  # fmt: skip
        self.status: dict[str, tuple[str, str]] = {}
        self.confirmed = self.failed = self.calls = 0
        self._rejects = CsvAppender(rejects, REJECT_HEADER, append=True)

    def take(self, result: PushResult) -> None:
        """One answer: the confirmed marked at once, the refused reported."""
        if result.confirmed:
            confirmed = pl.DataFrame(
                {"external_id": [u.record_id for u in result.confirmed],
                 "customer_id": [u.uuid for u in result.confirmed]},
                schema={"external_id": pl.String, "customer_id": pl.String},
            )  # fmt: skip
            # Each due row of a confirmed record that holds the UUID the CRM confirmed.
            given = self.due.join(
                confirmed, on=["external_id", "customer_id"], how="semi", nulls_equal=True
            )
            self.store.writeback.mark(given)
            self.store.db.flush()
            self.confirmed += given.height
            self.status.update((u.record_id, (CONFIRMED, "")) for u in result.confirmed)
        if result.refused:
            self.failed += len(result.refused)
            self.status.update((u.record_id, (FAILED, why)) for u, why in result.refused)
            self._rejects.write(pl.DataFrame({
                "external_id": [u.record_id for u, _ in result.refused],
                "row": [None] * len(result.refused),
                "field": [self.field] * len(result.refused),
                "reason": [f"the CRM refused it: {why}" for _, why in result.refused],
                "file": [None] * len(result.refused),
                "action": ["crm_failed"] * len(result.refused),
                "column": [self.field] * len(result.refused),  # the CRM's own field
            }, schema=dict.fromkeys(REJECT_HEADER, pl.String)))  # fmt: skip

    def record(self) -> pl.DataFrame:
        """The due rows, each with what became of it (``crm_result``)."""
        seen = {k: v[0] for k, v in self.status.items()}
        return self.due.with_columns(
            pl.col("external_id").replace_strict(seen, default=NOT_SENT).alias("crm_result")
        )

    def close(self) -> None:
        """Close rejects.csv."""
        self._rejects.close()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the push in an event loop of its own, in this thread, as the run's API session does
    (``engine/session.py``): the marks go to the store from the thread that opened it (a
    SQLite connection refuses any other)."""
    return asyncio.run(coroutine)


def run_writeback(
    state: str,
    mapping_path: Path,
    out_dir: Path,
    entity_id: str | None = None,
    *,
    full: bool = False,
    dry_run: bool = False,
) -> RunOutcome[dict[str, Any]]:
    """``custsync writeback``: what is due, pushed without syncing (catching up after a CRM
    outage), under the store's lock of the entity (or the whole store)."""
    from engine.context import check_out_dir, new_run_id

    mapping = load_mapping(mapping_path)
    if mapping is None or mapping.writeback is None:
        raise InputError("{mapping} has no [writeback] table: nothing to write back")
    login = None if dry_run else check_login(mapping.writeback)
    if not state_exists(state):
        raise InputError(f"no state store at {state}")
    check_out_dir(out_dir)
    run_id = new_run_id()
    with StateStore.open(state) as store:
        if not dry_run:
            store.lock.acquire(run_id, entity_id)
        entities = [entity_id] if entity_id else store.writeback.entities()
        outcome = write_back(store, mapping.writeback, entities, out_dir, full=full,
                             dry_run=dry_run, login=login)  # fmt: skip
    report: dict[str, Any] = {
        "run_id": run_id, "crm": mapping.writeback.crm, "object": mapping.writeback.object,
        "dry_run": dry_run, "due": outcome.due, "crm_confirmed": outcome.confirmed,
        "crm_failed": outcome.failed, "crm_calls": outcome.calls, "failed": 0,
        "crm_update": outcome.path,
    }  # fmt: skip
    if outcome.error is not None:
        report["crm_error"] = outcome.error
    write_report(report, out_dir)
    short = None if dry_run else outcome.falls_short()
    return RunOutcome(report, out_dir, CrmError.exit_code if short else 0, short)
