"""Serving the sandbox: uvicorn in the foreground, with a one-line banner once it listens."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sandbox.app import create_app
from sandbox.auth import AuthConfig, CrmLogins
from sandbox.command import PARENT_PID_ENV
from sandbox.faults import FaultSettings
from sandbox.gateway import TRANSPORT_KEY
from sandbox.guard import Bound
from sandbox.openapi import BASE_PATH
from sandbox.store import CustomerStore

HEAD_TIMEOUT_S = 10.0


class TransportExposingProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, handing each request's transport to the app.

    ASGI gives an app no way to drop a connection without answering; the sandbox needs exactly
    that for ``--reset-rate`` and ``--lost-response-rate``.
    """

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A connection: its first request's head must arrive within HEAD_TIMEOUT_S."""
        super().connection_made(transport)
        self._arm_head_timer()

    def on_message_begin(self) -> None:
        """Start a request, its transport in the ASGI scope's extensions; its head must be
        complete within HEAD_TIMEOUT_S (a client trickling headers holds a slot for ever)."""
        super().on_message_begin()
        self.scope["extensions"] = {TRANSPORT_KEY: self.transport}  # type: ignore[dict-item]
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        """The head is in: no more hurry (the body and the answer have their own limits)."""
        self._disarm_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone."""
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


@dataclass
class SandboxConfig:
    """How to run a sandbox."""

    host: str = "127.0.0.1"
    port: int = 8765
    db: str = ":memory:"
    auth: AuthConfig = field(default_factory=AuthConfig)
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int | None = None
    crm: CrmLogins = field(default_factory=CrmLogins)

    def banner(self, port: int) -> str:
        """The one line printed once the sandbox listens (no secrets in it)."""
        return (
            f"custsync sandbox listening on http://{self.host}:{port}{BASE_PATH}"
            f" | auth: {self.auth.describe()} | db: {self.db}"
            f" | Salesforce /services, HubSpot /crm/v3 stand-ins | Ctrl-C stops it"
        )


class _BannerServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[int], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            port = self.servers[0].sockets[0].getsockname()[1]
            self._on_started(port)


def _stop_with_parent(parent: int) -> None:
    """Stop this sandbox (as SIGTERM does) once the process that started it is gone: killed
    with SIGKILL, it could not stop its child, which was left serving for good (parent 1)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="sandbox-parent", daemon=True).start()


def serve(config: SandboxConfig, announce: Callable[[str], None] | None = None) -> None:
    """Run the sandbox until interrupted (Ctrl-C / SIGTERM stop it cleanly), or, started by
    another process (``PARENT_PID_ENV``), until that process is gone."""
    parent = os.environ.get(PARENT_PID_ENV, "")
    if parent.isdigit() and hasattr(os, "getppid"):
        _stop_with_parent(int(parent))
    store = CustomerStore(config.db)  # creates the file, for its owner alone
    bound = Bound()
    app = create_app(store, config.auth, config.faults, config.seed, bound, config.crm)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        http=TransportExposingProtocol,
        lifespan="off",
        access_log=False,
        log_level="error",
        # The gateway handles load itself; uvicorn must not answer 503s of its own.
        timeout_keep_alive=30,
    )

    def on_started(port: int) -> None:
        bound.listen(config.host, port)
        line = config.banner(port)
        if announce is not None:
            announce(line)
        else:
            print(line, flush=True)
            sys.stdout.flush()

    try:
        _BannerServer(uv_config, on_started).run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it already handled by shutting down gracefully
    finally:
        store.close()
