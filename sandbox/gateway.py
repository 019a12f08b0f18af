"""The sandbox's gateway: ASGI middleware in front of the API, as a real gateway stands.

Request path for ``/oidc/customer-service/...``: count it -> URL length (414) -> requests in
flight and rate limit of its shape (429, with Retry-After in seconds, as an HTTP-date, or none)
-> authenticate (401/403) -> injected reset or 5xx -> added latency -> the operation -> for a
committed write, maybe lose the response (drop the connection after the commit).
"""

from __future__ import annotations

import asyncio
import socket
import struct

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.auth import Access
from sandbox.faults import retry_after_header
from sandbox.openapi import BASE_PATH
from sandbox.state import SandboxState, error_response

TRANSPORT_KEY = "custsync.transport"
WRITE_OPERATIONS = frozenset({"create", "update", "delete"})
COLLECTION_OPERATIONS = {"GET": "search", "POST": "create"}
ITEM_OPERATIONS = {"GET": "get", "POST": "update", "DELETE": "delete"}


def _operation(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The API operation a request is (``other`` for an undocumented method) and the path's
    operations by method; None outside the API."""
    if not path.startswith(BASE_PATH + "/v2/customer"):
        return None
    rest = path[len(BASE_PATH + "/v2/customer") :]
    operations = COLLECTION_OPERATIONS if rest in ("", "/") else ITEM_OPERATIONS
    return operations.get(method, "other"), operations


def drop_connection(scope: Scope) -> bool:
    """Reset the client's TCP connection (RST, no response); False if the server cannot."""
    transport = scope.get("extensions", {}).get(TRANSPORT_KEY)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0: close sends RST, which is what a crashed gateway or a cut network looks like.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


class Gateway:
    """ASGI middleware in front of the API: stats, rate limit, auth and injected faults."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count an API request and pass it through the gateway; anything else straight on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = _operation(scope["method"], scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        operation, allowed = found
        stats = self.state.stats
        stats.requests += 1
        stats.by_operation[operation] += 1
        stats.in_flight += 1
        stats.peak_concurrency = max(stats.peak_concurrency, stats.in_flight)
        try:
            await self._handle(operation, allowed, scope, receive, send)
        finally:
            stats.in_flight -= 1

    async def _handle(
        self, operation: str, allowed: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        state, stats, faults = self.state, self.state.stats, self.state.faults
        settings = faults.settings

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                stats.by_status[message["status"]] += 1
                quota = faults.limit_headers()
                if quota:
                    extra = [(k.lower().encode(), v.encode()) for k, v in quota.items()]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        cap = settings.max_url_length
        if cap is not None and len(scope["raw_path"]) + len(scope["query_string"]) + 1 > cap:
            await error_response(414, "URI Too Long", {"url": f"longer than {cap} bytes"})(
                scope, receive, counted_send
            )
            return
        in_flight_cap = settings.max_in_flight
        # A request over the in-flight cap is refused without spending the rate limit, as a
        # concurrency limit in front of the counter does; how long to wait is unknown: 1 s.
        over = in_flight_cap is not None and stats.in_flight > in_flight_cap
        wait = 1.0 if over else faults.rate_limit_wait()
        if wait > 0:
            stats.rate_limited += 1
            form = settings.retry_after
            headers = {} if form == "none" else {"Retry-After": retry_after_header(wait, form)}
            status = settings.limit_status
            message = "Too many requests" if status == 429 else "Service Temporarily Unavailable"
            response = error_response(status, message, {"retry_after_s": round(wait, 3)}, **headers)
            await response(scope, receive, counted_send)
            return
        request_headers = dict(scope["headers"])
        authorization = request_headers.get(b"authorization", b"").decode("latin-1") or None
        access, reason = state.auth.check(authorization)
        if access is Access.DENIED:
            await error_response(401, "Unauthorized", {"authorization": reason})(
                scope, receive, counted_send
            )
            return
        if operation == "other":
            await error_response(
                405, "Method Not Allowed", {"method": scope["method"]}, Allow=", ".join(allowed)
            )(scope, receive, counted_send)
            return
        if access is Access.READ_ONLY and operation in WRITE_OPERATIONS:
            await error_response(403, "Forbidden", {"authorization": "read-only credentials"})(
                scope, receive, counted_send
            )
            return
        if faults.roll(settings.reset_rate) and drop_connection(scope):
            stats.resets += 1
            await asyncio.sleep(0)  # let the server see the disconnect before we return
            return
        if faults.roll(settings.error_rate):
            stats.injected_errors += 1
            await error_response(500, "Internal server error (injected)")(
                scope, receive, counted_send
            )
            return
        if settings.latency_ms > 0 or settings.latency_jitter_ms > 0:
            await asyncio.sleep(faults.latency_s(settings))
        lose = operation in WRITE_OPERATIONS and faults.roll(settings.lost_response_rate)
        dropped = False

        async def write_send(message: Message) -> None:
            nonlocal dropped
            if dropped:
                return
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                stats.writes[operation] += 1
                if lose and drop_connection(scope):
                    stats.lost_responses += 1
                    dropped = True
                    return
            await counted_send(message)

        await self.app(
            scope, receive, write_send if operation in WRITE_OPERATIONS else counted_send
        )
        if dropped:
            await asyncio.sleep(0)
