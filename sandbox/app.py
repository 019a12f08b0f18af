"""The sandbox as an ASGI app: the Customer API's operations (``routes.py``) behind a gateway
of limits, auth and faults (``gateway.py``), beside its own endpoints (``admin.py``):
``GET /_sandbox/stats``, ``GET /_sandbox/openapi.json`` and ``POST /_sandbox/faults``; and,
on their own paths of the same port, the stand-ins of the CRMs the write-back reaches:
Salesforce (``/services/...``, ``salesforce.py``) and HubSpot (``/crm/v3/...``, ``hubspot.py``).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from sandbox import admin, hubspot, routes, salesforce
from sandbox.auth import AuthConfig, CrmLogins
from sandbox.faults import FaultInjector, FaultSettings
from sandbox.gateway import Gateway
from sandbox.guard import Bound, Guard
from sandbox.openapi import BASE_PATH
from sandbox.state import ApiError, SandboxState, error_response
from sandbox.store import CustomerStore


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Keeps headers such as Allow on a 405 (RFC 9110).
    return error_response(exc.status_code, exc.detail, None, **dict(exc.headers or {}))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "Internal server error")


def create_app(
    store: CustomerStore,
    auth: AuthConfig,
    settings: FaultSettings | None = None,
    seed: int | None = None,
    bound: Bound | None = None,
    crm: CrmLogins | None = None,
) -> ASGIApp:
    """The sandbox ASGI app over a store, with the given credentials and knobs; ``bound``
    (filled in once the server listens) says which Host it answers to (guard.py)."""
    customer = BASE_PATH + "/v2/customer"
    table = [
        Route(customer, routes.search_customers, methods=["GET"]),
        Route(customer, routes.create_customer, methods=["POST"]),
        Route(customer + "/{customer_id}", routes.get_customer, methods=["GET"]),
        Route(customer + "/{customer_id}", routes.update_customer, methods=["POST"]),
        Route(customer + "/{customer_id}", routes.delete_customer, methods=["DELETE"]),
        Route("/_sandbox/stats", admin.stats, methods=["GET"]),
        Route("/_sandbox/faults", admin.change_faults, methods=["POST"]),
        Route("/_sandbox/openapi.json", admin.openapi, methods=["GET"]),
        *salesforce.routes(),
        *hubspot.routes(),
    ]
    app = Starlette(
        routes=table,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    state = SandboxState(store, auth, FaultInjector(settings or FaultSettings(), seed))
    app.state.sandbox = state
    logins = crm or CrmLogins()
    app.state.salesforce = salesforce.SalesforceOrg(
        tokens=set(logins.salesforce_tokens), client=logins.salesforce_client
    )
    app.state.hubspot = hubspot.HubSpotPortal(tokens=set(logins.hubspot_tokens))
    return Guard(Gateway(app, state), auth, bound or Bound())
