"""Real gateway software in front of the sandbox, configured as people configure it: nginx
(``limit_req``, ``limit_conn``) and HAProxy (a stick table's ``http_req_rate``). For the tests
and benches that check custsync against what the world runs, not against the sandbox's own
limiters alone (Debian packages ``nginx-light`` and ``haproxy``; ``.ci/run`` installs them).

    with NginxGateway(sandbox.root, rate=50, burst=5) as gateway:
        gateway.url   # the Customer API's base URL behind nginx

nginx answers its limits 503 unless ``limit_req_status`` says otherwise, with no ``Retry-After``;
its ``limit_req`` is a leaky bucket (``burst`` queued, or passed at once with ``nodelay``).
HAProxy's ``http_req_rate(period)`` counts every request, refused ones too, over a sliding
period (the current one plus the previous one's weighted share).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit

from sandbox.openapi import BASE_PATH
from sandbox.process import terminate


def installed(program: str) -> bool:
    """Whether a gateway's program is on this machine (Debian puts them in /usr/sbin)."""
    return _program(program) is not None


def _program(program: str) -> str | None:
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Gateway:
    """A gateway process in the foreground of a private folder, in front of one upstream."""

    program = ""

    def __init__(self, upstream_root: str) -> None:
        parts = urlsplit(upstream_root)
        self.upstream = f"{parts.hostname}:{parts.port}"
        self.port = _free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = self.root + BASE_PATH
        self.folder = Path(tempfile.mkdtemp(prefix=f"custsync-{self.program}-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        """The command line that runs the gateway in the foreground."""
        raise NotImplementedError

    def start(self) -> Gateway:
        """Start it and wait until it listens (or fail with what it said)."""
        self._log = (self.folder / "stderr.log").open("wb")
        self._process = subprocess.Popen(self.command(), stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                said = (self.folder / "stderr.log").read_text(errors="replace")
                raise RuntimeError(f"{self.program} exited: {said[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.program} did not listen on {self.port}")

    def stop(self) -> None:
        """Stop it and remove its folder."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process)
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()


class NginxGateway(Gateway):
    """nginx with ``limit_req`` (a leaky bucket of ``rate`` r/s, ``burst`` queued or passed at
    once with ``nodelay``) and, optionally, ``limit_conn`` (``connections`` in flight), both
    answered ``status`` (nginx's default: 503)."""

    program = "nginx"

    def __init__(
        self, upstream_root: str, rate: float | None = None, burst: int = 0,
        nodelay: bool = False, connections: int | None = None, status: int = 503,
    ) -> None:  # fmt: skip
        super().__init__(upstream_root)
        self.rate, self.burst, self.nodelay = rate, burst, nodelay
        self.connections, self.status = connections, status

    def config(self) -> str:
        """nginx.conf: one server, proxying to the sandbox over kept-alive connections."""
        folder = self.folder
        # nginx takes whole requests per second or per minute: 12.5 r/s is 750r/m.
        zones = "limit_conn_zone $binary_remote_addr zone=conn:1m;\n"
        limits = ""
        if self.rate is not None:
            rate = f"{round(self.rate)}r/s" if self.rate >= 1 else f"{round(self.rate * 60)}r/m"
            zones += f"limit_req_zone $binary_remote_addr zone=api:1m rate={rate};\n"
            burst = f" burst={self.burst}" if self.burst else ""  # nginx refuses burst=0
            nodelay = " nodelay" if self.nodelay else ""
            limits += f"limit_req zone=api{burst}{nodelay};\nlimit_req_status {self.status};\n"
        if self.connections is not None:
            limits += f"limit_conn conn {self.connections};\nlimit_conn_status {self.status};\n"
        user = "user root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = "".join(f"{kind}_temp_path {folder}/{kind};\n" for kind in kinds)
        return f"""{user}worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
access_log off;
{temp}{zones}upstream sandbox {{ server {self.upstream}; keepalive 64; }}
server {{
listen 127.0.0.1:{self.port};
location / {{
{limits}proxy_pass http://sandbox;
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_set_header Host {self.upstream};
}}
}}
}}
"""

    def command(self) -> list[str]:
        """Nginx in the foreground, with this folder as its prefix."""
        (self.folder / "nginx.conf").write_text(self.config())
        program = _program("nginx")
        assert program is not None
        return [program, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")]


class HaproxyGateway(Gateway):
    """HAProxy tracking each client in a stick table: past ``limit`` requests in ``period_s``
    (``http_req_rate``, refused requests counted too), denied with ``status``; with
    ``headers``, telling what is left of the count on every answer."""

    program = "haproxy"

    def __init__(self, upstream_root: str, limit: int, period_s: int = 10,
                 status: int = 429, headers: bool = False) -> None:  # fmt: skip
        super().__init__(upstream_root)
        self.limit, self.period_s, self.status = limit, period_s, status
        self.headers = headers

    def _header_rules(self) -> str:
        """With ``headers``: the IETF draft's RateLimit-Limit/-Remaining/-Reset on every
        answer, refusals too (``http-after-response``, HAProxy 2.2 on): what is left of the
        count, and the period as the reset (the count falls under the limit within it)."""
        if not self.headers:
            return ""
        return f"""
    http-request set-var(txn.rate) sc_http_req_rate(0)
    http-after-response set-header RateLimit-Limit {self.limit}
    http-after-response set-header RateLimit-Remaining %[int({self.limit}),sub(txn.rate)] if {{ var(txn.rate) -m int le {self.limit} }}
    http-after-response set-header RateLimit-Remaining 0 if {{ var(txn.rate) -m int gt {self.limit} }}
    http-after-response set-header RateLimit-Reset {self.period_s}"""  # noqa: E501

    def config(self) -> str:
        """haproxy.cfg: one frontend with the stick table, one backend (the sandbox)."""
        return f"""global
    maxconn 2000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend api
    bind 127.0.0.1:{self.port}
    stick-table type ip size 100k expire {self.period_s * 3}s store http_req_rate({self.period_s}s)
    http-request track-sc0 src{self._header_rules()}
    http-request deny deny_status {self.status} if {{ sc_http_req_rate(0) gt {self.limit} }}
    default_backend sandbox
backend sandbox
    http-request set-header Host {self.upstream}
    server upstream {self.upstream}
"""

    def command(self) -> list[str]:
        """HAProxy in the foreground (``-db``)."""
        (self.folder / "haproxy.cfg").write_text(self.config())
        program = _program("haproxy")
        assert program is not None
        return [program, "-db", "-f", str(self.folder / "haproxy.cfg")]
