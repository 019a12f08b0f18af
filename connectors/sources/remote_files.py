"""Exports named by URL: ``s3://``, ``gs://``, ``az://`` (and ``abfs[s]://``, ``adl://``)
and ``https://``, listed and fetched by the process that reads them.

Each remote export is streamed into the run's private scratch folder (owner-only, removed
when the run ends) and then read like a local file: the encoding sniff, gzip, the ragged-row
check and the lenient re-read all need the bytes, and a run reads every row anyway (a shard
filters by id hash after reading). So nothing big travels through Prefect: every worker fetches
what it reads itself, with the credentials of its own environment.

Object stores go through obstore, the Python face of the Rust ``object_store`` crate that
polars' own cloud reader is built on: the same URLs, the same environment variables
(``AWS_*``, ``GOOGLE_*``, ``AZURE_*``; an S3-compatible store by ``AWS_ENDPOINT_URL``).
``https://`` goes through httpx, as the API does, so a pre-signed URL (its signature in the
query) works as it is. A URL is shown only without its query and credentials (a signature is
a secret). Plain HTTP only to loopback, never through a proxy; TLS verification always on
(``SSL_CERT_FILE`` adds a private authority, as for the API).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from connectors.api.targets import is_loopback
from connectors.errors import SourceError
from connectors.private_files import open_private

if TYPE_CHECKING:
    from obstore.store import ObjectStore

OBJECT_SCHEMES = frozenset({"s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl"})
WEB_SCHEMES = frozenset({"https", "http"})
CHUNK = 1 << 22
MAX_REDIRECTS = 20  # httpx's own default when it follows them
# An S3-compatible store (MinIO, Ceph, R2, a test's moto) is named by one of these.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
# Azurite, Azure's local emulator, listens over plain HTTP (object_store's variables).
AZURE_EMULATOR_VARIABLE = "AZURE_STORAGE_USE_EMULATOR"
AZURITE_URL_VARIABLE = "AZURITE_BLOB_STORAGE_URL"
AZURITE_DEFAULT_URL = "http://127.0.0.1:10000"
CREDENTIAL_HINT = {
    "s3": "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or the instance role) and AWS_REGION",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT",
    "az": "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or a SAS",
}


@dataclass(frozen=True)
class RemoteFile:
    """One export behind a URL; ``label`` is how it is shown (no query, no credentials)."""

    url: str

    @property
    def scheme(self) -> str:
        """``s3``, ``gs``, ``az``..., ``https`` or ``http``."""
        return urlsplit(self.url).scheme.lower()

    @property
    def label(self) -> str:
        """What reports and errors show: a web URL without its query, fragment or user info."""
        return shown(self.url) if self.scheme in WEB_SCHEMES else self.url

    @property
    def name(self) -> str:
        """The file's own name (its suffix says CSV, Parquet or gzip)."""
        path = urlsplit(self.url).path if self.scheme in WEB_SCHEMES else _key(self.url)
        return PurePosixPath(path).name or "export"

    def __str__(self) -> str:
        return self.label


def is_url(source: str) -> bool:
    """True for ``scheme://...`` (a one-letter scheme is a Windows drive, not a URL)."""
    scheme = urlsplit(source).scheme
    return len(scheme) > 1 and "://" in source


def shown(url: str) -> str:
    """``url`` as it may be printed: a pre-signed URL's signature and any password left out."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def public_source(source: str) -> str:
    """A source as a flow run may keep it: a web URL as ``shown`` (a pre-signed URL's
    signature is a credential), anything else as it is (an object store's ``?`` is a glob)."""
    return (
        shown(source)
        if is_url(source) and urlsplit(source).scheme.lower() in WEB_SCHEMES
        else source
    )


def expand_url(pattern: str) -> list[RemoteFile]:
    """A URL, or a glob over an object store's keys (``s3://b/exports/*.csv``), -> files."""
    scheme = urlsplit(pattern).scheme.lower()
    if scheme not in OBJECT_SCHEMES | WEB_SCHEMES:
        raise SourceError(
            f"{shown(pattern)}: custsync reads local files and s3://, gs://, az://, https:// URLs"
        )
    if scheme == "http":
        host = urlsplit(pattern).hostname or ""
        if not is_loopback(host):
            raise SourceError(f"{shown(pattern)}: plain HTTP only to loopback; use https://")
    if scheme in WEB_SCHEMES:
        if _has_magic(urlsplit(pattern).path):
            raise SourceError(f"{shown(pattern)}: a web server lists no files; name each one")
        return [RemoteFile(pattern)]
    key = _key(pattern)
    if not _has_magic(key):
        return [RemoteFile(pattern)]
    import obstore

    root = _root(pattern)
    prefix = key[: _magic_at(key)].rpartition("/")[0]
    matcher = _glob_matcher(key)
    try:
        listed = [
            meta["path"]
            for page in obstore.list(_store(root), prefix=prefix or None, chunk_size=1000)
            for meta in page
        ]
    except Exception as exc:  # obstore raises one type per cause, and others from the client
        raise SourceError(_why(exc, shown(root), scheme)) from None
    matches = sorted(k for k in listed if matcher.fullmatch(k))
    if not matches:
        raise SourceError(f"no file matches {pattern}")
    return [RemoteFile(f"{root}/{k}") for k in matches]


def fetch(remote: RemoteFile, target: Path) -> Path:
    """``remote`` streamed into ``target`` (created readable by its owner only)."""
    try:
        if remote.scheme in WEB_SCHEMES:
            _fetch_web(remote, target)
        else:
            _fetch_object(remote, target)
    except SourceError:
        target.unlink(missing_ok=True)
        raise
    return target


def _fetch_object(remote: RemoteFile, target: Path) -> None:
    import obstore

    root = _root(remote.url)
    key = _key(remote.url)
    try:
        result = obstore.get(_store(root), key)
        with open_private(target) as out:
            for chunk in result.stream(min_chunk_size=CHUNK):
                out.write(chunk)
    except Exception as exc:  # obstore raises one type per cause, and others from the client
        raise SourceError(_why(exc, remote.label, remote.scheme)) from None


def _fetch_web(remote: RemoteFile, target: Path) -> None:
    # Imported here: a run over local files never pays for httpx and tenacity.
    import httpx
    from tenacity import RetryError

    from connectors.api.answers import Answer, classify_error, classify_status
    from connectors.api.retry import (
        RetryableFailure,
        RetryPolicy,
        build_blocking_retrying,
        parse_retry_after,
    )
    from connectors.api.transport import SourceTransport, TlsError

    def attempt() -> None:
        url = remote.url
        for _ in range(MAX_REDIRECTS + 1):
            # Each hop is checked before it is sent: plain HTTP to loopback only, and never
            # through a proxy (it would see the bytes in clear); httpx following redirects
            # itself checked nothing until the last answer.
            plain = _checked_hop(url, remote.label)
            with (
                httpx.Client(
                    transport=SourceTransport(),
                    trust_env=not plain,  # a proxy as the environment says; never for http
                    follow_redirects=False,
                    timeout=httpx.Timeout(30.0, read=120.0),
                ) as client,
                client.stream("GET", url) as response,
            ):
                if response.is_redirect and "Location" in response.headers:
                    url = str(response.url.join(response.headers["Location"]))
                    continue
                status = response.status_code
                answer = classify_status(status, idempotent=True)
                if answer in (Answer.RETRY, Answer.RATE_LIMITED):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    limited = answer is Answer.RATE_LIMITED
                    raise RetryableFailure(f"HTTP {status}", retry_after, rate_limited=limited)
                if status != 200:
                    raise SourceError(f"{remote.label}: cannot be fetched (HTTP {status})")
                with open_private(target) as out:
                    for chunk in response.iter_bytes(CHUNK):
                        out.write(chunk)
                return
        raise SourceError(
            f"{remote.label}: cannot be fetched (more than {MAX_REDIRECTS} redirects)"
        )

    def guarded() -> None:
        try:
            attempt()
        except httpx.TransportError as exc:
            if isinstance(exc, TlsError):
                raise SourceError(f"{remote.label}: cannot be fetched ({exc.why})") from None
            if classify_error(exc, idempotent=True) is Answer.RETRY:
                raise RetryableFailure(type(exc).__name__) from None
            raise SourceError(f"{remote.label}: cannot be fetched ({type(exc).__name__})") from None

    try:
        # The one policy, with fewer attempts and shorter waits: a file, not a run's rows.
        policy = RetryPolicy(max_attempts=4, max_rate_limited_attempts=8, backoff_base_s=0.5,
                             backoff_max_s=8.0)  # fmt: skip
        build_blocking_retrying(policy)(guarded)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        reason = last.reason if isinstance(last, RetryableFailure) else type(last).__name__
        raise SourceError(f"{remote.label}: cannot be fetched ({reason})") from None


def _checked_hop(url: str, label: str) -> bool:
    """Whether ``url`` is plain HTTP, once it is known to be a hop allowed at all: https, or
    plain HTTP to loopback; SourceError (naming only the hop's host) before it is sent."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme == "https" and host:
        return False
    if scheme == "http" and is_loopback(host):
        return True
    where = f"{scheme}://{host}" if host else scheme or "an address"
    raise SourceError(
        f"{label}: redirected to {where}, refused (https, or plain HTTP to loopback only)"
    )


def _root(url: str) -> str:
    """The store's root: ``scheme://bucket`` (``az://container``)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.partition('/')[0]}"


def _key(url: str) -> str:
    """An object's key: all after the bucket, as written (a ``?`` or ``#`` in a key, or in a
    glob over keys, is part of it: object URLs have no query)."""
    return url.split("://", 1)[1].partition("/")[2]


def _store(root: str) -> ObjectStore:
    """An object store for ``root``, configured from the environment as polars' would be."""
    from obstore.store import from_url

    options: dict[str, Any] = {"timeout": timedelta(minutes=5)}
    endpoint = _plain_endpoint(urlsplit(root).scheme.lower())
    if endpoint is not None:
        # A local store (MinIO, Azurite) over plain HTTP, loopback only, and never through a
        # proxy: the client takes HTTP(S)_PROXY from the environment unless given a proxy of
        # its own, so it is given one that every host it can reach here is excluded from.
        options["allow_http"] = True
        options["proxy_url"] = "http://127.0.0.1:9"
        options["proxy_excludes"] = f"{urlsplit(endpoint).hostname},localhost,127.0.0.0/8,::1"
    config: dict[str, Any] = {}
    if urlsplit(root).scheme.lower() in ("s3", "s3a") and "AWS_REGION" not in os.environ:
        config["region"] = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    store: ObjectStore = from_url(root, config=config or None, client_options=options)  # type: ignore[call-overload]
    return store


def _plain_endpoint(scheme: str) -> str | None:
    """A plain-HTTP endpoint the environment names for this store: allowed on loopback only."""
    if scheme.startswith(("az", "abfs", "adl")):
        if os.environ.get(AZURE_EMULATOR_VARIABLE, "").lower() not in ("1", "true"):
            return None
        variables: tuple[str, ...] = (AZURITE_URL_VARIABLE,)
        default: str | None = AZURITE_DEFAULT_URL
    elif scheme.startswith("s3"):
        variables, default = ENDPOINT_VARIABLES, None
    else:
        return None
    for variable in variables:
        value = os.environ.get(variable) or (default if variable == variables[-1] else None)
        if value and urlsplit(value).scheme == "http":
            if not is_loopback(urlsplit(value).hostname or ""):
                raise SourceError(
                    f"{variable} is plain HTTP to {urlsplit(value).hostname}: "
                    "allowed on loopback only; use https://"
                )
            return value
    return None


def _why(exc: Exception, label: str, scheme: str) -> str:
    """An obstore failure as one line: what went wrong, and where to look."""
    from obstore import exceptions as errors

    family = "s3" if scheme.startswith("s3") else "gs" if scheme == "gs" else "az"
    if isinstance(exc, FileNotFoundError | errors.NotFoundError):
        return f"{label}: no such file"
    if isinstance(exc, errors.PermissionDeniedError | errors.UnauthenticatedError):
        return f"{label}: access refused; check {CREDENTIAL_HINT[family]} in the environment"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # The store's own words, without any URL's query (a signature) or the object's path.
    first = re.sub(r"https?://\S+", lambda m: shown(m.group(0)), first)[:300]
    return f"{label}: cannot be fetched ({first})"


def _has_magic(text: str) -> bool:
    return _magic_at(text) < len(text)


def _magic_at(text: str) -> int:
    found = [i for i in (text.find(c) for c in "*?[") if i >= 0]
    return min(found, default=len(text))


def _glob_matcher(pattern: str) -> re.Pattern[str]:
    """A glob over keys as a shell reads it: ``*``, ``?`` and ``[...]`` stay within a segment,
    a ``**`` segment spans any number of them."""
    segments = pattern.split("/")
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
            continue
        regex += _segment_regex(segment) + ("" if last else "/")
    return re.compile(regex)


def _segment_regex(segment: str) -> str:
    out, i = "", 0
    while i < len(segment):
        char = segment[i]
        close = segment.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif close > 0:
            body = segment[i + 1 : close]
            body = "^" + body[1:] if body.startswith("!") else body
            out += "[" + body.replace("\\", "\\\\") + "]"
            i = close
        else:
            out += re.escape(char)
        i += 1
    return out
