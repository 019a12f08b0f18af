"""The Customer API's operations under ``/oidc/customer-service/v2/customer``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.rsql import RSQLSyntaxError, parse
from sandbox.search import SearchError
from sandbox.state import ApiError, sandbox_state
from sandbox.validation import validate_customer_request
from schemas.api_fields import SEARCHABLE_FIELDS


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
    if "email_address" in record and sandbox_state(request).faults.settings.lowercase_emails:
        record["email_address"] = record["email_address"].lower()
    if errors:
        if sandbox_state(request).faults.settings.echo_rejected_values:
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
    """GET /v2/customer: one page of the customers a search matches."""
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
    cap = sandbox_state(request).faults.settings.max_page_size
    if cap is not None:
        page_size = min(page_size, cap)
    try:
        query = parse(text)
        customers = sandbox_state(request).store.search(
            query, order_criteria, order_by == "DESC", page_number, page_size
        )
    except RSQLSyntaxError as exc:
        raise ApiError(
            400, "Malformed search", {"search": str(exc), "position": exc.position}
        ) from None
    except SearchError as exc:
        raise ApiError(400, "Invalid search", {"search": str(exc)}) from None
    if not customers and sandbox_state(request).faults.settings.empty_search_404:
        raise ApiError(404, "No customers found", {"search": "no match"})
    return JSONResponse(customers)


async def create_customer(request: Request) -> Response:
    """POST /v2/customer: create a customer."""
    record = await _request_record(request)
    return JSONResponse(sandbox_state(request).store.create(record))


async def get_customer(request: Request) -> Response:
    """GET /v2/customer/{customerId}: one customer."""
    customer = sandbox_state(request).store.get(_customer_id(request))
    if customer is None:
        raise ApiError(404, "Customer not found", {"customerId": "no such customer"})
    return JSONResponse(customer)


async def update_customer(request: Request) -> Response:
    """POST /v2/customer/{customerId}: the body replaces the whole record."""
    customer_id = _customer_id(request)
    record = await _request_record(request)
    customer = sandbox_state(request).store.replace(customer_id, record)
    if customer is None:
        raise ApiError(404, "Customer not found", {"customerId": "no such customer"})
    return JSONResponse(customer)


async def delete_customer(request: Request) -> Response:
    """DELETE /v2/customer/{customerId}: delete a customer."""
    if not sandbox_state(request).store.delete(_customer_id(request)):
        raise ApiError(404, "Customer not found", {"customerId": "no such customer"})
    return Response(status_code=204)
