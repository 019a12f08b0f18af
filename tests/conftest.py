"""Session-wide fixtures: one real sandbox server on a free loopback port."""

from __future__ import annotations

import contextlib
import csv
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import settings

from sandbox.process import SandboxProcess

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


USER, KEY = "test-user", "test-key"
READ_ONLY_USER, READ_ONLY_KEY = "reader", "reader-key"
JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"


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


def bearer(expires_in_s: float = 300, secret: str = JWT_SECRET) -> str:
    """An HS256 token for the session sandbox."""
    return jwt.encode({"sub": USER, "exp": int(time.time() + expires_in_s)}, secret, "HS256")


def person(entity_id: str = "E1", **overrides: Any) -> dict[str, Any]:
    """A valid CustomerRequest for a person; keyword overrides replace top-level fields."""
    payload: dict[str, Any] = {
        "entity_id": entity_id,
        "email_address": "ann.lee@example.com",
        "billing": {
            "first_name": "Ann",
            "last_name": "Lee",
            "address_1": "1 High Street",
            "city": "London",
            "postal_code": "SW1A 1AA",
            "country_code": "GB",
        },
    }
    payload.update(overrides)
    return payload


# The columns of ``export``: a person with an e-mail, in a city.
HEADER = ["external_id", "email_address", "billing.first_name", "billing.last_name", "billing.city",
          "billing.country_code"]  # fmt: skip


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """A CSV export with this header and rows."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def export(path: Path, rows: list[list[str]]) -> Path:
    """A CSV export of HEADER's columns."""
    return write(path, HEADER, rows)


def people(n: int, city: str = "London") -> list[list[str]]:
    """``n`` valid rows for ``export``: X0.., each with an e-mail of its own."""
    return [[f"X{i}", f"p{i}@example.com", "Ann", f"Lee{i}", city, "GB"] for i in range(n)]


def read_csv(path: Path) -> list[dict[str, str]]:
    """An artefact's rows (none when it was never written)."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# -- a small real HTTP server on loopback that answers what a test tells it to: the statuses and
# bodies no Customer API should send, but gateways, proxies and portals do.


@dataclass
class Answer:
    """One canned response."""

    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class OddServer:
    """The server's script (answers in order, the last one repeated) and what it saw."""

    url: str
    answers: list[Answer] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def next_answer(self) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


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


POSTGRES_URL = os.environ.get("CUSTSYNC_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store's location on each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "state.db")
        return
    yield from postgres_schema("t")


def postgres_schema(prefix: str) -> Iterator[str]:
    """A store's URL in a fresh schema of the test PostgreSQL (dropped after), or a skip."""
    if not POSTGRES_URL:
        pytest.skip("set CUSTSYNC_TEST_POSTGRES_URL (.ci/run starts a server) for PostgreSQL")
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    # Each test in a schema of its own: same server, no cross-talk.
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


# -- object stores on loopback: moto's S3 server, and Azurite (Azure's own emulator, from npm:
# .ci/run installs it) for exports behind s3:// and az:// URLs.

AZURITE_ACCOUNT = "devstoreaccount1"  # the emulator's well-known account and key
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass
class ObjectStoreServer:
    """A store's endpoint and the environment a process needs to read from it."""

    scheme: str  # "s3" or "az"
    endpoint: str
    env: dict[str, str]

    def put(self, bucket: str, key: str, data: bytes) -> str:
        """Store ``data`` at ``SCHEME://bucket/key`` (the bucket made if missing); its URL."""
        if self.scheme == "s3":
            import boto3

            client = boto3.client(
                "s3", endpoint_url=self.endpoint, region_name="eu-west-1",
                aws_access_key_id="test-key-id", aws_secret_access_key="test-secret",
            )  # fmt: skip
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(
                    Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
                )
            client.put_object(Bucket=bucket, Key=key, Body=data)
        else:
            from azure.core.exceptions import ResourceExistsError
            from azure.storage.blob import BlobServiceClient

            service = BlobServiceClient.from_connection_string(
                f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                f"AccountKey={AZURITE_KEY};BlobEndpoint={self.endpoint}/{AZURITE_ACCOUNT};"
            )
            with contextlib.suppress(ResourceExistsError):
                service.create_container(bucket)
            service.get_blob_client(bucket, key).upload_blob(data, overwrite=True)
        return f"{self.scheme}://{bucket}/{key}"


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
