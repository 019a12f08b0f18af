"""Loading a plan into the Customer API, each result landing in the state store at once.

Exactly once, without an idempotency key: a create is journalled (durably) before it is sent;
when its outcome is unknown (timeout, reset, lost response, 5xx) it is never re-sent blindly:
the API is searched for exactly what was sent, and a match is adopted. Only when the search
finds nothing is the create sent again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from connectors.api.answers import Answer
from connectors.api.client import ApiResult, CustomerApi
from connectors.api.rsql import (
    all_of,
    case_variants,
    equals,
    loose_record_query,
    one_of,
    record_query,
)
from connectors.errors import ApiStopError, AuthError, UnreachableError
from connectors.state.journal import PendingCreate
from connectors.state.store import StateStore
from schemas.outcomes import LoadTotals, RowOutcome, RowStatus
from schemas.payload import PAYLOAD_HASH, adopting, keeping_stored, request_body
from schemas.plan import ACTION, KNOWN_ID, MATCH_SHARED, PlanAction
from schemas.record_match import same_record, same_values
from schemas.validation import LEFT_OUT

T = TypeVar("T")

log = logging.getLogger("custsync.load")

CREATED, UPDATED, ADOPTED = RowStatus.CREATED, RowStatus.UPDATED, RowStatus.ADOPTED
REJECTED, FAILED, DELETED = RowStatus.REJECTED, RowStatus.FAILED, RowStatus.DELETED

MAX_CREATE_ROUNDS = 8  # create -> unknown outcome -> search finds nothing -> create again ...
RECONCILE_PAGE = 20
LOOSE_PAGE = 100  # the loose search's pages, and how many of them at most
LOOSE_PAGES = 10
# Creates journalled together, ahead of sending (one commit for all): a crash can leave at
# most this many more journalled but never sent, each costing its reconciliation a search.
PREMARK_ROWS = 32
AHEAD_S = 0.5  # seconds of the pace a run keeps next in line (see load)
MIN_UNDER_WAY = 4


class UnderWay:
    """The tasks of a group under way: no more than keep the API's pace (those in flight over
    an answer's latency, and AHEAD_S of it next in line)."""

    def __init__(self, api: CustomerApi, group: asyncio.TaskGroup) -> None:
        self._api = api
        self._group = group
        self._alive: set[asyncio.Task[None]] = set()

    def bound(self) -> float:
        """How many may be under way now."""
        return max(MIN_UNDER_WAY, self._api.under_way(AHEAD_S))

    async def room(self) -> None:
        """Wait until one more may start."""
        while len(self._alive) >= self.bound():
            await asyncio.wait(self._alive, return_when=asyncio.FIRST_COMPLETED)

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Start ``work`` in the group."""
        task = self._group.create_task(work)
        self._alive.add(task)
        task.add_done_callback(self._alive.discard)


class Loader:
    """Sends planned rows; records every result; reconciles unknown outcomes."""

    def __init__(
        self,
        api: CustomerApi,
        store: StateStore,
        run_id: str,
        match_on: tuple[str, ...] = (),
        match_required: bool = False,
    ) -> None:
        self.api = api
        self.store = store
        self.run_id = run_id
        self.match_on = match_on
        self.match_required = match_required
        self.totals = LoadTotals()
        self._premarked: dict[tuple[str, str], PendingCreate] = {}

    async def load(
        self,
        rows: Iterable[dict[str, Any]],
        on_result: Callable[[RowOutcome], None],
        window: int = 256,
    ) -> None:
        """Send every row (bounded number of tasks alive at once; the client bounds requests)."""
        slots = asyncio.Semaphore(window)
        stopped: list[ApiStopError] = []

        async def one(row: dict[str, Any]) -> None:
            # A stop (credentials refused) does not cancel the rows in flight: each gets its
            # answer (made and recorded, or refused: made nothing), and none is left in doubt.
            try:
                on_result(await self.send(row))
            except ApiStopError as exc:
                stopped.append(exc)
            finally:
                slots.release()

        iterator = iter(rows)
        try:
            if not self.api.credentials_proven:
                # One row alone first: its answer proves the credentials before any other
                # row's body (shopper data) is journalled; refused, the run stops with none.
                for row in itertools.islice(iterator, 1):
                    on_result(await self.send(row))
            async with asyncio.TaskGroup() as group:
                under_way = UnderWay(self.api, group)
                while not stopped:
                    # Rows journalled ahead wait for the pacer, and a run killed leaves each of
                    # them for its successor to settle (a search or two apiece): no more rows
                    # are under way than keep the pace, however many the window would hold (a
                    # shard at 17/s: about 12, not 288), journalled in chunks of half that (a
                    # commit each).
                    await under_way.room()
                    size = max(MIN_UNDER_WAY, min(PREMARK_ROWS, int(under_way.bound() / 2)))
                    chunk = list(itertools.islice(iterator, size))
                    if not chunk:
                        break
                    self._premark(chunk)
                    for row in chunk:
                        await slots.acquire()
                        if stopped:
                            slots.release()
                            break
                        under_way.start(one(row))
            if stopped:
                raise stopped[0]
        except BaseException:
            # Stopped (credentials refused mid-run, say): creates journalled ahead and never
            # sent made nothing; their bodies must not stay behind.
            unsent = list(self._premarked)
            self._premarked.clear()
            self.store.journal.withdraw(unsent)
            raise

    async def each(
        self,
        items: Iterable[T],
        send: Callable[[T], Awaitable[RowOutcome | None]],
        on_result: Callable[[RowOutcome], None],
    ) -> None:
        """``send`` for every item, side by side as the pace allows (a settle's searches and a
        mirror's deletions, which a loop one at a time held to one per answer's latency)."""
        stopped: list[ApiStopError] = []

        async def one(item: T) -> None:
            # As in load: a stop lets the requests in flight have their answers.
            try:
                outcome = await send(item)
            except ApiStopError as exc:
                stopped.append(exc)
                return
            if outcome is not None:
                on_result(outcome)

        async with asyncio.TaskGroup() as group:
            under_way = UnderWay(self.api, group)
            for item in items:
                await under_way.room()
                if stopped:
                    break
                under_way.start(one(item))
        if stopped:
            raise stopped[0]

    def _premark(self, rows: list[dict[str, Any]]) -> None:
        """Journal the creates of the next rows in one commit, before any of them is sent."""
        if self.match_on:  # a row may be adopted instead: its create is journalled when due
            return
        creates = [(row["entity_id"], row["external_id"], row[PAYLOAD_HASH], request_body(row))
                   for row in rows if row[ACTION] == PlanAction.CREATE]  # fmt: skip
        if creates:
            for entry in self.store.journal.mark_many(creates, self.run_id):
                self._premarked[(entry.entity_id, entry.external_id)] = entry

    async def send(self, row: dict[str, Any]) -> RowOutcome:
        """One planned row to the API, its result recorded before returning."""
        action = row[ACTION]
        if action == PlanAction.UPDATE:
            return await self._update(row)
        if action == PlanAction.RECONCILE:
            state = self.store.customers.get(row["entity_id"], row["external_id"])
            if state is not None and state.pending is not None:
                adopted = await self._reconcile_pending(state.pending)
                if adopted is not None:
                    if adopted.customer_id and state.pending.payload_hash != row[PAYLOAD_HASH]:
                        # Found the earlier create, but the export has changed since: update it.
                        return await self._update({**row, KNOWN_ID: adopted.customer_id})
                    return adopted
        if self.match_on:
            matched = await self._match_existing(row)
            if matched is not None:
                return matched
            if any(row.get(field) is None for field in self.match_on):
                return self._unmatched(await self._create(row))
        return await self._create(row)

    async def delete(self, entity_id: str, external_id: str, customer_id: str) -> RowOutcome:
        """Delete a customer whose external id left the export (mirror syncs)."""
        result = await self.api.delete(customer_id)
        if result.answer in (Answer.DONE, Answer.NOT_FOUND):
            self.store.customers.forget(entity_id, external_id, DELETED, self.run_id)
            return RowOutcome(entity_id, external_id, DELETED, customer_id)
        self._record(entity_id, external_id, FAILED, error=result.reason)
        return RowOutcome(entity_id, external_id, FAILED, customer_id, result.reason)

    async def reconcile_journal(self, pending: PendingCreate) -> RowOutcome | None:
        """A create an earlier run journalled for an external id absent from this run's rows:
        adopt what it made, or clear the intent when it made nothing."""
        outcome = await self._reconcile_pending(pending)
        if outcome is None:
            reason = "an earlier create never reached the API"
            self._record(pending.entity_id, pending.external_id, FAILED, error=reason)
        return outcome

    async def _match_existing(self, row: dict[str, Any]) -> RowOutcome | None:
        """--match-on: adopt the one customer that already carries these fields (made by
        checkout, say) instead of creating a twin. Several customers, several rows of the run
        matching one, or one another external id holds already: a conflict, never a guess."""
        values = {field: row.get(field) for field in self.match_on}
        entity_id, external_id = row["entity_id"], row["external_id"]
        fields = ", ".join(self.match_on)
        if any(v is None for v in values.values()):
            if self.match_required:
                empty = [f for f, v in values.items() if v is None]
                reason = f"no {', '.join(empty)} to match on (--match-required)"
                self._record(entity_id, external_id, REJECTED, error=reason)
                return RowOutcome(entity_id, external_id, REJECTED, reason=reason, fields=empty,
                                  said_by="")  # fmt: skip
            return None  # created, counted and listed as unmatched (_create)
        # Case variants (an e-mail typed in capitals in the CRM is the same shopper), the
        # answers then compared ignoring case and outer spaces.
        query = all_of([equals("entity_id", entity_id)] +
                       [one_of(f, case_variants(str(v))) for f, v in values.items()])  # fmt: skip
        result = await self.api.search(query, page_size=RECONCILE_PAGE)
        if result.answer is not Answer.DONE:
            return self._finish(row, result, ADOPTED, False)
        ids = [c["id"] for c in result.body or [] if same_values(c, values)]
        free = [c for c in ids if c not in self._ids_mapped_elsewhere(entity_id, external_id, ids)]
        if not free:
            return None
        sharing = int(row.get(MATCH_SHARED) or 1)
        if len(free) > 1:
            reason = f"conflict: {len(free)} customers match on {fields}"
        elif sharing > 1:
            reason = f"conflict: {sharing} rows of this run match one customer on {fields}"
        else:
            owner = self.store.customers.claim(entity_id, external_id, free[0], ADOPTED,
                                               self.run_id)  # fmt: skip
            reason = "" if owner is None else (
                f"conflict: the customer matching on {fields} is mapped to {owner}")  # fmt: skip
        if reason:
            self.totals.match_conflicts += 1
            self._record(entity_id, external_id, FAILED, error=reason)
            return RowOutcome(entity_id, external_id, FAILED, reason=reason)
        # Claimed: bring the record in line with the CRM (one full-record update), keeping
        # what the API holds for every field the row has no value for.
        record = next(c for c in result.body if c["id"] == free[0])
        updated = await self.api.update(free[0], request_body(adopting(row, record)))
        return self._finish({**row, KNOWN_ID: free[0]}, updated, ADOPTED, False)

    # -- operations ----------------------------------------------------------------------------

    async def _create(self, row: dict[str, Any], recreated: bool = False) -> RowOutcome:
        entity_id, external_id, payload_hash = (
            row["entity_id"],
            row["external_id"],
            row[PAYLOAD_HASH],
        )
        premarked = self._premarked.pop((entity_id, external_id), None)
        body = request_body(row) if premarked is None else premarked.body
        for _ in range(MAX_CREATE_ROUNDS):
            journalled = premarked or self.store.journal.mark(
                entity_id, external_id, payload_hash, body, self.run_id
            )
            premarked = None
            try:
                result = await self.api.create(body)
            except (AuthError, UnreachableError):
                # Refused, never reached, or never sent (the run had stopped): nothing was made.
                self.store.journal.withdraw([(entity_id, external_id)])
                raise
            if result.answer is not Answer.AMBIGUOUS:
                return self._finish(row, result, CREATED, recreated)
            log.info("create of %s: outcome unknown (%s); reconciling", external_id, result.reason)
            found = await self._find_created(entity_id, external_id, body, journalled.since)
            if isinstance(found, RowOutcome):
                return found
            if found is not None:
                return self._adopt_found(entity_id, external_id, found, payload_hash, recreated)
        reason = (
            f"create outcome still unknown after {MAX_CREATE_ROUNDS} tries; reconciles next run"
        )
        self._record(entity_id, external_id, FAILED, error=reason, keep_pending=True)
        return RowOutcome(entity_id, external_id, FAILED, reason=reason)

    async def _update(self, row: dict[str, Any]) -> RowOutcome:
        left_out = row.get(LEFT_OUT) or []
        sent = row
        if left_out:
            # Never blank what the API has: the fields left out are re-sent as it holds them.
            stored = await self.api.get(row[KNOWN_ID])
            if stored.answer is Answer.DONE and isinstance(stored.body, dict):
                sent = keeping_stored(row, stored.body, left_out)
            elif stored.answer is not Answer.NOT_FOUND:
                return self._finish(row, stored, UPDATED, False)
        result = await self.api.update(row[KNOWN_ID], request_body(sent))
        if result.answer is Answer.NOT_FOUND:
            # Deleted behind our back: create it again, and say so.
            log.info("customer of %s vanished from the API; recreating", row["external_id"])
            self.totals.recreated += 1
            return await self._create(row, recreated=True)
        return self._finish(row, result, UPDATED, False)

    def _finish(
        self, row: dict[str, Any], result: ApiResult, done: RowStatus, recreated: bool
    ) -> RowOutcome:
        entity_id, external_id = row["entity_id"], row["external_id"]
        if result.answer is Answer.DONE:
            customer_id = result.body["id"] if isinstance(result.body, dict) else row.get(KNOWN_ID)
            self._record(entity_id, external_id, done, customer_id, row[PAYLOAD_HASH])
            return RowOutcome(entity_id, external_id, done, customer_id, recreated=recreated)
        if result.answer is Answer.ROW_ERROR:
            self._record(entity_id, external_id, REJECTED, error=result.reason)
            return RowOutcome(
                entity_id, external_id, REJECTED, row.get(KNOWN_ID), result.reason, result.fields
            )
        self._record(entity_id, external_id, FAILED, error=result.reason)
        return RowOutcome(entity_id, external_id, FAILED, row.get(KNOWN_ID), result.reason)

    # -- reconciliation ------------------------------------------------------------------------

    async def _find_created(
        self, entity_id: str, external_id: str, body: dict[str, Any], since: str
    ) -> str | RowOutcome | None:
        """The UUID of the customer an unanswered create made, None if it made none, or a
        failed outcome when the API holds several candidates (never guess) or cannot be asked.

        First a search for exactly what was sent; when that finds nothing (or the API refuses
        it), a looser one — one distinctive field in a few case variants — whose answers are
        compared here ignoring case, spacing and phone prefixes: an API that stores a value in
        another form (an e-mail lower-cased, say) must not make us create a twin."""
        self.totals.reconciliations += 1
        self.totals.reconcile_requests += 1
        query = record_query(entity_id, body, since)
        exact = await self.api.search(query, page_size=RECONCILE_PAGE)
        done = exact.answer is Answer.DONE
        candidates = [c["id"] for c in exact.body or []] if done else []
        failure = None if done else exact.reason
        loose_query = loose_record_query(entity_id, body, since)
        if not candidates and loose_query is not None:
            found, failure = await self._loose_matches(loose_query, body)
            candidates = [c["id"] for c in found]
        if failure is not None:
            reason = f"could not reconcile an unanswered create: {failure}"
            self._record(entity_id, external_id, FAILED, error=reason, keep_pending=True)
            return RowOutcome(entity_id, external_id, FAILED, reason=reason)
        taken = self._ids_mapped_elsewhere(entity_id, external_id, candidates)
        free = [c for c in candidates if c not in taken]
        if len(free) > 1:
            reason = f"{len(free)} customers match an unanswered create; not guessing"
            self._record(entity_id, external_id, FAILED, error=reason, keep_pending=True)
            return RowOutcome(entity_id, external_id, FAILED, reason=reason)
        return free[0] if free else None

    async def _loose_matches(
        self, query: str, body: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Every customer the loose query finds that holds ``body`` in some form; or why the
        API could not say. Paged to the end (an empty page: a short one may be a page-size
        cap), at most LOOSE_PAGES pages: more candidates than that are no basis for a guess."""
        found: list[dict[str, Any]] = []
        for page in range(1, LOOSE_PAGES + 1):
            self.totals.reconcile_requests += 1
            result = await self.api.search(query, page_size=LOOSE_PAGE, page_number=page)
            if result.answer is not Answer.DONE:
                return [], result.reason
            customers = [c for c in result.body or [] if isinstance(c, dict)]
            if not customers:
                return found, None
            found += [c for c in customers if same_record(c, body)]
        return [], f"over {LOOSE_PAGES * LOOSE_PAGE} customers resemble it; not guessing"

    def _ids_mapped_elsewhere(self, entity_id: str, external_id: str, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        mapped = self.store.customers.owners_of(entity_id, ids)
        return {cid for cid, owner in mapped.items() if owner != external_id}

    async def _reconcile_pending(self, pending: PendingCreate) -> RowOutcome | None:
        """A create journalled by an earlier run: adopt what it made, or None to create anew."""
        entity_id, external_id = pending.entity_id, pending.external_id
        found = await self._find_created(entity_id, external_id, pending.body, pending.since)
        if isinstance(found, RowOutcome):
            return found
        if found is None:
            return None
        return self._adopt_found(entity_id, external_id, found, pending.payload_hash)

    def _adopt_found(
        self,
        entity_id: str,
        external_id: str,
        customer_id: str,
        payload_hash: str,
        recreated: bool = False,
    ) -> RowOutcome:
        """The customer an unanswered create made, found: claimed and recorded (unless another
        external id claimed it meanwhile: then it is not ours, and the create stays pending)."""
        owner = self.store.customers.claim(entity_id, external_id, customer_id, CREATED,
                                           self.run_id)  # fmt: skip
        if owner is not None:
            reason = f"conflict: the customer an unanswered create made is mapped to {owner}"
            self._record(entity_id, external_id, FAILED, error=reason, keep_pending=True)
            return RowOutcome(entity_id, external_id, FAILED, reason=reason)
        self._record(entity_id, external_id, CREATED, customer_id, payload_hash)
        return RowOutcome(entity_id, external_id, CREATED, customer_id, recreated=recreated)

    def _unmatched(self, outcome: RowOutcome) -> RowOutcome:
        """--match-on: a row created without a match tried (its match fields empty): a twin
        of a customer it could not be compared with, perhaps; counted and listed."""
        if outcome.status is CREATED:
            outcome.unmatched = True
            self.totals.created_unmatched += 1
        return outcome

    def _record(
        self,
        entity_id: str,
        external_id: str,
        status: RowStatus,
        customer_id: str | None = None,
        payload_hash: str | None = None,
        error: str | None = None,
        keep_pending: bool = False,
    ) -> None:
        self.store.customers.record(
            entity_id, external_id, status, self.run_id, customer_id, payload_hash, error,
            keep_pending, defer=True,
        )  # fmt: skip
