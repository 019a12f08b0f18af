"""The Customer API client: pooled async HTTP, every response classified before anything waits.

    2xx                          DONE
    400, other 4xx               ROW_ERROR     the row's fault: recorded with the API's reason
    404                          NOT_FOUND     (on update: the customer vanished)
    401, 403                     AuthError     the run's fault: raised at once, never retried
    429, 503, refused connection RETRY         the moment's fault: backoff, Retry-After honoured
    500/502/504, timeout, reset  RETRY if the call is idempotent; AMBIGUOUS for a create,
                                 which may have happened: the caller reconciles, never re-sends

One retry policy (tenacity), in this layer only. A client-side rate limit (aiolimiter) and a
bound on requests in flight apply to every attempt.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from connectors.api_config import Credentials
from connectors.api_counters import ApiCounters
from connectors.rate_limit import RequestPacer
from schemas.errors import AuthError
from schemas.redact import redact, sent_values

log = logging.getLogger("custsync.api")

SAFE_RETRY_STATUSES = frozenset({429, 503})
MAYBE_DONE_STATUSES = frozenset({500, 502, 504})
# Raised before the request left this machine: always safe to send again.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
CONNECTIONS_PER_CLIENT = 8  # httpx's pool slows down as it grows (encode/httpx#3215)


class Decision(Enum):
    """What a response means for the row and the run."""

    DONE = "done"
    ROW_ERROR = "row_error"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    FAILED = "failed"


@dataclass
class ApiResult:
    """The outcome of one logical call (all its attempts)."""

    decision: Decision
    status: int | None = None
    body: Any = None
    reason: str | None = None
    attempts: int = 1
    fields: list[str] = field(default_factory=list)


class _Retryable(Exception):
    """A failure worth another attempt."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds, from delay-seconds or an HTTP-date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


class wait_retry_after(wait_base):  # named like tenacity's own waits
    """Exponential backoff with jitter, but never shorter than the server's Retry-After."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: Any) -> float:
        backoff = float(self.fallback(retry_state))
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return max(exc.retry_after, backoff * 0.1)
        return backoff


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


@cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the process: loading the CA bundle costs
    ~90 ms, which each of a run's pooled clients paid again (measured in the hot-path profile).
    Verification stays on, with httpx's own CA bundle and environment (SSL_CERT_FILE)."""
    return httpx.create_ssl_context()


class CustomerApi:
    """Async client of one Customer API base URL. Use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        pacer: RequestPacer | None = None,
        concurrency: int = 8,
        timeout_s: float = 30.0,
        max_attempts: int = 8,
        backoff_max_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.counters = ApiCounters()
        self._credentials = credentials
        self._pacer = pacer or RequestPacer(None)
        self._in_flight = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        shards = max(1, -(-concurrency // CONNECTIONS_PER_CLIENT))
        per_client = -(-concurrency // shards)
        auth: httpx.Auth | None = None
        headers = {"Accept": "application/json", "User-Agent": "custsync"}
        if credentials.access_token:
            headers["Authorization"] = f"Bearer {credentials.access_token}"
        else:
            auth = httpx.BasicAuth(credentials.user_uid or "", credentials.api_key or "")
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        self._clients = [
            httpx.AsyncClient(
                base_url=self.base_url,
                auth=auth,
                headers=headers,
                limits=limits,
                timeout=timeout,
                verify=_tls_context(),
            )
            for _ in range(shards)
        ]
        self._load = [0] * shards
        # Until one answer proves the credentials, one request at a time: refused credentials
        # then cost a single 401, not one per request in flight.
        self._credentials_proven = False
        self._first_request = asyncio.Lock()
        # Once refused, refused for good: requests still queued fail without being sent.
        self._refused: AuthError | None = None

    async def __aenter__(self) -> CustomerApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        for client in self._clients:
            await client.aclose()

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
        if result.decision is Decision.NOT_FOUND:
            # The reference answers 200 [], but some deployments answer "no customers found"
            # with a 404: read as a failure, it would leave an unanswered create unreconciled
            # for good.
            return ApiResult(Decision.DONE, result.status, [], attempts=result.attempts)
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
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_retry_after(
                wait_exponential_jitter(multiplier=0.25, max=self._backoff_max_s, jitter=0.5)
            ),
            sleep=self._sleep,
            reraise=False,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    if attempts > 1:
                        self.counters.retries += 1
                    result = await self._attempt(method, path, json, params, idempotent)
                    result.attempts = attempts
                    return result
        except RetryError as exc:
            last = exc.last_attempt.exception()
            reason = last.reason if isinstance(last, _Retryable) else str(last)
            return ApiResult(Decision.FAILED, reason=f"gave up after {attempts} attempts: {reason}",
                             attempts=attempts)  # fmt: skip
        raise AssertionError("unreachable")  # pragma: no cover

    def _pick_client(self) -> int:
        return min(range(len(self._clients)), key=self._load.__getitem__)

    async def _attempt(
        self, method: str, path: str, json: Any, params: dict[str, Any] | None, idempotent: bool
    ) -> ApiResult:
        if not self._credentials_proven:
            async with self._first_request:
                if not self._credentials_proven:
                    return await self._send_unless_refused(method, path, json, params, idempotent)
        return await self._send_unless_refused(method, path, json, params, idempotent)

    async def _send_unless_refused(
        self, method: str, path: str, json: Any, params: dict[str, Any] | None, idempotent: bool
    ) -> ApiResult:
        if self._refused is not None:
            raise AuthError(str(self._refused))
        try:
            return await self._send(method, path, json, params, idempotent)
        except AuthError as exc:
            self._refused = exc
            raise

    async def _send(
        self, method: str, path: str, json: Any, params: dict[str, Any] | None, idempotent: bool
    ) -> ApiResult:
        async with self._in_flight:
            await self._pacer.acquire()
            shard = self._pick_client()
            self._load[shard] += 1
            self.counters.requests += 1
            try:
                response = await self._clients[shard].request(
                    method, path, json=json, params=params
                )
            except NOT_SENT_ERRORS as exc:
                log.debug("%s %s: %s (not sent)", method, path, type(exc).__name__)
                raise _Retryable(type(exc).__name__) from None
            except httpx.TransportError as exc:
                log.debug("%s %s: %s", method, path, type(exc).__name__)
                if idempotent:
                    raise _Retryable(type(exc).__name__) from None
                self.counters.ambiguous += 1
                return ApiResult(Decision.AMBIGUOUS, reason=type(exc).__name__)
            finally:
                self._load[shard] -= 1
        status = response.status_code
        self.counters.by_status[status] = self.counters.by_status.get(status, 0) + 1
        if status not in (401, 403):
            self._credentials_proven = True
        log.debug("%s %s -> %s", method, path, status)
        result = self._classify(response, idempotent)
        if result.reason is not None and result.decision is not Decision.DONE:
            search = params.get("search") if params else None
            result.reason = redact(result.reason, sent_values(json, search))
        return result

    def _classify(self, response: httpx.Response, idempotent: bool) -> ApiResult:
        status = response.status_code
        if 200 <= status < 300:
            self._pacer.on_success()
            body = response.json() if response.content else None
            return ApiResult(Decision.DONE, status, body)
        if status in (401, 403):
            what = "access token" if self._credentials.kind == "bearer" else "user UID / API key"
            hint = " (expired?)" if status == 401 and self._credentials.kind == "bearer" else ""
            verb = "refused" if status == 401 else "not allowed to do this"
            raise AuthError(f"the Customer API {verb}: HTTP {status} for the {what}{hint}")
        if status in SAFE_RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status == 429:
                self.counters.rate_limited += 1
                self._pacer.on_rate_limited(retry_after)
            raise _Retryable(f"HTTP {status}", retry_after)
        if status in MAYBE_DONE_STATUSES or status >= 500:
            if idempotent:
                raise _Retryable(f"HTTP {status}")
            self.counters.ambiguous += 1
            return ApiResult(Decision.AMBIGUOUS, status, reason=f"HTTP {status}")
        reason, fields = api_reason(response)
        decision = Decision.NOT_FOUND if status == 404 else Decision.ROW_ERROR
        return ApiResult(decision, status, reason=reason, fields=fields)
