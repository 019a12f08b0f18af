"""The transports against real sockets on loopback: each backend failure arrives as the httpx
error that says what became of the request, and no cookie is ever kept."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from connectors.api.answers import Answer, classify_error
from connectors.api.transport import ApiTransport, SourceTransport, TlsError
from tests.helpers import untrusted_tls_server

LIMITS = httpx.Limits(max_connections=2, max_keepalive_connections=2)


def send(url: str, method: str = "POST") -> httpx.Response:
    """Two requests on one transport, as the API client sends them (no httpx client between)."""

    async def one(transport: ApiTransport, body: bytes) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        return await transport.exchange(method, httpx.URL(url), headers, body)

    async def go() -> httpx.Response:
        transport = ApiTransport(LIMITS, timeout_s=5, connect_s=5)
        try:
            await one(transport, b'{"a":1}')
            return await one(transport, b'{"a":2}')
        finally:
            await transport.aclose()

    return asyncio.run(go())


def error_of(url: str) -> httpx.TransportError:
    with pytest.raises(httpx.TransportError) as raised:
        send(url)
    return raised.value


def test_a_refused_connection_is_a_connect_error_never_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    error = error_of(f"http://127.0.0.1:{port}/v2/customer")
    # httpx-aiohttp alone said ConnectTimeout for a refusal.
    assert type(error) is httpx.ConnectError
    assert classify_error(error, idempotent=False) is Answer.RETRY


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """A server that reads a request, then closes the connection without a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.recv(65536)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/v2/customer"
    server.close()


def test_a_server_that_hangs_up_after_the_request_may_have_acted_on_it(hangs_up: str) -> None:
    error = error_of(hangs_up)
    assert not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
    assert classify_error(error, idempotent=False) is Answer.AMBIGUOUS  # a create: reconcile
    assert classify_error(error, idempotent=True) is Answer.RETRY


@pytest.fixture
def untrusted_tls() -> Iterator[str]:
    """A TLS server whose certificate no trusted authority signed."""
    with untrusted_tls_server() as root:
        yield f"{root}/v2/customer"


def test_an_untrusted_certificate_is_a_tls_error_on_both_transports(untrusted_tls: str) -> None:
    error = error_of(untrusted_tls)
    assert isinstance(error, TlsError) and error.why.startswith("certificate verify failed")
    assert classify_error(error, idempotent=True) is Answer.STOP_TARGET
    with (
        httpx.Client(transport=SourceTransport(), trust_env=False) as client,
        pytest.raises(TlsError) as blocking,
    ):
        client.get(untrusted_tls)
    assert blocking.value.why.startswith("certificate verify failed")
    assert blocking.value.host == "127.0.0.1"


@contextlib.contextmanager
def answering(post: Callable[[BaseHTTPRequestHandler], None], host: str) -> Iterator[str]:
    """A loopback HTTP/1.1 server whose every POST ``post`` answers; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            post(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}/v2/customer"
    finally:
        server.shutdown()
        server.server_close()


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for name, value in {"Content-Type": "application/json", **headers}.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def sets_cookies() -> Iterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []

    def post(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Cookie"))
        answer(handler, 200, b"{}", Set_Cookie="session=abc; Path=/")

    # A host name, not an address: aiohttp's default jar keeps no cookie of an IP address.
    with answering(post, "localhost") as url:
        yield url, seen


def test_a_cookie_the_server_sets_is_never_sent_back(
    sets_cookies: tuple[str, list[str | None]],
) -> None:
    url, seen = sets_cookies
    assert send(url).status_code == 200
    assert seen == [None, None]


@pytest.fixture
def answers_gzip() -> Iterator[str]:
    """A gateway that compresses its answers (nginx's ``gzip on`` for application/json)."""

    def post(handler: BaseHTTPRequestHandler) -> None:
        answer(handler, 201, gzip.compress(b'{"id": "c-1"}'), Content_Encoding="gzip")

    with answering(post, "127.0.0.1") as url:
        yield url


def test_a_compressed_answer_is_read_decompressed(answers_gzip: str) -> None:
    response = send(answers_gzip)
    assert response.status_code == 201
    assert response.json() == {"id": "c-1"}
