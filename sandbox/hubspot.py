"""A local stand-in of HubSpot's CRM API, the part custsync's write-back uses:
``POST /crm/v3/objects/{objectType}/batch/update`` (100 inputs a call at most).

Strict where HubSpot is: a Bearer token checked (401 ``INVALID_AUTHENTICATION``); a property the
object lacks fails the whole batch (400 ``VALIDATION_ERROR``, ``PROPERTY_DOESNT_EXIST``); records
not in the portal (or archived) come back as 207 with ``OBJECT_NOT_FOUND`` errors naming their
ids beside the results of the others; results in another order than sent; an empty string
clears a property. Limits as documented for private apps: a rolling 10-second window
(``X-HubSpot-RateLimit-Max`` in ``X-HubSpot-RateLimit-Interval-Milliseconds``, with
``-Remaining``) and a daily one (``X-HubSpot-RateLimit-Daily``, ``-Daily-Remaining``); past
either, 429 with ``policyName`` ``TEN_SECONDLY_ROLLING`` or ``DAILY`` and no ``Retry-After``.
Injectable through ``POST /_sandbox/hubspot``: 5xx answers, the limits, archived records, an
answer held back after the update is made (a client that dies in between).
``GET /_sandbox/hubspot`` shows the portal's records.

What it cannot prove: HubSpot's timings, its burst tolerance within a window, workflows that
react to a property change, or error wording this file does not list.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_INPUTS = 100
DEFAULT_PROPERTIES = ("email", "firstname", "lastname", "phone", "company")


@dataclass
class HubSpotPortal:
    """The portal's records, properties, token, limits and injected faults."""

    tokens: set[str] = field(default_factory=set)
    records: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    archived: set[str] = field(default_factory=set)
    properties: dict[str, set[str]] = field(default_factory=dict)
    per_interval: int = 100  # private apps on Free/Starter: 100 in 10 s (190 on Pro/Enterprise)
    interval_ms: int = 10_000
    daily: int = 250_000
    daily_used: int = 0
    fail_next: int = 0
    answer_delay_ms: int = 0  # the update is made, then the answer waits (a client may die)
    calls: int = 0
    refused: int = 0
    window: deque[float] = field(default_factory=deque)
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=lambda: random.Random(11))

    def properties_of(self, object_type: str) -> set[str]:
        """The properties an object type has (a few standard ones, plus those configured)."""
        return set(DEFAULT_PROPERTIES) | self.properties.get(object_type, set())

    def limit_headers(self) -> dict[str, str]:
        """The rate-limit headers of every answer."""
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self.daily_used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-HubSpot-RateLimit-Max": str(self.per_interval),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.per_interval - len(self.window))),
        }

    def as_dict(self) -> dict[str, Any]:
        """What ``GET /_sandbox/hubspot`` shows."""
        return {"records": self.records, "archived": sorted(self.archived), "calls": self.calls,
                "refused": self.refused, "daily_used": self.daily_used}  # fmt: skip


def _portal(request: Request) -> HubSpotPortal:
    portal: HubSpotPortal = request.app.state.hubspot
    return portal


def _error(status: int, category: str, message: str, headers: dict[str, str],
           **extra: Any) -> JSONResponse:  # fmt: skip
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
            "category": category, **extra}  # fmt: skip
    return JSONResponse(body, status, headers)


def _admit(portal: HubSpotPortal) -> JSONResponse | None:
    """Count the call in the windows; the 429 if it is over one."""
    now = portal.clock()
    while portal.window and portal.window[0] <= now - portal.interval_ms / 1000:
        portal.window.popleft()
    if portal.daily_used >= portal.daily:
        portal.refused += 1
        return _error(
            429,
            "RATE_LIMITS",
            "You have reached your daily limit.",
            portal.limit_headers(),
            errorType="RATE_LIMIT",
            policyName="DAILY",
        )
    if len(portal.window) >= portal.per_interval:
        portal.refused += 1
        return _error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.",
                      portal.limit_headers(), errorType="RATE_LIMIT",
                      policyName="TEN_SECONDLY_ROLLING")  # fmt: skip
    portal.window.append(now)
    portal.daily_used += 1
    return None


async def batch_update(request: Request) -> Response:
    """POST /crm/v3/objects/{objectType}/batch/update."""
    portal = _portal(request)
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    if not token or (portal.tokens and token not in portal.tokens):
        return _error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This "
            "API supports OAuth 2.0 authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            {},
        )
    portal.calls += 1
    refused = _admit(portal)
    if refused is not None:
        return refused
    headers = portal.limit_headers()
    if portal.fail_next > 0:
        portal.fail_next -= 1
        return _error(502, "INTERNAL_ERROR", "Bad Gateway", headers)
    object_type = request.path_params["object_type"]
    try:
        inputs = json.loads(await request.body())["inputs"]
        assert isinstance(inputs, list)
        pairs = [(str(i["id"]), dict(i["properties"])) for i in inputs]
    except (ValueError, KeyError, TypeError, AssertionError):
        return _error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1", headers)
    if len(pairs) > MAX_INPUTS:
        return _error(400, "VALIDATION_ERROR", f"Batch input size {len(pairs)} exceeds the "
                      f"limit of {MAX_INPUTS}", headers)  # fmt: skip
    known = portal.properties_of(object_type)
    unknown = sorted({name for _, props in pairs for name in props} - known)
    if unknown:
        detail = [{"isValid": False, "message": f'Property "{name}" does not exist',
                   "error": "PROPERTY_DOESNT_EXIST", "name": name} for name in unknown]  # fmt: skip
        return _error(400, "VALIDATION_ERROR",
                      f"Property values were not valid: {json.dumps(detail)}", headers)  # fmt: skip
    records = portal.records.get(object_type, {})
    results, missing = [], []
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for record_id, props in pairs:
        record = records.get(record_id)
        if record is None or record_id in portal.archived:
            missing.append(record_id)
            continue
        for name, value in props.items():
            if value == "":
                record.pop(name, None)
            else:
                record[name] = str(value)
        results.append({"id": record_id, "properties": dict(record), "createdAt": now,
                        "updatedAt": now, "archived": False})  # fmt: skip
    portal.rng.shuffle(results)  # HubSpot does not promise the order sent
    if portal.answer_delay_ms:
        await asyncio.sleep(portal.answer_delay_ms / 1000)
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now,
                            "completedAt": now}  # fmt: skip
    if not missing:
        return JSONResponse(body, 200, headers)
    body["numErrors"] = 1
    body["errors"] = [{
        "status": "error", "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {object_type.upper().rstrip('S')} objects, they may be "
                   "deleted or not exist. Check that ids are valid.",
        "context": {"ids": missing}, "errors": [],
    }]  # fmt: skip
    return JSONResponse(body, 207, headers)


async def admin(request: Request) -> Response:
    """GET: the portal as it is; POST (JSON): change it — ``tokens``, ``records``
    {objectType: [ids]}, ``properties`` {objectType: [names]}, ``archived`` [ids],
    ``per_interval``, ``interval_ms``, ``daily``, ``daily_used``, ``fail_next``,
    ``answer_delay_ms``."""
    portal = _portal(request)
    if request.method == "POST":
        body = json.loads(await request.body())
        for object_type, ids in body.get("records", {}).items():
            for record_id in ids:
                portal.records.setdefault(object_type, {})[str(record_id)] = {
                    "hs_object_id": str(record_id)
                }
        for object_type, names in body.get("properties", {}).items():
            portal.properties.setdefault(object_type, set()).update(names)
        portal.archived.update(str(i) for i in body.get("archived", []))
        portal.tokens.update(body.get("tokens", []))
        knobs = ("per_interval", "interval_ms", "daily", "daily_used", "fail_next",
                 "answer_delay_ms")  # fmt: skip
        for knob in knobs:
            if knob in body:
                setattr(portal, knob, int(body[knob]))
    return JSONResponse(portal.as_dict())


def new_token() -> str:
    """A token shaped like a private app's (``pat-na1-...``)."""
    return "pat-na1-" + str(uuid.UUID(bytes=secrets.token_bytes(16)))


def routes() -> list[Route]:
    """The stand-in's routes, on the sandbox's own port."""
    return [
        Route("/crm/v3/objects/{object_type:str}/batch/update", batch_update, methods=["POST"]),
        Route("/_sandbox/hubspot", admin, methods=["GET", "POST"]),
    ]
