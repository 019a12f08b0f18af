"""One CRM's HTTP, as the Customer API's: TLS verified (the process's one context), never a
proxy from the environment, never a redirect followed (an API that redirects is not the API),
every call through the one retry policy (``connectors/api/retry.py``).

A CRM's answer becomes a decision before anything waits (STYLE: classify first):

    connection lost, 5xx, 429     the moment's: retried (the write-back is an idempotent
                                  update, so a write that may have happened is safe to repeat)
    401                           the credentials: refreshed once where they can be, else stop
    3xx, TLS refused              the configuration: stop
    any other 4xx                 the call's: handed back to the CRM's writer to read
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from connectors.api.pacing.pacer import RequestPacer
from connectors.api.retry import (
    GaveUp,
    RetryableFailure,
    RetryPolicy,
    parse_retry_after,
    with_retries,
)
from connectors.api.transport import CrmTransport, TlsError
from connectors.errors import CrmError

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
Stop = Callable[[httpx.Response], str | None]  # a CRM's own reading: why to stop, if so


class CrmConnection:
    """httpx to one CRM, with its name (for messages), its token and its retry policy."""

    def __init__(
        self,
        name: str,
        base_url: str,
        token: Callable[[bool], Awaitable[str]],
        policy: RetryPolicy | None = None,
        stop: Stop | None = None,
        pacer: RequestPacer | None = None,
    ) -> None:
        self.name = name
        self._token = token  # token(renew): the bearer token; renew=True after a 401
        self._policy = policy or RetryPolicy()
        self._stop = stop
        self.pacer = pacer
        self.calls = 0
        self.retries = 0
        self.on_response: Callable[[httpx.Response], None] | None = None
        self.client = httpx.AsyncClient(
            base_url=base_url,
            transport=CrmTransport(),
            trust_env=False,  # never a proxy, whatever HTTPS_PROXY says
            follow_redirects=False,
            timeout=TIMEOUT,
        )

    async def aclose(self) -> None:
        """Close the pool."""
        await self.client.aclose()

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call, retried as the policy says; the answer when it is the call's to read (2xx,
        or a 4xx the writer reads); CrmError when the CRM cannot be used."""
        renewed = False

        async def attempt() -> httpx.Response:
            nonlocal renewed
            response = await self._once(method, path, renewed, **kwargs)
            if response.status_code == 401 and not renewed:
                renewed = True  # a token that expired: one new one, then the call again
                response = await self._once(method, path, True, **kwargs)
            return self._classify(response)

        try:
            response, attempts = await with_retries(self._policy, attempt)
        except GaveUp as exc:
            raise CrmError(f"{self.name} did not answer the write-back: {exc}") from None
        self.retries += attempts - 1
        return response

    async def _once(self, method: str, path: str, renew: bool, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {await self._token(renew)}"
        number = await self.pacer.acquire() if self.pacer is not None else 0
        self.calls += 1
        started = time.perf_counter()
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)
        except TlsError as exc:
            raise CrmError(f"{self.name}: {exc.why} for {exc.host}") from None
        except httpx.TransportError as exc:
            if self.pacer is not None:
                self.pacer.on_no_answer()
            raise RetryableFailure(f"{type(exc).__name__} from {self.name}") from None
        if self.on_response is not None:
            self.on_response(response)
        if self.pacer is not None:
            if response.status_code == 429:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                self.pacer.on_rate_limited(retry_after, number=number)
            elif response.status_code < 500:
                self.pacer.on_success(time.perf_counter() - started, number)
        return response

    def _classify(self, response: httpx.Response) -> httpx.Response:
        why = self._stop(response) if self._stop is not None else None
        if why is not None:
            raise CrmError(why)
        status = response.status_code
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise RetryableFailure(f"429 from {self.name}", retry_after, rate_limited=True)
        if status >= 500:
            raise RetryableFailure(f"{status} from {self.name}")
        if status == 401:
            raise CrmError(f"{self.name} refused the credentials (401): {said(response)}")
        if 300 <= status < 400:
            raise CrmError(
                f"{self.name} answered with a redirect ({status}): not its API; check its URL"
            )
        return response


def said(response: httpx.Response) -> str:
    """What a CRM's error body says, in one short line (its codes and messages, no values of
    ours: a CRM's error names fields and ids, never shopper data custsync sent)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or str(response.status_code)
    items = body if isinstance(body, list) else [body]
    parts = []
    for item in items[:3]:
        if isinstance(item, dict):
            code = item.get("errorCode") or item.get("category") or item.get("error") or ""
            message = item.get("message") or item.get("error_description") or ""
            parts.append(f"{code} {message}".strip())
    return "; ".join(parts)[:300] or str(response.status_code)
