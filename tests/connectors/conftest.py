"""A small real HTTP server on loopback that answers what a test tells it to: the statuses and
bodies no Customer API should send, but gateways, proxies and portals do."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Answer:
    """One canned response."""

    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class OddServer:
    """The server's script (answers in order, the last one repeated) and what it saw."""

    url: str
    answers: list[Answer] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def next_answer(self) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def odd_server() -> Iterator[OddServer]:
    """A loopback server at ``.../oidc/customer-service``; set ``answers`` before calling it."""
    state = OddServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.seen.append(f"{self.command} {self.path}")
            answer = state.next_answer()
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/oidc/customer-service"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
