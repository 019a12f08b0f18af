"""Where custsync's HTTP meets the network: one verifying TLS context, the transports of the
API client (aiohttp's pool under httpx's API) and of https sources (httpx's own), and every
backend error translated, where the backend is plugged in, into the httpx error that says what
happened to the request, as httpx's ``_transports/default.py`` does with
``map_httpcore_exceptions``.

    httpx error                                        what became of the request
    httpx.ConnectError, ConnectTimeout, PoolTimeout    never left this machine: safe to send again
      TlsError                                         the peer's certificate or handshake refused
    httpx.ReadError, ReadTimeout, RemoteProtocolError  sent, and then the answer was lost: a write
                                                       may have happened

So nothing above the transport inspects ``__cause__`` or a backend's own exception types.
(httpx-aiohttp maps any aiohttp connection error, a server hanging up after taking the
request included, to ``ConnectTimeout``: read as "never sent", a create would go twice.)
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import cache

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

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


def _from_aiohttp(error: httpx.TransportError, host: str) -> httpx.TransportError:
    """The httpx error that says what became of a request aiohttp failed."""
    cause = error.__cause__
    why = _tls_why(cause)
    if why is not None:
        return TlsError(why, host)
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(cause) or "connect timed out")
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(cause) or "cannot connect")
    if isinstance(cause, asyncio.TimeoutError):
        return httpx.ReadTimeout(str(cause) or "read timed out")
    if isinstance(cause, aiohttp.ClientError):  # the connection broke after the request left
        return httpx.RemoteProtocolError(str(cause) or type(cause).__name__)
    return error


@contextmanager
def _mapped(host: str) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        mapped = _from_aiohttp(exc, host)
        if mapped is exc:
            raise
        raise mapped from exc


class _MappedStream(httpx.AsyncByteStream):
    """A response body whose read errors are translated as the request's are."""

    def __init__(self, inner: httpx.AsyncByteStream, host: str) -> None:
        self._inner, self._host = inner, host

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._host):
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        with _mapped(self._host):
            await self._inner.aclose()


class ApiTransport(AiohttpTransport):
    """httpx's API over aiohttp's connection pool (httpx's own pool spent more time per request
    than the API takes: bench/client_ceiling.py), errors translated. Never follows anything and
    never reads proxies from the environment (``trust_env=False``)."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(verify=tls_context(), limits=limits, trust_env=False)

    def get_client(self) -> aiohttp.ClientSession:
        """httpx-aiohttp's session, keeping no cookie: the API sets none that matters and we
        send none (aiohttp's own jar would send back a load balancer's to any host name)."""
        connector = aiohttp.TCPConnector(
            keepalive_timeout=self.limits.keepalive_expiry, ssl=self.ssl_context,
            limit=self.limits.max_connections or 100,
        )  # fmt: skip
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; a failure raised as the httpx error that says what happened."""
        host = request.url.host
        with _mapped(host):
            response = await super().handle_async_request(request)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _MappedStream(stream, host)
        return response


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
