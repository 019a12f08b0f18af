"""A sandbox in a child process on a free loopback port: the embedded target and the test server.

A separate process keeps the sandbox's CPU off the caller's GIL, so a sync (or a benchmark) and
the API it talks to do not slow each other down.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from sandbox.auth import CrmLogins
from sandbox.command import (
    HUBSPOT_TOKENS_ENV,
    JWT_SECRET_ENV,
    PARENT_PID_ENV,
    READ_ONLY_USERS_ENV,
    SALESFORCE_CLIENT_ENV,
    SALESFORCE_TOKENS_ENV,
    USERS_ENV,
    knob_arguments,
)
from sandbox.faults import FaultSettings

BANNER_URL = re.compile(r"listening on (http://\S+)")


def terminate(process: subprocess.Popen[Any]) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it has not ended in 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kill_tree(root: int) -> None:
    """Kill -9 of process group ``root`` and of every process under it (a worker's flow runs
    may sit in groups of their own): the way a machine dies."""
    family = {root}
    for _ in range(4):  # children, grandchildren...
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid = int(stat.parent.name)
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent in family:
                family.add(pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(root, signal.SIGKILL)
    for pid in family - {root}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class SandboxStartFailure(RuntimeError):
    """The sandbox process exited or stayed silent instead of listening (the engine reports
    it as ``connectors.errors.SandboxStartError``)."""


class SandboxProcess:
    """``custsync sandbox`` as a child process; a context manager that stops it on exit."""

    def __init__(
        self,
        db: str | Path = ":memory:",
        users: dict[str, str] | None = None,
        read_only_users: dict[str, str] | None = None,
        jwt_secret: str | None = None,
        faults: FaultSettings | None = None,
        seed: int | None = None,
        start_timeout_s: float = 60.0,
        crm: CrmLogins | None = None,
    ) -> None:
        self.db = str(db)
        self.users = users or {}
        self.read_only_users = read_only_users or {}
        self.jwt_secret = jwt_secret
        self.faults = faults or FaultSettings()
        self.seed = seed
        self.start_timeout_s = start_timeout_s
        self.crm = crm or CrmLogins()
        self.url = ""
        self.root = ""
        self._process: subprocess.Popen[str] | None = None
        self._stderr: Any = None

    def _command(self) -> list[str]:
        command = [sys.executable, "-m", "sandbox", "--port", "0", "--db", self.db]
        command += knob_arguments(self.faults)
        if self.seed is not None:
            command += ["--seed", str(self.seed)]
        return command

    def _environment(self) -> dict[str, str]:
        # Credentials travel in the environment, never on the command line (visible in `ps`).
        env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTSYNC_SANDBOX_")}
        # It dies with this process, even one killed with SIGKILL (sandbox/server.py).
        env[PARENT_PID_ENV] = str(os.getpid())
        if self.users:
            env[USERS_ENV] = " ".join(f"{u}:{k}" for u, k in self.users.items())
        if self.read_only_users:
            env[READ_ONLY_USERS_ENV] = " ".join(f"{u}:{k}" for u, k in self.read_only_users.items())
        if self.jwt_secret:
            env[JWT_SECRET_ENV] = self.jwt_secret
        if self.crm.salesforce_tokens:
            env[SALESFORCE_TOKENS_ENV] = " ".join(self.crm.salesforce_tokens)
        if self.crm.salesforce_client:
            env[SALESFORCE_CLIENT_ENV] = ":".join(self.crm.salesforce_client)
        if self.crm.hubspot_tokens:
            env[HUBSPOT_TOKENS_ENV] = " ".join(self.crm.hubspot_tokens)
        return env

    def start(self) -> SandboxProcess:
        """Start the process and wait until it listens."""
        # stderr to a file: a pipe nobody drains would block the sandbox once it fills.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            self._command(),
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=self._environment(),
        )
        found: list[str] = []

        def read_banner() -> None:
            assert self._process is not None and self._process.stdout is not None
            for line in self._process.stdout:
                match = BANNER_URL.search(line)
                if match:
                    found.append(match.group(1))
                    return

        reader = threading.Thread(target=read_banner, daemon=True)
        reader.start()
        reader.join(self.start_timeout_s)
        if not found:
            self._stderr.seek(0)
            stderr = self._stderr.read()
            self.stop()
            last = stderr.strip().splitlines()[-1:] or ["no output"]
            raise SandboxStartFailure(f"the local sandbox did not start: {last[0]}")
        self.url = found[0]
        self.root = self.url.split("/oidc/")[0]
        return self

    @property
    def pid(self) -> int | None:
        """The sandbox's process id, while it runs."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One call to the sandbox's own endpoints (``/_sandbox/...``), with its credentials
        (they need them when it has any) and never through a proxy."""
        with httpx.Client(base_url=self.root, trust_env=False, timeout=10) as client:
            return client.request(method, path, json=body, headers=self._admin_headers())

    def _admin_headers(self) -> dict[str, str]:
        if self.users:
            uid, key = next(iter(self.users.items()))
            token = base64.b64encode(f"{uid}:{key}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if self.jwt_secret:
            import jwt

            claims = {"sub": "sandbox-admin", "exp": int(time.time()) + 300}
            return {"Authorization": f"Bearer {jwt.encode(claims, self.jwt_secret, 'HS256')}"}
        return {}

    def stats(self) -> dict[str, Any]:
        """The sandbox's ``/_sandbox/stats``."""
        response = self.admin("GET", "/_sandbox/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def set_faults(self, settings: FaultSettings) -> None:
        """Change the knobs of the running sandbox."""
        self.admin("POST", "/_sandbox/faults", settings.as_dict()).raise_for_status()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
