"""What a running sandbox holds, and the API's ErrorResponse."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.auth import AuthConfig
from sandbox.faults import FaultInjector, SandboxStats
from sandbox.store import CustomerStore


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


def sandbox_state(request: Request) -> SandboxState:
    """The state of the sandbox serving ``request``."""
    state: SandboxState = request.app.state.sandbox
    return state
