"""What the tests share that is not a fixture: credentials of the test sandboxes, export rows,
artefact readers, the ``custsync`` command run as a user runs it, and small real servers."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from sandbox.process import SandboxProcess

USER, KEY = "test-user", "test-key"


READ_ONLY_USER, READ_ONLY_KEY = "reader", "reader-key"


JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"


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


@dataclass
class CannedAnswer:
    """One canned response."""

    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class OddServer:
    """The server's script (answers in order, the last one repeated) and what it saw."""

    url: str
    answers: list[CannedAnswer] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def next_answer(self) -> CannedAnswer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


POSTGRES_URL = os.environ.get("CUSTSYNC_TEST_POSTGRES_URL")


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
        # A test that left a transaction open in the schema (a failed assertion before its
        # close) fails here in seconds, naming it, rather than hanging the suite.
        admin.execute("SET lock_timeout = '20s'")
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


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


ROOT = Path(__file__).parents[1]


PREFECT = [sys.executable, "-m", "prefect"]


def custsync(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``python -m flows ARGS`` as a user would run ``custsync ARGS``."""
    # Credentials only as the test gives them (the Customer API's, the CRMs').
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("VERIFONE_", "SALESFORCE_", "HUBSPOT_"))}  # fmt: skip
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "flows", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=environment,
        timeout=timeout,
    )


ENV = {"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": KEY}
# What the sandbox's CRM stand-ins accept in the tests (sandbox/salesforce.py, hubspot.py).
SF_TOKEN = "00Dsf-test-token-7f3a"
HS_TOKEN = "pat-na1-test-token-9c1d"
SF_CLIENT = ("sf-client-id", "sf-client-secret-51e2")


SyncResult = tuple[int, dict[str, Any], list[dict[str, str]], str]


def sync(server: SandboxProcess, tmp: Path, source: Path, name: str, *extra: str,
         env: dict[str, str] | None = None) -> SyncResult:  # fmt: skip
    out = tmp / name
    result = custsync("sync", str(source), "--target", server.url, "--entity-id", "E1",
                      "--state", str(tmp / "state.db"), "--out", str(out), *extra,
                      env=ENV if env is None else env)  # fmt: skip
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return result.returncode, report, read_csv(out / "mappings.csv"), result.stderr


def on_server(server: SandboxProcess, entity: str = "E1") -> list[dict[str, Any]]:
    """The customers of ``entity`` the server holds."""
    customers: list[dict[str, Any]] = []
    with httpx.Client(base_url=server.url, auth=(USER, KEY), timeout=30) as client:
        for page in range(1, 100):
            response = client.get("/v2/customer", params={
                "search": f'entity_id=="{entity}"', "page_size": 500, "page_number": page,
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


def formulas_a_spreadsheet_computes(path: Path, tmp: Path) -> list[str]:
    """The cells LibreOffice (headless, Debian's ``libreoffice-calc-nogui``) computes when it
    opens the CSV at ``path`` as a person would: converted to ODS, the formulas it stored."""
    import re
    import shutil
    import zipfile

    soffice = shutil.which("soffice")
    if soffice is None:
        if os.environ.get("CUSTSYNC_REQUIRE_LIBREOFFICE"):
            pytest.fail("CUSTSYNC_REQUIRE_LIBREOFFICE is set but no soffice was found")
        pytest.skip("no LibreOffice here (apt install libreoffice-calc-nogui; .ci/run does)")
    out = tmp / f"ods-{uuid.uuid4().hex[:8]}"
    profile = tmp / "lo-profile"  # a profile of its own: no clash with another instance
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
         "--infilter=CSV:44,34,76,1", "--convert-to", "ods", "--outdir", str(out), str(path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with zipfile.ZipFile(out / f"{path.stem}.ods") as ods:
        content = ods.read("content.xml").decode()
    return re.findall(r'table:formula="([^"]*)"', content)


def needs_gateway(program: str) -> None:
    """Skip unless real gateway software (nginx, haproxy) is installed; fail instead where CI
    installs it (CUSTSYNC_REQUIRE_GATEWAYS, set by .ci/run)."""
    from sandbox.real_gateways import installed

    if installed(program):
        return
    if os.environ.get("CUSTSYNC_REQUIRE_GATEWAYS"):
        pytest.fail(f"CUSTSYNC_REQUIRE_GATEWAYS is set but no {program} is installed")
    pytest.skip(f"no {program} here (apt install nginx-light haproxy; .ci/run does)")


@contextlib.contextmanager
def untrusted_tls_server() -> Iterator[str]:
    """A TLS server on loopback whose certificate no trusted authority signed: its root URL.
    Any GET or POST is answered 200 ``{}``."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def signed_file_server(body: bytes, signature: str) -> Iterator[str]:
    """A plain-HTTP loopback server (allowed for sources) that serves ``body`` as a pre-signed
    URL does: only to a GET whose query carries ``X-Amz-Signature=<signature>``, 403 to any
    other. Yields the URL of the file, signed."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            given = parse_qs(urlsplit(self.path).query).get("X-Amz-Signature", [""])[0]
            ok = given == signature
            self.send_response(200 if ok else 403)
            payload = body if ok else b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield (f"http://127.0.0.1:{server.server_address[1]}/exports/nightly.csv"
               f"?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature={signature}")  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()


def bearer_client(server: SandboxProcess, token: str) -> httpx.Client:
    """A client of the sandbox's root (the CRM stand-ins' paths) with a Bearer token, never
    through a proxy."""
    return httpx.Client(base_url=server.root, trust_env=False, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def headless_chromium(profile: Path) -> list[str]:
    """Chromium's command line, headless, for reading pages back (the readiness page, Prefect's
    UI); skipped where none is installed, failed where CI installed one
    (CUSTSYNC_REQUIRE_CHROMIUM, set by .ci/run)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CUSTSYNC_REQUIRE_CHROMIUM"):
            pytest.fail("CUSTSYNC_REQUIRE_CHROMIUM is set but no chromium is installed")
        pytest.skip("no chromium here (CI installs it: .ci/run)")
    return [found, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}"]  # fmt: skip
