"""The UUIDs into HubSpot records: ``POST /crm/v3/objects/{objectType}/batch/update``, 100 inputs
a call, an update by record id (never a create).

- **Answers read record by record.** 200: every input updated; 207: some failed, each error
  naming its ids (``context.ids``); results come in any order and are matched by id. An input
  neither confirmed nor named in an error is not confirmed (offered again next run).
- **Limits.** HubSpot limits a private app to a number of calls in a rolling 10-second window
  (``X-HubSpot-RateLimit-Max`` in ``-Interval-Milliseconds``: 100 or 190 in 10 s) and a number a
  day (``-Daily``, ``-Daily-Remaining``), and promises no ``Retry-After``. The calls go through
  custsync's pacer at the window's rate as the headers tell it (the lowest documented one
  until they do); a 429 is retried by the one retry policy, the pacer told; a spent daily limit
  (``policyName`` ``DAILY``), or one about to leave less than ``CrmTuning.reserve`` to the
  portal's other integrations, stops the write-back in one line.
- **Clears.** An empty string clears a property; a clear refused because the record is gone
  (``OBJECT_NOT_FOUND``) is done: the record holds no UUID.
- A 400 for the property itself (``PROPERTY_DOESNT_EXIST``: the mapping names a property the
  object lacks) stops the write-back: every batch would fail the same way.
"""

from __future__ import annotations

import asyncio

import httpx

from connectors.api.pacing.pacer import RequestPacer
from connectors.api.retry import RetryPolicy
from connectors.crm.connection import CrmConnection, said
from connectors.crm.logins import HubSpotLogin
from connectors.crm.updates import OnResult, PushResult, UuidUpdate
from connectors.errors import CrmError
from connectors.tuning import DEFAULTS, CrmTuning

BATCH_SIZE = 100
LOWEST_LIMIT = (100, 10_000)  # calls per window, window in ms: the lowest HubSpot documents
NAME = "HubSpot"


class HubSpotWriter:
    """Pushes UUID updates into one object type's property."""

    def __init__(
        self,
        login: HubSpotLogin,
        object_type: str,
        uuid_property: str,
        tuning: CrmTuning = DEFAULTS.crm,
    ) -> None:
        self.login = login
        self.object_type = object_type
        self.property = uuid_property
        self.tuning = tuning
        self.window = LOWEST_LIMIT
        self.daily: int | None = None
        self.daily_left: int | None = None
        self.connection = CrmConnection(
            NAME, login.api_url, self._bearer, RetryPolicy(max_attempts=tuning.attempts),
            stop=self._stop, pacer=self._pacer(*LOWEST_LIMIT),
        )  # fmt: skip
        self.connection.on_response = self._read_limits

    @property
    def calls(self) -> int:
        """Calls made so far."""
        return self.connection.calls

    async def _bearer(self, renew: bool) -> str:
        return self.login.access_token  # a private app's token does not expire

    @staticmethod
    def _pacer(calls: int, interval_ms: int) -> RequestPacer:
        return RequestPacer(calls / (interval_ms / 1000))

    def _read_limits(self, response: httpx.Response) -> None:
        headers = response.headers
        try:
            window = (
                int(headers["x-hubspot-ratelimit-max"]),
                int(headers["x-hubspot-ratelimit-interval-milliseconds"]),
            )
        except (KeyError, ValueError):
            window = self.window
        if window != self.window and window[0] > 0 and window[1] > 0:
            self.window = window
            self.connection.pacer = self._pacer(*window)
        try:
            self.daily = int(headers["x-hubspot-ratelimit-daily"])
            self.daily_left = int(headers["x-hubspot-ratelimit-daily-remaining"])
        except (KeyError, ValueError):
            pass

    def _stop(self, response: httpx.Response) -> str | None:
        if response.status_code == 429 and '"DAILY"' in response.text:
            return (f"{NAME}'s daily API limit is spent: the write-back stops; the rest is "
                    "offered on the next run")  # fmt: skip
        if response.status_code == 403:
            return f"{NAME} refused the write-back (403): {said(response)}"
        return None

    def _check_daily(self) -> None:
        if self.daily is None or self.daily_left is None:
            return
        if self.daily_left <= self.daily * self.tuning.reserve:
            raise CrmError(
                f"{NAME}'s daily API limit is nearly spent ({self.daily_left:,} of "
                f"{self.daily:,} calls left; {self.tuning.reserve:.0%} is left to the portal's "
                "other integrations): the write-back stops; the rest is offered on the next run"
            )

    async def aclose(self) -> None:
        """Close the connection."""
        await self.connection.aclose()

    async def push(self, updates: list[UuidUpdate], on_result: OnResult) -> None:
        """Every update, in batches of 100, a few in flight, paced to the portal's window."""
        batches = [updates[i : i + BATCH_SIZE] for i in range(0, len(updates), BATCH_SIZE)]
        if not batches:
            return
        # The first alone: its answer's headers tell the portal's window before others fly.
        on_result(await self._batch(batches[0]))
        queue: asyncio.Queue[list[UuidUpdate]] = asyncio.Queue()
        for batch in batches[1:]:
            queue.put_nowait(batch)

        async def worker() -> None:
            while not queue.empty():
                batch = queue.get_nowait()
                on_result(await self._batch(batch))

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.tuning.concurrency, len(batches) - 1)):
                    group.create_task(worker())
        except* CrmError as stopped:  # the first reason to stop, as one line
            raise stopped.exceptions[0] from None

    async def _batch(self, batch: list[UuidUpdate]) -> PushResult:
        self._check_daily()
        inputs = [{"id": u.record_id, "properties": {self.property: u.uuid or ""}} for u in batch]
        response = await self.connection.send(
            "POST", f"/crm/v3/objects/{self.object_type}/batch/update", json={"inputs": inputs}
        )
        status = response.status_code
        if status == 400 and ("PROPERTY_DOESNT_EXIST" in response.text or self.property in
                              response.text):  # fmt: skip
            raise CrmError(f"{NAME} refused the property {self.property!r}: {said(response)}")
        outcome = PushResult()
        if status not in (200, 207):
            reason = f"{status}:{said(response)}"
            outcome.refused = [(u, reason) for u in batch]
            return outcome
        body = response.json()
        by_id = {u.record_id: u for u in batch}
        for result in body.get("results", []):
            update = by_id.pop(str(result.get("id")), None)
            if update is not None:
                outcome.confirmed.append(update)
        for error in body.get("errors", []) if status == 207 else []:
            category = str(error.get("category", "ERROR"))
            reason = f"{category}:{error.get('message', '')}"
            for record_id in (error.get("context") or {}).get("ids", []):
                update = by_id.pop(str(record_id), None)
                if update is None:
                    continue
                if update.uuid is None and category == "OBJECT_NOT_FOUND":
                    outcome.confirmed.append(update)  # a record that is gone holds no UUID
                else:
                    outcome.refused.append((update, reason))
        for update in by_id.values():
            outcome.refused.append((update, "NO_RESULT:HubSpot returned no result for it"))
        return outcome
