"""The Customer API client: pooled async HTTP, every answer classified before anything waits.

The transport (``transport.py``) owns the connections and translates the backend's errors;
what each status or transport error means is a table (``answers.py``); how long to wait
between attempts is one policy (``retry.py``); every attempt of every call goes through them,
in this layer only. A client-side pacer and a bound on requests in flight apply to
every attempt. An answer after which nothing can succeed (401/403, a redirect, a 2xx that is
not JSON) stops the whole run: what is still queued fails without being sent.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass, field, replace
from json import dumps
from typing import Any

import httpx

from connectors.api.answers import NOT_SENT_ERRORS, Answer, classify_error, classify_status
from connectors.api.counters import ApiCounters
from connectors.api.pacing.concurrency import InFlightCap
from connectors.api.pacing.limit_headers import read_quota
from connectors.api.pacing.pacer import RequestPacer
from connectors.api.retry import (
    GaveUp,
    RetryableFailure,
    RetryPolicy,
    parse_retry_after,
    with_retries,
)
from connectors.api.targets import Credentials
from connectors.api.transport import ApiTransport, TlsError, why_unreachable
from connectors.errors import ApiStopError, AuthError, TargetError, UnreachableError
from schemas.redact import redact, sent_values

log = logging.getLogger("custsync.api")

URL_CACHE_SIZE = 64
DEFAULT_PORTS = {"https": 443, "http": 80}
# Two 503s this close are a run: a limit answering, not a server failing (issue 28).
RUN_503_S = 1.0
CONNECTIONS_PER_CLIENT = 8  # connections of one pool (one aiohttp session each)


@dataclass
class ApiResult:
    """What one logical call (all its attempts) came to: ``answer`` is DONE, ROW_ERROR,
    NOT_FOUND, AMBIGUOUS or FAILED."""

    answer: Answer
    status: int | None = None
    body: Any = None
    reason: str | None = None
    attempts: int = 1
    fields: list[str] = field(default_factory=list)


def api_reason(response: httpx.Response) -> tuple[str, list[str]]:
    """The API's own explanation of an error response in one line, and the fields it names."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}", []
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}", []
    message = str(body.get("message") or f"HTTP {response.status_code}")
    details = body.get("details")
    if isinstance(details, dict) and details:
        parts = "; ".join(f"{k}: {v}" for k, v in details.items())
        return f"{message} ({parts})", [str(k) for k in details]
    return message, []


class CustomerApi:
    """Async client of one Customer API base URL. Use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        pacer: RequestPacer | None = None,
        cap: InFlightCap | None = None,
        concurrency: int = 8,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.counters = ApiCounters()
        self._credentials = credentials
        self._pacer = pacer or RequestPacer(None)
        self._in_flight = asyncio.Semaphore(concurrency)
        self._cap = cap or InFlightCap()  # a gateway's own cap on requests in flight, once learnt
        self._out = 0  # requests sent and not yet answered
        self._answered = asyncio.Event()
        # Every attempt passes the pacer, which keeps a Retry-After as a wall (retry.py).
        self._retry = replace(retry or RetryPolicy(), paced=True)
        shards = max(1, -(-concurrency // CONNECTIONS_PER_CLIENT))
        per_client = -(-concurrency // shards)
        headers = {"Accept": "application/json", "User-Agent": "custsync"}
        # The Authorization header is built once: httpx.BasicAuth runs an auth flow (a
        # generator, a request copy) for every request.
        if credentials.access_token:
            headers["Authorization"] = f"Bearer {credentials.access_token}"
        else:
            pair = f"{credentials.user_uid or ''}:{credentials.api_key or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        self._headers = headers
        self._json_headers = {**headers, "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        # Requests handed to the transport directly: AsyncClient's layers (auth flow, redirect
        # loop, cookie jar, default headers merged per request) do nothing the API needs (no
        # cookies, no redirects followed, the headers fixed) and cost a sixth of a create's
        # time on the client (bench/RESULTS.md, issue 31).
        self._transports = [ApiTransport(limits, timeout_s, min(10.0, timeout_s))
                            for _ in range(shards)]  # fmt: skip
        self._urls: dict[str, httpx.URL] = {}
        self._load = [0] * shards
        # Until one answer proves the credentials, one request at a time: refused credentials
        # then cost a single 401, not one per request in flight.
        self._credentials_proven = False
        self._reached = False  # an answer has come back (the target is there)
        self._last_503: float | None = None
        self._first_request = asyncio.Lock()
        # Once stopped, stopped for good: requests still queued fail without being sent.
        self._stopped: ApiStopError | None = None

    @property
    def credentials_proven(self) -> bool:
        """Whether an answer has shown the credentials are accepted."""
        return self._credentials_proven

    def under_way(self, ahead_s: float) -> float:
        """Requests worth having under way (sent, or next in line) to keep the pace: those in
        flight over an answer's latency, and ``ahead_s`` of the pace more."""
        latency = self._pacer.latency_s if self._pacer.latency_s is not None else 0.25
        return self._pacer.rate * (latency + ahead_s)

    async def __aenter__(self) -> CustomerApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        for transport in self._transports:
            await transport.aclose()

    # -- operations ----------------------------------------------------------------------------

    async def create(self, body: dict[str, Any]) -> ApiResult:
        """POST /v2/customer. AMBIGUOUS when it may have happened without our knowing."""
        return await self._call("POST", "/v2/customer", json=body, idempotent=False)

    async def update(self, customer_id: str, body: dict[str, Any]) -> ApiResult:
        """POST /v2/customer/{id}: replaces the whole record (safe to repeat)."""
        return await self._call("POST", f"/v2/customer/{customer_id}", json=body)

    async def get(self, customer_id: str) -> ApiResult:
        """GET /v2/customer/{id}."""
        return await self._call("GET", f"/v2/customer/{customer_id}")

    async def delete(self, customer_id: str) -> ApiResult:
        """DELETE /v2/customer/{id}."""
        return await self._call("DELETE", f"/v2/customer/{customer_id}")

    async def search(
        self,
        query: str,
        *,
        page_size: int = 50,
        page_number: int = 1,
        order_by: str = "ASC",
        order_criteria: str = "created_at",
    ) -> ApiResult:
        """GET /v2/customer?search=... (one page); a 404 is read as an empty page."""
        params = {
            "search": query,
            "page_size": page_size,
            "page_number": page_number,
            "order_by": order_by,
            "order_criteria": order_criteria,
        }
        result = await self._call("GET", "/v2/customer", params=params)
        if result.answer is Answer.NOT_FOUND:
            # The reference answers 200 [], but some deployments answer "no customers found"
            # with a 404: read as a failure, it would leave an unanswered create unreconciled
            # for good.
            return ApiResult(Answer.DONE, result.status, [], attempts=result.attempts)
        return result

    # -- machinery -----------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
    ) -> ApiResult:
        try:
            result, attempts = await with_retries(
                self._retry,
                lambda: self._attempt(method, path, json, params, idempotent),
                self._count_retry,
            )
        except GaveUp as exc:
            return ApiResult(Answer.FAILED, reason=str(exc), attempts=exc.attempts)
        result.attempts = attempts
        return result

    def _count_retry(self) -> None:
        self.counters.retries += 1

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of a path, parsed once per path: httpx parses and joins a relative
        URL with the base URL on every request, a large share of a create's time on the client
        (bench/RESULTS.md)."""
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(self.base_url + path)
            if len(self._urls) < URL_CACHE_SIZE:  # creates and searches; not every customer
                self._urls[path] = url
        return url

    def _pick_client(self) -> int:
        return min(range(len(self._transports)), key=self._load.__getitem__)

    async def _attempt(
        self, method: str, path: str, json: Any, params: dict[str, Any] | None, idempotent: bool
    ) -> ApiResult:
        if not self._credentials_proven:
            async with self._first_request:
                if not self._credentials_proven:
                    return await self._send_unless_stopped(method, path, json, params, idempotent)
        return await self._send_unless_stopped(method, path, json, params, idempotent)

    async def _send_unless_stopped(
        self, method: str, path: str, json: Any, params: dict[str, Any] | None, idempotent: bool
    ) -> ApiResult:
        if self._stopped is not None:
            raise type(self._stopped)(str(self._stopped))
        try:
            return await self._send(method, path, json, params, idempotent)
        except ApiStopError as exc:
            self._stopped = exc
            raise

    async def _send(
        self, method: str, path: str, json: Any, params: dict[str, Any] | None, idempotent: bool
    ) -> ApiResult:
        async with self._in_flight:
            number = await self._pacer.acquire()
            # Its slot first, then a place under the cap: it goes the moment one frees. (A
            # place first, then a slot of its own, a cap of 8 at 40-80 ms was used to 0.88 of
            # what an ideal sender gets, against 0.97: answers come back together and the
            # pace spaced out their successors.)
            waited = False
            while not self._cap.allows(self._out):
                waited = True
                self._answered.clear()
                await self._answered.wait()
            if waited and self._cap.limit is None:
                # The cap was forgotten while it waited (refusals under it: a rate limit's).
                # Its slot is long past, as are those of the others waiting: sent on them,
                # the 50 that a cap of 8 held went at once, all refused.
                number = await self._pacer.acquire()
            shard = self._pick_client()
            self._load[shard] += 1
            self._out += 1
            # Slow start's overshoot refuses whatever the number out: no cap is read from it.
            out_at_send = 0 if self._pacer.slow_start else self._out
            self.counters.requests += 1
            sent_at = time.monotonic()
            paced_at = self._pacer.now()  # the pacer's clock: which refusals are news
            try:
                response = await self._exchange(shard, method, path, json, params)
            except httpx.TransportError as exc:
                self._pacer.on_no_answer()
                log.debug("%s %s: %s", method, path, type(exc).__name__)
                answer = classify_error(exc, idempotent)
                if isinstance(exc, TlsError):  # at once: every retry would fail the same way
                    raise TargetError(f"{exc}; check {{target}}") from None
                if not self._reached and isinstance(exc, NOT_SENT_ERRORS):
                    # Nothing has ever answered: a wrong URL, a firewall, an API down. Every
                    # row retried (8 attempts each) took minutes to say the same.
                    where = self._url(path)
                    port = where.port or DEFAULT_PORTS.get(where.scheme, 443)
                    raise UnreachableError(
                        f"cannot reach the Customer API at {where.host}:{port}: "
                        f"{why_unreachable(exc)}; check {{target}} and the network"
                    ) from None
                if answer is Answer.RETRY:
                    raise RetryableFailure(type(exc).__name__) from None
                self.counters.ambiguous_writes += 1
                return ApiResult(Answer.AMBIGUOUS, reason=type(exc).__name__)
            finally:
                self._load[shard] -= 1
                self._out -= 1
                self._answered.set()
        self._reached = True
        status = response.status_code
        self.counters.by_status[status] = self.counters.by_status.get(status, 0) + 1
        quota = read_quota(response.headers)
        if quota is not None:
            # Those still out take what remains first: on a busy machine, a slow start's
            # volley in flight when the count reached 0 was a dozen refusals more.
            self._pacer.on_quota(quota.remaining, quota.reset_s, self._out)
        limited = status == 429 or (status == 503 and self._in_a_run_of_503s())
        cap_found = False
        had_cap = self._cap.limit is not None
        if out_at_send and self._cap.observe(out_at_send, limited, time.monotonic()):
            cap, latency = self._cap.limit, self._pacer.fastest_s or 0.0
            # Within reach of the pace (not a slow start's volley read as a cap of 30, which
            # no pace of 100 a second at 40 ms comes near): it is what refused. At the API's
            # own latency: a gateway that queues what passes its rate (nginx's limit_req
            # without nodelay) refuses when its queue is full, as many out as a cap of 15,
            # and its queue's wait made that look within reach (0.67 of the limit).
            cap_found = cap is not None and cap <= 2 * self._pacer.rate * latency + 1
        elif had_cap and self._cap.limit is None:
            self._pacer.on_cap_lost()
        if not limited and status != 503:
            # Admitted by the gateway, whatever the API then said.
            self._pacer.on_success(time.monotonic() - sent_at, number)
        if status not in (401, 403):
            self._credentials_proven = True
        log.debug("%s %s -> %s", method, path, status)
        try:
            result = self._classify(response, idempotent, limited, paced_at, number)
        finally:
            if cap_found:
                # After the refusal's own slowdown, which read what got through as a ceiling:
                # the cap, not the pace, is what held the run (a pace then held under that
                # ceiling kept a cap of 8 at 40-80 ms to 0.75 of what it admits).
                self._pacer.on_cap_found()
        if result.reason is not None and result.answer is not Answer.DONE:
            search = params.get("search") if params else None
            result.reason = redact(result.reason, sent_values(json, search))
        return result

    async def _exchange(
        self, shard: int, method: str, path: str, json: Any, params: dict[str, Any] | None
    ) -> httpx.Response:
        """One request and its whole answer (the body JSON as httpx encodes it), on the
        transport of connection pool ``shard``."""
        url = self._url(path)
        if params:
            url = url.copy_merge_params(params)
        if json is None:
            return await self._transports[shard].exchange(method, url, self._headers, None)
        content = dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return await self._transports[shard].exchange(
            method, url, self._json_headers, content.encode()
        )

    def _in_a_run_of_503s(self) -> bool:
        """A 503 that follows another within ``RUN_503_S`` is a limit answering (nginx's
        ``limit_req`` and ``limit_conn`` answer 503 by default, S3's SlowDown is one): it
        slows the pacer as a 429 does. A lone 503 is a server's fault, retried as such."""
        now = time.monotonic()
        last, self._last_503 = self._last_503, now
        return last is not None and now - last <= RUN_503_S

    def _classify(
        self,
        response: httpx.Response,
        idempotent: bool,
        limited: bool,
        sent_at: float,
        number: int,
    ) -> ApiResult:
        status = response.status_code
        answer = Answer.RATE_LIMITED if limited else classify_status(status, idempotent)
        if answer is Answer.DONE:
            return ApiResult(Answer.DONE, status, _json_body(response))
        if answer is Answer.STOP_AUTH:
            what = "access token" if self._credentials.kind == "bearer" else "user UID / API key"
            hint = " (expired?)" if status == 401 and self._credentials.kind == "bearer" else ""
            verb = "refused" if status == 401 else "not allowed to do this"
            raise AuthError(f"the Customer API {verb}: HTTP {status} for the {what}{hint}")
        if answer is Answer.STOP_TARGET:
            # Where it points is not printed: a redirect URL may carry a token of its own.
            raise TargetError(
                f"the target answered HTTP {status} (a redirect), which the Customer API never "
                "does: check {target} (redirects are not followed: they would carry the "
                "credentials and shoppers' data elsewhere)"
            )
        if answer in (Answer.RETRY, Answer.RATE_LIMITED):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            limited = answer is Answer.RATE_LIMITED
            if limited:
                self.counters.rate_limited += 1
                self._pacer.on_rate_limited(retry_after, sent_at, number)
            raise RetryableFailure(f"HTTP {status}", retry_after, rate_limited=limited)
        if answer is Answer.AMBIGUOUS:
            self.counters.ambiguous_writes += 1
            return ApiResult(Answer.AMBIGUOUS, status, reason=f"HTTP {status}")
        reason, fields = api_reason(response)
        return ApiResult(answer, status, reason=reason, fields=fields)


def _json_body(response: httpx.Response) -> Any:
    """A success's JSON body (None when empty); TargetError when it is not JSON at all, as when
    a captive portal or a web server answers in the API's place."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        raise TargetError(
            f"the target answered HTTP {response.status_code} with {kind}, not JSON: it is not "
            "the Customer API (a proxy or sign-in page in between?); check {target}"
        ) from None
