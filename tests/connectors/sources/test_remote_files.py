"""Exports behind URLs, read from real servers on loopback: moto's S3 server for ``s3://``
and Azurite for ``az://`` (globs, missing objects, proxies in the environment), a TLS server for ``https://``
(pre-signed queries, retries, certificates)."""

from __future__ import annotations

import glob
import ssl
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connectors.api import transport
from connectors.errors import SourceError
from connectors.sources.export_files import ReadOptions, expand_sources, reading
from connectors.sources.mapping_file import load_mapping
from connectors.sources.remote_files import RemoteFile, _glob_matcher, fetch, is_url, shown
from tests.helpers import ROOT, ObjectStoreServer

SAMPLE = ROOT / "data" / "salesforce_contacts.csv"
MAPPING = ROOT / "data" / "mappings" / "salesforce.toml"
DEAD_PROXY = "http://127.0.0.1:9"


def bucket() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def test_an_export_in_s3_reads_as_the_same_file_on_disk_named_by_its_url(
    object_store: ObjectStoreServer,
) -> None:
    url = object_store.put(bucket(), "exports/contacts.csv", SAMPLE.read_bytes())
    mapping = load_mapping(MAPPING)
    with reading(expand_sources([url]), mapping, ReadOptions()) as remote:
        pass
    with reading(expand_sources([str(SAMPLE)]), mapping, ReadOptions()) as local:
        pass
    assert remote.get_column("__file").unique().to_list() == [url]
    assert remote.drop("__file").equals(local.drop("__file"))


def test_a_gzipped_parquet_and_a_cp1252_export_in_s3_read_as_they_do_on_disk(
    object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    import gzip

    name = bucket()
    frame = pl.DataFrame({"external_id": ["1", "2"], "email_address": ["a@b.com", "c@d.org"]})
    frame.write_parquet(tmp_path / "x.parquet")
    parquet = object_store.put(name, "x.parquet", (tmp_path / "x.parquet").read_bytes())
    gzipped = object_store.put(
        name, "x.csv.gz", gzip.compress(b"external_id,billing.city\n3,Z\xfcrich\n")
    )
    with reading(expand_sources([parquet, gzipped]), None, ReadOptions("cp1252")) as rows:
        pass
    assert rows.get_column("external_id").to_list() == ["1", "2", "3"]
    assert rows.get_column("billing.city").to_list() == [None, None, "Zürich"]


KEYS = ["exports/2026/a.csv", "exports/2026/b.csv", "exports/2025/a.csv", "exports/a.csv",
        "exports/2026/sub/c.csv", "other/x.csv", "exports/2026/a.csv.bak"]  # fmt: skip


@pytest.mark.parametrize(
    "pattern",
    ["exports/*/a.csv", "exports/**/*.csv", "exports/2026/[ab].csv", "exports/202?/*.csv",
     "**/a.csv", "exports/2026/*", "exports/2026/[!a].csv", "exports/**", "**"],
)  # fmt: skip
def test_a_glob_over_a_bucket_matches_what_the_shell_glob_matches_on_disk(
    object_store: ObjectStoreServer, tmp_path: Path, pattern: str
) -> None:
    name = bucket()
    for key in KEYS:
        object_store.put(name, key, b"external_id\n1\n")
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(b"")
    on_disk = sorted(
        Path(p).relative_to(tmp_path).as_posix()
        for p in glob.glob(str(tmp_path / pattern), recursive=True)
        if Path(p).is_file()
    )
    found = expand_sources([f"{object_store.scheme}://{name}/{pattern}"])
    assert [str(f) for f in found] == [f"{object_store.scheme}://{name}/{k}" for k in on_disk]


SEGMENTS = st.sampled_from(["a", "b", "ab", "a.csv", "b.csv", "x"])
PATTERN_SEGMENTS = st.sampled_from(["a", "b", "*", "?", "a*", "*.csv", "[ab]", "[!a]*", "**"])


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("tree")
    keys = ["b", "b.csv", "a/a.csv", "a/b", "ab/x", "ab/a/a.csv", "x/ab/b.csv", "a/ab/ab"]
    for key in keys:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(b"")
    return root, sorted(keys)


@settings(max_examples=300, deadline=None)
@given(pattern=st.lists(PATTERN_SEGMENTS, min_size=1, max_size=4).map("/".join))
def test_the_key_glob_agrees_with_pythons_glob(tree: tuple[Path, list[str]], pattern: str) -> None:
    # A trailing ** is everything below: Python's glob also lets it match what comes before
    # when that is a file (b/** matches b), which a bucket's keys cannot mean.
    assume(pattern == "**" or not pattern.endswith("**"))
    root, keys = tree
    expected = {
        Path(p).relative_to(root).as_posix()
        for p in glob.glob(str(root / pattern), recursive=True)
        if Path(p).is_file()
    }
    matcher = _glob_matcher(pattern)
    assert {k for k in keys if matcher.fullmatch(k)} == expected


def test_a_missing_object_bucket_or_glob_match_is_one_line(object_store: ObjectStoreServer) -> None:
    name = bucket()
    object_store.put(name, "a.csv", b"external_id\n1\n")
    scheme = object_store.scheme
    missing = expand_sources([f"{scheme}://{name}/nope.csv"])
    with (
        pytest.raises(SourceError, match=rf"^{scheme}://{name}/nope\.csv: no such file$"),
        reading(missing, None, ReadOptions()),
    ):
        pass
    with pytest.raises(SourceError, match=rf"^no file matches {scheme}://{name}/\*\.parquet$"):
        expand_sources([f"{scheme}://{name}/*.parquet"])
    with pytest.raises(SourceError, match=rf"^{scheme}://no-such-bucket-here.*(no such file|cann)"):
        expand_sources([f"{scheme}://no-such-bucket-here/*.csv"])


def test_a_loopback_store_is_reached_directly_whatever_proxy_the_environment_names(
    object_store: ObjectStoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = object_store.put(bucket(), "a.csv", b"external_id\n1\n")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, DEAD_PROXY)
    assert fetch(RemoteFile(url), tmp_path / "a.csv").read_bytes() == b"external_id\n1\n"


def test_the_fetched_copy_is_readable_by_its_owner_only(
    object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    url = object_store.put(bucket(), "a.csv", b"external_id\n1\n")
    copy = fetch(RemoteFile(url), tmp_path / "a.csv")
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600


def test_a_plain_http_store_off_loopback_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio.example.com:9000")
    with pytest.raises(SourceError, match=r"AWS_ENDPOINT_URL is plain HTTP .* loopback only"):
        fetch(RemoteFile("s3://b/a.csv"), tmp_path / "a.csv")
    monkeypatch.setenv("AZURE_STORAGE_USE_EMULATOR", "true")
    monkeypatch.setenv("AZURITE_BLOB_STORAGE_URL", "http://azurite.example.com:10000")
    with pytest.raises(SourceError, match=r"AZURITE_BLOB_STORAGE_URL is plain HTTP .* loopback"):
        expand_sources(["az://c/*.csv"])
    with pytest.raises(SourceError, match=r"plain HTTP only to loopback"):
        expand_sources(["http://files.example.com/a.csv"])
    with pytest.raises(SourceError, match=r"reads local files and s3://"):
        expand_sources(["ftp://files.example.com/a.csv"])


def test_what_is_a_url_and_how_it_is_shown() -> None:
    assert is_url("s3://b/k.csv") and is_url("https://h/a.csv")
    assert not is_url("C:/exports/a.csv") and not is_url("exports/a.csv")
    signed = "https://user:pw@h.example.com:8443/a.csv?X-Amz-Signature=SECRET#x"
    assert shown(signed) == "https://h.example.com:8443/a.csv"


# -- https://: a TLS server on loopback, its certificate from a test authority.


@dataclass
class WebFiles:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in order before the file
    seen: list[str] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)  # path -> where a 302 sends it


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebFiles]:
    import trustme

    authority = trustme.CA()
    state = WebFiles(url="")
    body = SAMPLE.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append(self.path)
            path = self.path.partition("?")[0]
            if path in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            found = self.path.startswith("/x/")
            status = state.statuses.pop(0) if state.statuses else 200 if found else 404
            payload = body if status == 200 else b"no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"https://127.0.0.1:{server.server_address[1]}"
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    transport.tls_context.cache_clear()  # the process's one context, made with the bundle
    try:
        yield state
    finally:
        transport.tls_context.cache_clear()
        server.shutdown()
        server.server_close()


def test_a_presigned_https_export_is_fetched_and_never_shown_with_its_signature(
    web: WebFiles, tmp_path: Path
) -> None:
    url = f"{web.url}/x/contacts.csv?X-Amz-Signature=TOPSECRET&X-Amz-Expires=600"
    web.statuses = [503, 502]  # a gateway's bad moments are retried
    with reading(expand_sources([url]), load_mapping(MAPPING), ReadOptions()) as rows:
        pass
    assert rows.height > 0 and len(web.seen) == 3
    assert rows.get_column("__file").unique().to_list() == [f"{web.url}/x/contacts.csv"]
    with pytest.raises(SourceError) as refused:
        fetch(RemoteFile(f"{web.url}/gone.csv?sig=TOPSECRET"), tmp_path / "g.csv")
    assert str(refused.value) == f"{web.url}/gone.csv: cannot be fetched (HTTP 404)"
    assert not (tmp_path / "g.csv").exists()


def test_an_https_export_whose_certificate_does_not_verify_is_refused_in_one_line(
    web: WebFiles, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    transport.tls_context.cache_clear()
    with pytest.raises(SourceError, match=r"cannot be fetched \(certificate verify failed"):
        fetch(RemoteFile(f"{web.url}/x/contacts.csv"), tmp_path / "c.csv")
    assert len(web.seen) == 0  # no request was made over the untrusted connection


def test_a_web_url_with_a_glob_is_refused(web: WebFiles) -> None:
    with pytest.raises(SourceError, match="a web server lists no files"):
        expand_sources([f"{web.url}/x/*.csv"])


def test_a_refused_storage_credential_is_one_line_naming_where_to_look(
    azure_server: ObjectStoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Azurite checks the shared key's signature, as Azure does (moto checks none).
    url = azure_server.put(bucket(), "a.csv", b"external_id\n1\n")
    for name, value in azure_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "d3Jvbmcga2V5")
    with pytest.raises(SourceError) as refused:
        fetch(RemoteFile(url), tmp_path / "a.csv")
    assert str(refused.value) == (
        f"{url}: access refused; check AZURE_STORAGE_ACCOUNT_NAME with "
        "AZURE_STORAGE_ACCOUNT_KEY or a SAS in the environment"
    )
    assert "d3Jvbmcga2V5" not in str(refused.value) and not (tmp_path / "a.csv").exists()


class Recorder(ThreadingHTTPServer):
    """A plain HTTP server on loopback that records what reaches it and serves the sample
    (a proxy, or a loopback file server: whoever receives a request says so)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.seen.append(self.path)
                body = SAMPLE.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def recorders() -> Iterator[tuple[Recorder, Recorder]]:
    proxy, files = Recorder(), Recorder()
    yield proxy, files
    for server in (proxy, files):
        server.shutdown()
        server.server_close()


def test_a_redirect_to_plain_http_on_loopback_is_followed_directly_never_by_a_proxy(
    web: WebFiles, recorders: tuple[Recorder, Recorder], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    proxy, files = recorders
    monkeypatch.setenv("HTTP_PROXY", proxy.url)  # a logging proxy for plain HTTP
    monkeypatch.delenv("NO_PROXY", raising=False)
    web.redirects["/x/moved.csv"] = f"{files.url}/data.csv?sig=TOPSECRET"
    fetch(RemoteFile(f"{web.url}/x/moved.csv"), tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_bytes() == SAMPLE.read_bytes()
    assert files.seen == ["/data.csv?sig=TOPSECRET"] and proxy.seen == []


@pytest.mark.parametrize(
    "where", ["http://10.255.255.1/data.csv", "http://169.254.169.254/latest/meta-data/",
              "ftp://127.0.0.1/data.csv", "file:///etc/passwd"],
)  # fmt: skip
def test_a_redirect_off_https_and_off_loopback_is_refused_before_it_is_sent(
    web: WebFiles, recorders: tuple[Recorder, Recorder], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, where: str,
) -> None:  # fmt: skip
    proxy, _ = recorders
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    web.redirects["/x/moved.csv"] = where
    with pytest.raises(SourceError, match=r"redirected to .*, refused") as refused:
        fetch(RemoteFile(f"{web.url}/x/moved.csv?sig=TOPSECRET"), tmp_path / "m.csv")
    assert "TOPSECRET" not in str(refused.value) and "meta-data" not in str(refused.value)
    # Asked once (a refusal is not retried), and nothing reached the proxy.
    assert web.seen == ["/x/moved.csv?sig=TOPSECRET"] and proxy.seen == []
    assert not (tmp_path / "m.csv").exists()


def test_redirects_in_a_loop_end_in_one_line(web: WebFiles, tmp_path: Path) -> None:
    web.redirects["/x/a.csv"] = "/x/b.csv"
    web.redirects["/x/b.csv"] = f"{web.url}/x/a.csv"
    with pytest.raises(SourceError, match="more than 20 redirects"):
        fetch(RemoteFile(f"{web.url}/x/a.csv"), tmp_path / "loop.csv")
