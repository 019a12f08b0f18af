"""The sandbox's own endpoints, outside the API: stats, knobs, and its OpenAPI document."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.faults import FaultSettings
from sandbox.openapi import openapi_document
from sandbox.state import ApiError, sandbox_state


async def stats(request: Request) -> Response:
    """GET /_sandbox/stats: counters since start, plus knobs and customer count."""
    state = sandbox_state(request)
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
    sandbox_state(request).faults.reconfigure(settings)
    return JSONResponse(settings.as_dict())


async def openapi(request: Request) -> Response:
    """GET /_sandbox/openapi.json: the sandbox's OpenAPI document."""
    return JSONResponse(openapi_document())
