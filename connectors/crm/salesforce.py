"""The UUIDs into Salesforce records: an update on each record's Id, never an insert.

Two ways, chosen by how many records are due (``CrmTuning.bulk_from``, measured in
``bench/crm_writeback.py``):

- **sObject Collections** (``PATCH composite/sobjects``, 200 records a call, ``allOrNone``
  false): a call per 200 records, answered at once. Its results come back in the order sent
  (documented; a failed record's result carries no id), and each confirmed id is checked
  against the one sent.
- **Bulk API 2.0 ingest** (``update``): create the job, upload its CSV once, ``UploadComplete``,
  poll (at growing intervals: every poll is a call against the allocation) until
  ``JobComplete``, ``Failed`` or ``Aborted``, then read ``successfulResults/``, ``failedResults/``
  and ``unprocessedrecords/`` even when it failed. Salesforce does not keep the order: results
  are matched to records by the ``Id`` column they echo, never by position.

A UUID to clear is ``null`` in a collection and ``#N/A`` in a CSV (an empty cell leaves the field
as it is). A record refused for a moment (``UNABLE_TO_LOCK_ROW``) is sent again in a later
round of the same run; other refusals are reported with Salesforce's own code and message. A
clear refused because the record is gone (``ENTITY_IS_DELETED``, ``INVALID_CROSS_REFERENCE_KEY``)
is done: the record holds no UUID. The daily API allocation is read from every answer's
``Sforce-Limit-Info``; the write-back stops before it would leave less than
``CrmTuning.reserve`` of it to the org's other integrations, and at once on 403
``REQUEST_LIMIT_EXCEEDED``.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
from typing import Any

import httpx
import polars as pl

from connectors.api.retry import RetryPolicy
from connectors.crm.connection import CrmConnection, said
from connectors.crm.logins import SalesforceLogin, checked_url
from connectors.crm.updates import OnResult, PushResult, UuidUpdate
from connectors.errors import CrmError
from connectors.tuning import DEFAULTS, CrmTuning

API_VERSION = "v62.0"
COLLECTION_SIZE = 200
CLEAR = "#N/A"
TRANSIENT = ("UNABLE_TO_LOCK_ROW",)
GONE = ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY")
FINAL = ("JobComplete", "Failed", "Aborted")
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
NAME = "Salesforce"


class SalesforceWriter:
    """Pushes UUID updates into one sObject's field."""

    def __init__(
        self,
        login: SalesforceLogin,
        sobject: str,
        uuid_field: str,
        tuning: CrmTuning = DEFAULTS.crm,
    ) -> None:
        self.login = login
        self.sobject = sobject
        self.field = uuid_field
        self.tuning = tuning
        self.used: int | None = None  # the org's API usage today, as last told
        self.allocation: int | None = None
        self.jobs: list[str] = []
        self._token = login.access_token
        base = login.instance_url or login.login_url or ""
        policy = RetryPolicy(max_attempts=tuning.attempts)
        self.connection = CrmConnection(NAME, base, self._bearer, policy, stop=self._stop)
        self.connection.on_response = self._read_usage
        self._data = f"/services/data/{API_VERSION}"

    @property
    def calls(self) -> int:
        """Calls made so far (the token's included)."""
        return self.connection.calls

    async def _bearer(self, renew: bool) -> str:
        if self._token is not None and not (renew and self.login.client_id):
            return self._token
        self._token = await self._client_credentials()
        return self._token

    async def _client_credentials(self) -> str:
        """The OAuth 2.0 client credentials flow on the org's My Domain: a token, and the
        instance to use it on."""
        form = {"grant_type": "client_credentials", "client_id": self.login.client_id or "",
                "client_secret": self.login.client_secret or ""}  # fmt: skip
        self.connection.calls += 1
        try:
            response = await self.connection.client.post(
                f"{self.login.login_url}/services/oauth2/token", data=form
            )
        except httpx.TransportError as exc:
            raise CrmError(f"{NAME} login did not answer: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise CrmError(f"{NAME} refused the client credentials: {said(response)}")
        body = response.json()
        instance = checked_url(str(body.get("instance_url", "")), "instance_url")
        self.connection.client.base_url = httpx.URL(instance)
        return str(body["access_token"])

    def _read_usage(self, response: httpx.Response) -> None:
        found = _USAGE.search(response.headers.get("sforce-limit-info", ""))
        if found:
            self.used, self.allocation = int(found.group(1)), int(found.group(2))

    def _stop(self, response: httpx.Response) -> str | None:
        if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text:
            return (
                f"{NAME} refused the write-back: the org's daily API allocation is spent "
                "(REQUEST_LIMIT_EXCEEDED); what is left is offered on the next run"
            )
        if response.status_code == 403:
            return f"{NAME} refused the write-back (403): {said(response)}"
        return None

    def _check_allocation(self, calls_next: int) -> None:
        """Stop before the org's allocation would drop under its reserve."""
        if self.used is None or self.allocation is None:
            return
        floor = self.allocation * self.tuning.reserve
        if self.allocation - self.used - calls_next < floor:
            raise CrmError(
                f"{NAME}'s daily API allocation is nearly spent ({self.used:,} of "
                f"{self.allocation:,} calls used; {self.tuning.reserve:.0%} is left to the "
                "org's other integrations): the write-back stops; the rest is offered on the "
                "next run"
            )

    async def aclose(self) -> None:
        """Close the connection."""
        await self.connection.aclose()

    async def push(self, updates: list[UuidUpdate], on_result: OnResult) -> None:
        """Every update, in rounds: what is refused for a moment goes again, later."""
        pending = updates
        wait = self.tuning.round_wait_s
        last_reason: dict[UuidUpdate, str] = {}
        for round_number in range(self.tuning.transient_rounds):
            if not pending:
                return
            if round_number:
                await asyncio.sleep(wait)
                wait *= 2
            again: list[UuidUpdate] = []
            bulk = len(pending) >= self.tuning.bulk_from
            size = self.tuning.bulk_job_max if bulk else COLLECTION_SIZE
            for start in range(0, len(pending), size):
                chunk = pending[start : start + size]
                try:
                    result = await (self._bulk(chunk) if bulk else self._collection(chunk))
                except _JobStopped as stopped:  # what it confirmed is marked, then stop
                    on_result(_final(stopped.partial, again, last_reason))
                    raise CrmError(stopped.template) from None
                on_result(_final(result, again, last_reason))
            pending = again
        on_result(PushResult(refused=[(u, last_reason[u]) for u in pending]))

    # -- sObject Collections -------------------------------------------------------------------

    async def _collection(self, chunk: list[UuidUpdate]) -> PushResult:
        self._check_allocation(1)
        records = [{"attributes": {"type": self.sobject}, "id": u.record_id, self.field: u.uuid}
                   for u in chunk]  # fmt: skip
        response = await self.connection.send(
            "PATCH", f"{self._data}/composite/sobjects",
            json={"allOrNone": False, "records": records},
        )  # fmt: skip
        if response.status_code != 200:
            raise CrmError(f"{NAME} refused the update of {self.sobject}: {said(response)}")
        results = response.json()
        if not isinstance(results, list) or len(results) != len(chunk):
            raise CrmError(f"{NAME} answered {len(chunk)} updates with something else")
        outcome = PushResult()
        for update, result in zip(chunk, results, strict=True):
            if result.get("success"):
                echoed = str(result.get("id") or "")
                if echoed[:15] != update.record_id[:15]:
                    raise CrmError(f"{NAME} answered for another record than sent")
                outcome.confirmed.append(update)
                continue
            errors = result.get("errors") or [{}]
            code = str(errors[0].get("statusCode", "UNKNOWN"))
            reason = f"{code}:{errors[0].get('message', '')}"
            self._sort(outcome, update, code, reason)
        return outcome

    def _sort(self, outcome: PushResult, update: UuidUpdate, code: str, reason: str) -> None:
        if update.uuid is None and code in GONE:
            outcome.confirmed.append(update)  # a record that is gone holds no UUID
        else:
            outcome.refused.append((update, reason))

    # -- Bulk API 2.0 --------------------------------------------------------------------------

    async def _bulk(self, chunk: list[UuidUpdate]) -> PushResult:
        self._check_allocation(8)
        jobs = f"{self._data}/jobs/ingest"
        created = await self.connection.send("POST", jobs, json={
            "object": self.sobject, "operation": "update", "contentType": "CSV",
            "lineEnding": "LF", "columnDelimiter": "COMMA",
        })  # fmt: skip
        if created.status_code != 200:
            raise CrmError(f"{NAME} refused a Bulk job on {self.sobject}: {said(created)}")
        job_id = str(created.json()["id"])
        self.jobs.append(job_id)
        csv_text = pl.DataFrame({
            "Id": [u.record_id for u in chunk],
            self.field: [u.uuid if u.uuid is not None else CLEAR for u in chunk],
        }).write_csv(line_terminator="\n")  # fmt: skip
        uploaded = await self.connection.send(
            "PUT", f"{jobs}/{job_id}/batches", content=csv_text.encode("utf-8"),
            headers={"Content-Type": "text/csv"},
        )  # fmt: skip
        if uploaded.status_code != 201:
            raise CrmError(f"{NAME} refused job {job_id}'s data: {said(uploaded)}")
        closed = await self.connection.send(
            "PATCH", f"{jobs}/{job_id}", json={"state": "UploadComplete"}
        )
        if closed.status_code != 200:
            raise CrmError(f"{NAME} refused to start job {job_id}: {said(closed)}")
        info = await self._wait(f"{jobs}/{job_id}", job_id)
        return await self._results(f"{jobs}/{job_id}", job_id, info, chunk)

    async def _wait(self, path: str, job_id: str) -> dict[str, Any]:
        """Poll the job to a final state at growing intervals (each poll costs a call)."""
        wait, waited = self.tuning.poll_first_s, 0.0
        while True:
            await asyncio.sleep(wait)
            waited += wait
            self._check_allocation(4)
            response = await self.connection.send("GET", path)
            if response.status_code != 200:
                raise CrmError(f"{NAME} did not tell job {job_id}'s state: {said(response)}")
            info: dict[str, Any] = response.json()
            if info.get("state") in FINAL:
                return info
            if waited >= self.tuning.poll_timeout_s:
                raise CrmError(
                    f"{NAME} job {job_id} still {info.get('state')} after {waited:.0f} s: the "
                    "write-back stops waiting; its records are offered again on the next run"
                )
            wait = min(wait * self.tuning.poll_growth, self.tuning.poll_max_s)

    async def _results(
        self, path: str, job_id: str, info: dict[str, Any], chunk: list[UuidUpdate]
    ) -> PushResult:
        """The job's three result sets, matched to the records by the Id they echo."""
        by_id = {u.record_id: u for u in chunk}
        outcome = PushResult()
        confirmed = await self._csv(f"{path}/successfulResults/")
        for record_id in confirmed.get_column("Id", default=pl.Series([], dtype=pl.String)):
            update = by_id.pop(str(record_id), None)
            if update is not None:
                outcome.confirmed.append(update)
        failed = await self._csv(f"{path}/failedResults/")
        if failed.height:
            for record_id, error in failed.select("Id", "sf__Error").iter_rows():
                update = by_id.pop(str(record_id), None)
                if update is not None:
                    reason = str(error or "").removesuffix(":--")
                    self._sort(outcome, update, reason.split(":", 1)[0], reason)
        unprocessed = await self._csv(f"{path}/unprocessedrecords/")
        state = info.get("state")
        if state != "JobComplete":
            message = info.get("errorMessage") or "no reason given"
            left = len(by_id)
            raise _JobStopped(
                f"{NAME} job {job_id} {state}: {message} ({unprocessed.height:,} records not "
                f"processed, {left:,} offered again on the next run)",
                outcome,
            )
        for update in by_id.values():  # never answered for: not confirmed, told as such
            outcome.refused.append((update, "NO_RESULT:Salesforce returned no result for it"))
        return outcome

    async def _csv(self, path: str) -> pl.DataFrame:
        response = await self.connection.send("GET", path)
        if response.status_code != 200:
            raise CrmError(f"{NAME} did not give a job's results: {said(response)}")
        if not response.content.strip():
            return pl.DataFrame()
        return pl.read_csv(io.BytesIO(response.content), infer_schema=False)

    def estimate_calls(self, records: int) -> int:
        """Calls a push of this many records takes at least (polls not counted)."""
        if records >= self.tuning.bulk_from:
            return 7 * math.ceil(records / self.tuning.bulk_job_max)
        return math.ceil(records / COLLECTION_SIZE)


def _final(
    result: PushResult, again: list[UuidUpdate], last_reason: dict[UuidUpdate, str]
) -> PushResult:
    """The answers that are final; those refused for a moment put in ``again``."""
    final = PushResult(result.confirmed)
    for update, reason in result.refused:
        if reason.split(":", 1)[0] in TRANSIENT:
            again.append(update)
            last_reason[update] = reason
        else:
            final.refused.append((update, reason))
    return final


class _JobStopped(CrmError):
    """A Bulk job that ended Failed or Aborted: what it did confirm is still to be marked."""

    def __init__(self, message: str, partial: PushResult) -> None:
        super().__init__(message)
        self.partial = partial
