"""The sandbox as an ASGI app: the Customer API's operations behind a gateway of auth and faults.

Request path for ``/oidc/customer-service/...``: count it -> rate limit (429 + Retry-After) ->
authenticate (401/403) -> injected reset or 5xx -> added latency -> the operation -> for a
committed write, maybe lose the response (drop the connection after the commit).
Outside the base path: ``GET /_sandbox/stats``, ``GET /_sandbox/openapi.json`` and
``POST /_sandbox/faults`` (change the knobs of a running sandbox).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.auth import Access, AuthConfig
from sandbox.faults import FaultInjector, FaultSettings, SandboxStats, retry_after_header
from sandbox.openapi import BASE_PATH, openapi_document
from sandbox.rsql import RSQLSyntaxError, parse
from sandbox.search import SearchError
from sandbox.store import CustomerStore
from sandbox.validation import validate_customer_request
from schemas.api_fields import SEARCHABLE_FIELDS

TRANSPORT_KEY = "custsync.transport"
WRITE_OPERATIONS = frozenset({"create", "update", "delete"})


@dataclass
class SandboxState:
    """Everything a running sandbox holds."""

    store: CustomerStore
    auth: AuthConfig
    faults: FaultInjector
    stats: SandboxStats = field(default_factory=SandboxStats)


class ApiError(Exception):
    """An error answered as an ErrorResponse."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}


def error_response(
    status: int, message: str, details: dict[str, Any] | None = None, **headers: str
) -> JSONResponse:
    """An ErrorResponse: ``code`` (3 digits), ``message``, ``details``, ``timestamp`` (unix s)."""
    body = {
        "code": status,
        "message": message,
        "details": details or {},
        "timestamp": int(time.time()),
    }
    return JSONResponse(body, status_code=status, headers=headers or None)


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
            await send(message)

        cap = settings.max_url_length
        if cap is not None and len(scope["raw_path"]) + len(scope["query_string"]) + 1 > cap:
            await error_response(414, "URI Too Long", {"url": f"longer than {cap} bytes"})(
                scope, receive, counted_send
            )
            return
        wait = faults.rate_limit_wait()
        if wait > 0:
            stats.rate_limited += 1
            response = error_response(
                429,
                "Too many requests",
                {"retry_after_s": round(wait, 3)},
                **{"Retry-After": retry_after_header(wait)},
            )
            await response(scope, receive, counted_send)
            return
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
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
        if settings.latency_ms > 0:
            await asyncio.sleep(settings.latency_ms / 1000)
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


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _customer_id(request: Request) -> str:
    raw = request.path_params["customer_id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ApiError(400, "Invalid customer id", {"customerId": "must be a UUID"}) from None


async def _request_record(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = getattr(exc, "msg", "not UTF-8")
        raise ApiError(400, "Malformed JSON", {"body": f"malformed JSON: {message}"}) from None
    record, errors = validate_customer_request(body)
    if "email_address" in record and _state(request).faults.settings.lowercase_emails:
        record["email_address"] = record["email_address"].lower()
    if errors:
        if _state(request).faults.settings.echo_rejected_values:
            errors = {path: _with_value(message, body, path) for path, message in errors.items()}
        raise ApiError(400, f"Validation failed for {len(errors)} field(s)", errors)
    return record


def _with_value(message: str, body: object, path: str) -> str:
    """A message as Spring's default validation errors put it: with the value it refused."""
    value: object = body
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return message if value is None else f"{message}; rejected value [{value}]"


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "Invalid query parameter", {name: "must be an integer"}) from None
    if value < 1:
        raise ApiError(400, "Invalid query parameter", {name: "must be at least 1"})
    return value


async def search_customers(request: Request) -> Response:
    """GET /v2/customer"""
    params = request.query_params
    text = params.get("search")
    if text is None or not text.strip():
        raise ApiError(400, "Missing search", {"search": "is required"})
    order_by = params.get("order_by", "DESC").upper()
    if order_by not in ("ASC", "DESC"):
        raise ApiError(400, "Invalid query parameter", {"order_by": "must be ASC or DESC"})
    order_criteria = params.get("order_criteria", "created_at")
    if order_criteria not in SEARCHABLE_FIELDS:
        raise ApiError(400, "Invalid query parameter", {"order_criteria": "unknown field"})
    page_number = _positive_int(request, "page_number", 1)
    page_size = _positive_int(request, "page_size", 50)
    cap = _state(request).faults.settings.max_page_size
    if cap is not None:
        page_size = min(page_size, cap)
    try:
        query = parse(text)
        customers = _state(request).store.search(
            query, order_criteria, order_by == "DESC", page_number, page_size
        )
    except RSQLSyntaxError as exc:
        raise ApiError(
            400, "Malformed search", {"search": str(exc), "position": exc.position}
        ) from None
    except SearchError as exc:
        raise ApiError(400, "Invalid search", {"search": str(exc)}) from None
    if not customers and _state(request).faults.settings.empty_search_404:
        raise ApiError(404, "No customers found", {"search": "no match"})
    return JSONResponse(customers)


async def create_customer(request: Request) -> Response:
    """POST /v2/customer"""
    record = await _request_record(request)
    return JSONResponse(_state(request).store.create(record))


async def get_customer(request: Request) -> Response:
    """GET /v2/customer/{customerId}"""
    customer = _state(request).store.get(_customer_id(request))
    if customer is None:
        raise ApiError(404, "Customer not found", {"customerId": "no such customer"})
    return JSONResponse(customer)


async def update_customer(request: Request) -> Response:
    """POST /v2/customer/{customerId}: the body replaces the whole record."""
    customer_id = _customer_id(request)
    record = await _request_record(request)
    customer = _state(request).store.replace(customer_id, record)
    if customer is None:
        raise ApiError(404, "Customer not found", {"customerId": "no such customer"})
    return JSONResponse(customer)


async def delete_customer(request: Request) -> Response:
    """DELETE /v2/customer/{customerId}"""
    if not _state(request).store.delete(_customer_id(request)):
        raise ApiError(404, "Customer not found", {"customerId": "no such customer"})
    return Response(status_code=204)


async def stats(request: Request) -> Response:
    """GET /_sandbox/stats: counters since start, plus knobs and customer count."""
    state = _state(request)
    return JSONResponse(
        {
            **state.stats.as_dict(),
            "customers": state.store.count(),
            "faults": state.faults.settings.as_dict(),
        }
    )


async def change_faults(request: Request) -> Response:
    """POST /_sandbox/faults: replace the knobs of a running sandbox (JSON of FaultSettings)."""
    try:
        body = json.loads(await request.body())
        settings = FaultSettings(**body)
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ApiError(400, "Invalid fault settings", {"body": str(exc)}) from None
    _state(request).faults.reconfigure(settings)
    return JSONResponse(settings.as_dict())


async def openapi(request: Request) -> Response:
    """GET /_sandbox/openapi.json"""
    return JSONResponse(openapi_document())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Keeps headers such as Allow on a 405 (RFC 9110).
    return error_response(exc.status_code, exc.detail, **(exc.headers or {}))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "Internal server error")


def create_app(
    store: CustomerStore,
    auth: AuthConfig,
    settings: FaultSettings | None = None,
    seed: int | None = None,
) -> ASGIApp:
    """The sandbox ASGI app over a store, with the given credentials and knobs."""
    customer = BASE_PATH + "/v2/customer"
    routes = [
        Route(customer, search_customers, methods=["GET"]),
        Route(customer, create_customer, methods=["POST"]),
        Route(customer + "/{customer_id}", get_customer, methods=["GET"]),
        Route(customer + "/{customer_id}", update_customer, methods=["POST"]),
        Route(customer + "/{customer_id}", delete_customer, methods=["DELETE"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/faults", change_faults, methods=["POST"]),
        Route("/_sandbox/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    state = SandboxState(store, auth, FaultInjector(settings or FaultSettings(), seed))
    app.state.sandbox = state
    return Gateway(app, state)
