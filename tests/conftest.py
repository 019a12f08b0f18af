"""Fixtures of the whole suite: a real sandbox server on a free loopback port, Prefect servers,
object stores, state stores on both backends, and the test credentials in the environment.
Plain helpers live in ``tests/helpers.py``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import settings

from sandbox.process import SandboxProcess
from tests.helpers import (
    JWT_SECRET,
    KEY,
    PREFECT,
    READ_ONLY_KEY,
    READ_ONLY_USER,
    USER,
    ObjectStoreServer,
    OddServer,
    free_port,
    postgres_schema,
)

# CI runs the property tests on examples derived from each test (the same every run), so a
# landing is never refused by a draw no one can replay; a developer's runs draw new ones each
# time and keep hunting. What they find is pinned with @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# The suite runs on pytest-xdist workers (pyproject's addopts; `-n 0` for one process): most of
# its time is waiting (rate-limited sandboxes, child processes starting), not computing. The
# tests that need one of the two Prefect servers go to one worker per server, so the session
# starts each server once.
PREFECT_FIXTURES = ("shared_prefect_server", "prefect_harness")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture in PREFECT_FIXTURES:
            if fixture in names:
                item.add_marker(pytest.mark.xdist_group(fixture))
                break


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxProcess]:
    """The sandbox as a real HTTP server (child process), shared by the session."""
    with SandboxProcess(
        users={USER: KEY},
        read_only_users={READ_ONLY_USER: READ_ONLY_KEY},
        jwt_secret=JWT_SECRET,
    ) as server:
        yield server


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server, once per session (~20 s to start on a 2-core machine)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def api(sandbox_server: SandboxProcess) -> Iterator[httpx.Client]:
    """A client of the session sandbox with full Basic credentials."""
    with httpx.Client(base_url=sandbox_server.url, auth=(USER, KEY), timeout=30) as client:
        yield client


@pytest.fixture
def odd_server() -> Iterator[OddServer]:
    """A loopback server at ``.../oidc/customer-service``; set ``answers`` before calling it."""
    state = OddServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.seen.append(f"{self.command} {self.path}")
            answer = state.next_answer()
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/oidc/customer-service"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store's location on each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "state.db")
        return
    yield from postgres_schema("t")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[ObjectStoreServer]:
    """moto's S3 server, a real HTTP server in a thread of the test process."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test-key-id",
           "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_REGION": "eu-west-1"}  # fmt: skip
    try:
        yield ObjectStoreServer("s3", endpoint, env)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStoreServer]:
    """Azurite's blob service, a child process on a free loopback port."""
    import shutil
    import socket
    import subprocess

    binary = os.environ.get("CUSTSYNC_AZURITE") or shutil.which("azurite-blob")
    if not binary:
        if os.environ.get("CUSTSYNC_REQUIRE_AZURITE"):
            pytest.fail("CUSTSYNC_REQUIRE_AZURITE is set but no azurite-blob was found")
        pytest.skip("no azurite-blob here (npm install azurite; .ci/run installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path_factory.mktemp("azurite") / "azurite.log").open("wb")
    process = subprocess.Popen(
        [binary, "--inMemoryPersistence", "--blobHost", "127.0.0.1", "--blobPort", str(port),
         "--skipApiVersionCheck", "--silent"], stdout=log, stderr=log,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert process.poll() is None and time.monotonic() < deadline, "azurite did not start"
            time.sleep(0.2)
        env = {"AZURE_STORAGE_USE_EMULATOR": "true", "AZURITE_BLOB_STORAGE_URL": endpoint}
        yield ObjectStoreServer("az", endpoint, env)
    finally:
        process.kill()  # in memory: nothing to flush (SIGTERM waits for idle clients' sockets)
        process.wait(30)
        log.close()


@pytest.fixture(params=["s3", "az"])
def object_store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> ObjectStoreServer:
    """Each object store in turn, with this process's environment pointing at it."""
    server: ObjectStoreServer = request.getfixturevalue(
        f"{request.param}_server".replace("az_", "azure_")
    )
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    return server


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


@pytest.fixture
def api_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session sandbox's credentials in this process's environment, where custsync reads
    them."""
    monkeypatch.setenv("VERIFONE_USER_UID", USER)
    monkeypatch.setenv("VERIFONE_API_KEY", KEY)
