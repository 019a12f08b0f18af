"""The sandbox's outer guard, before the gateway: what a server on a developer's machine must
refuse whatever its knobs say.

- **Host** must name the address the server is bound to (loopback by its name or number):
  a web page the developer visits cannot reach it by DNS rebinding (its requests carry the
  page's host name). A server bound beyond loopback (``--host 0.0.0.0``) takes any Host.
- **Its own endpoints** (``/_sandbox/stats``, ``/_sandbox/faults``) need the sandbox's
  credentials when it has any, and a change of knobs a JSON body: a cross-site form post
  (``text/plain``, no credentials) is refused, since a browser cannot send JSON cross-site
  without asking first.
- **Bodies** over ``MAX_BODY_BYTES`` get 413, counted as they arrive, before the app sees
  any (a ``Content-Length`` that says so is refused before any is read). How long a request
  head may take is the protocol's (``server.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.auth import Access, AuthConfig
from sandbox.state import error_response

MAX_BODY_BYTES = 1024 * 1024
# Salesforce's Bulk API 2.0 takes up to 150 MB of CSV in one upload; its stand-in does too.
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
ADMIN_PREFIX = "/_sandbox/"
PUBLIC_ADMIN = frozenset({"/_sandbox/openapi.json"})  # a document, nothing of anyone's
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
WILDCARD = ("0.0.0.0", "::", "")  # bound beyond loopback on purpose


@dataclass
class Bound:
    """Where the server listens, set once it does (port 0 picks one)."""

    host: str = ""
    port: int | None = None
    names: set[str] = field(default_factory=set)

    def listen(self, host: str, port: int) -> None:
        """The server is bound: the Host values it answers to."""
        self.host, self.port = host, port
        hosts = {host} | (set(LOOPBACK_NAMES) if host in LOOPBACK_NAMES else set())
        hosts |= {f"[{h}]" for h in hosts if ":" in h and not h.startswith("[")}
        self.names = {f"{h}:{port}" for h in hosts} | (hosts if port == 80 else set())

    def allows(self, host_header: str | None) -> bool:
        """Whether a request's Host names this server."""
        if self.port is None or self.host in WILDCARD:
            return True  # not yet known (in-process), or bound beyond loopback on purpose
        return host_header is not None and host_header.lower() in self.names


class Guard:
    """ASGI middleware: Host, the admin endpoints' credentials and content type, body size."""

    def __init__(self, app: ASGIApp, auth: AuthConfig, bound: Bound) -> None:
        self.app = app
        self.auth = auth
        self.bound = bound

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what no sandbox should take; pass the rest on, its body counted."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.bound.allows(headers.get("host")):
            await error_response(421, "Misdirected Request", {"host": "not this server"})(
                scope, receive, send
            )
            return
        refusal = self._admin_refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        most = MAX_UPLOAD_BYTES if _is_bulk_upload(scope) else MAX_BODY_BYTES
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > most:
            await _too_large(scope, receive, send)
            return
        # Read the body here, counting, before the app sees any of it (the sandbox's bodies
        # are small; a real gateway refuses at its edge the same way).
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > most:
                await _too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _admin_refusal(self, scope: Scope, headers: dict[str, str]) -> ASGIApp | None:
        path = scope["path"]
        if not path.startswith(ADMIN_PREFIX) or path in PUBLIC_ADMIN:
            return None
        if not self.auth.is_open:
            access, reason = self.auth.check(headers.get("authorization"))
            if access is not Access.FULL:
                return error_response(401, "Unauthorized", {"authorization": reason or
                                      "read-only credentials"})  # fmt: skip
        if scope["method"] == "POST":
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return error_response(
                    415, "Unsupported Media Type", {"content-type": "must be application/json"}
                )
        return None


def _is_bulk_upload(scope: Scope) -> bool:
    path: str = scope["path"]
    return (
        scope["method"] == "PUT"
        and path.startswith("/services/data/")
        and path.endswith("/batches")
    )


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        413, "Payload Too Large", {"body": f"over {MAX_BODY_BYTES} bytes"}, Connection="close"
    )
    await response(scope, receive, send)
