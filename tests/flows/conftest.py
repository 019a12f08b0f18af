"""Running the real ``custsync`` command line in a child process, and reading what a sync
left on the sandbox and in its artefacts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.process import SandboxProcess
from tests.conftest import read_csv

ROOT = Path(__file__).parents[2]
PREFECT = [sys.executable, "-m", "prefect"]


def custsync(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``python -m flows ARGS`` as a user would run ``custsync ARGS``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERIFONE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "flows", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=environment,
        timeout=timeout,
    )


USER, KEY = "u", "k"
ENV = {"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": KEY}


SyncResult = tuple[int, dict[str, Any], list[dict[str, str]], str]


def sync(server: SandboxProcess, tmp: Path, source: Path, name: str, *extra: str,
         env: dict[str, str] | None = None) -> SyncResult:  # fmt: skip
    import json

    out = tmp / name
    result = custsync("sync", str(source), "--target", server.url, "--entity-id", "E1",
                      "--state", str(tmp / "state.db"), "--out", str(out), *extra,
                      env=ENV if env is None else env)  # fmt: skip
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return result.returncode, report, read_csv(out / "mappings.csv"), result.stderr


def on_server(server: SandboxProcess) -> list[dict[str, Any]]:
    customers: list[dict[str, Any]] = []
    with httpx.Client(base_url=server.url, auth=(USER, KEY), timeout=30) as client:
        for page in range(1, 100):
            response = client.get("/v2/customer", params={
                "search": 'entity_id=="E1"', "page_size": 500, "page_number": page,
            })  # fmt: skip
            batch = response.json()
            customers += batch
            if len(batch) < 500:
                return customers
    return customers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real ``prefect server start`` of the test's own."""
    yield from _prefect_server(tmp_path)


@pytest.fixture(scope="session")
def shared_prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One real ``prefect server start`` for the session's tests that use it (~20 s to start;
    each uses work pools of its own names)."""
    yield from _prefect_server(tmp_path_factory.mktemp("prefect"))


def _prefect_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=log, stderr=log)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            time.sleep(0.5)
        yield env
    finally:
        server.terminate()
        server.wait(30)
        log.close()
