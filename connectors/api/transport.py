"""Where custsync's HTTP meets the network: one verifying TLS context, the transports of the
API client (aiohttp's pool, answering httpx's Responses) and of https sources and the CRMs
(httpx's own), and every backend error translated, where the backend is plugged in, into the
httpx error that says what happened to the request, as httpx's ``_transports/default.py`` does
with ``map_httpcore_exceptions``.

    httpx error                                        what became of the request
    httpx.ConnectError, ConnectTimeout, PoolTimeout    never left this machine: safe to send again
      TlsError                                         the peer's certificate or handshake refused
    httpx.ReadError, ReadTimeout, RemoteProtocolError  sent, and then the answer was lost: a write
                                                       may have happened

So nothing above the transport inspects ``__cause__`` or a backend's own exception types.
(httpx-aiohttp, which this transport replaced, mapped any aiohttp connection error, a server
hanging up after taking the request included, to ``ConnectTimeout``: read as "never sent", a
create would go twice.)
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Mapping
from functools import cache

import aiohttp
import httpx

UNREACHABLE = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ETIMEDOUT: "timed out connecting",
}


class TlsError(httpx.ConnectError):
    """TLS refused the peer (a certificate that does not verify, a handshake that fails): no
    retry can mend it, and every one would fail the same way."""

    def __init__(self, why: str, host: str) -> None:
        super().__init__(f"{why} for {host}")
        self.why = why
        self.host = host


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the process: loading the CA bundle is
    costly, and each pooled client paid it again. Verification stays on, with httpx's own CA
    bundle and environment (``SSL_CERT_FILE``)."""
    return httpx.create_ssl_context()


def _tls_why(error: BaseException | None) -> str | None:
    """Why TLS failed, if it did, from the chain a backend raised (its error, ssl's)."""
    for _ in range(8):
        if error is None:
            return None
        if isinstance(error, aiohttp.ClientConnectorCertificateError):
            error = error.certificate_error  # aiohttp's wraps ssl's, which says why
            continue
        if isinstance(error, ssl.SSLCertVerificationError):
            why = getattr(error, "verify_message", None) or getattr(error, "reason", None)
            return f"certificate verify failed ({why or 'untrusted'})"
        if isinstance(error, ssl.SSLError):
            return f"TLS handshake failed ({error.reason or type(error).__name__})"
        error = error.__cause__ or error.__context__
    return None


def why_unreachable(error: BaseException) -> str:
    """Why a connection was never made, in words (from the chain a backend raised): the
    refusal, the unknown host or the timeout, not httpx-aiohttp's blanket ConnectTimeout."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, aiohttp.ClientConnectorDNSError | socket.gaierror):
            return "no such host"
        if isinstance(seen, aiohttp.ClientConnectorError) and seen.os_error is not None:
            seen = seen.os_error
            continue
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and seen.errno in UNREACHABLE:
            return UNREACHABLE[seen.errno]
        if isinstance(seen, TimeoutError | aiohttp.ConnectionTimeoutError):
            return "timed out connecting"
        seen = seen.__cause__ or seen.__context__
    return f"could not connect ({type(error).__name__})"


def _from_aiohttp(cause: BaseException, host: str) -> httpx.TransportError:
    """The httpx error that says what became of a request aiohttp failed with ``cause``."""
    why = _tls_why(cause)
    if why is not None:
        return TlsError(why, host)
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(cause) or "connect timed out")
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(cause) or "cannot connect")
    if isinstance(cause, asyncio.TimeoutError):
        return httpx.ReadTimeout(str(cause) or "read timed out")
    # The connection broke after the request left (a server hanging up, a body cut short).
    return httpx.RemoteProtocolError(str(cause) or type(cause).__name__)


class ApiTransport:
    """The API client's HTTP: aiohttp's connection pool, each answer read whole and handed back
    as an httpx ``Response``, each failure as the httpx error that says what happened.

    No httpx ``Request`` and no response stream between: building the one and iterating the
    other (through httpx-aiohttp's adapter) were a fifth of a create's time on the client
    (bench/RESULTS.md, issue 31), and an answer of the API is a few hundred bytes. Never follows
    a redirect, never reads proxies from the environment, keeps no cookie."""

    def __init__(self, limits: httpx.Limits, timeout_s: float = 30.0, connect_s: float = 10.0):
        self.limits = limits
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_s, sock_read=timeout_s,
                                              connect=timeout_s)  # fmt: skip
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        """The pool, opened at the first request (aiohttp binds it to the running loop). No
        cookie is kept: the API sets none that matters and we send none (aiohttp's own jar
        would send back a load balancer's to any host name). ``trust_env`` stays off: plain
        HTTP goes only to loopback (targets.py), where a proxy would see the credentials."""
        connector = aiohttp.TCPConnector(
            keepalive_timeout=self.limits.keepalive_expiry, ssl=tls_context(),
            limit=self.limits.max_connections or 100,
        )  # fmt: skip
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
            auto_decompress=False,  # httpx's Response decodes, by the answer's Content-Encoding
        )  # fmt: skip
        return self._session

    async def exchange(
        self, method: str, url: httpx.URL, headers: Mapping[str, str], content: bytes | None
    ) -> httpx.Response:
        """Send one request and read its whole answer; a failure raised as the httpx error that
        says what became of the request."""
        session = self._session or self._open()
        try:
            async with session.request(
                method, str(url), headers=headers, data=content,
                allow_redirects=False, timeout=self._timeout,
            ) as answer:  # fmt: skip
                body = await answer.read()
                status, raw_headers = answer.status, answer.raw_headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _from_aiohttp(exc, url.host) from exc
        return httpx.Response(status, headers=raw_headers, content=body)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            await self._session.close()


class SourceTransport(httpx.HTTPTransport):
    """httpx's own blocking transport for https sources, with TLS failures told apart.

    A proxy the environment names is mounted by the client with httpx's transport: behind one,
    a refused certificate reads as a failure to connect."""

    def __init__(self) -> None:
        super().__init__(verify=tls_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; a TLS failure raised as TlsError."""
        try:
            return super().handle_request(request)
        except httpx.ConnectError as exc:
            why = _tls_why(exc)
            if why is None:
                raise
            raise TlsError(why, request.url.host) from exc


class CrmTransport(httpx.AsyncHTTPTransport):
    """httpx's own asynchronous transport for the CRMs' APIs (a handful of calls a run: the
    API's aiohttp pool buys nothing there), verifying TLS, its failures told apart."""

    def __init__(self) -> None:
        super().__init__(verify=tls_context(), retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; a TLS failure raised as TlsError."""
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectError as exc:
            why = _tls_why(exc)
            if why is None:
                raise
            raise TlsError(why, request.url.host) from exc
