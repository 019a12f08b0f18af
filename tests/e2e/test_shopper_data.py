"""Shopper data is kept no longer than needed: a journalled body goes the moment its outcome is
known, and a run stopped by refused credentials leaves none (issue 14's review: 36 e-mails of a
40-row export were left in the state store)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import jwt

from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER, export, people, sync


def shopper_data_at_rest(state: Path) -> list[str]:
    """Every journalled body left in the store (each holds names, e-mails, addresses)."""
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT pending_body FROM customer_state WHERE pending_body IS NOT NULL")
        return [row[0] for row in rows.fetchall()]


def test_refused_credentials_leave_no_shopper_data(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        source = export(tmp_path / "a.csv", people(40))
        wrong = {"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": "wrong"}
        code, _, _, stderr = sync(server, tmp_path, source, "one", env=wrong)
        assert code == 1 and "refused" in stderr
        assert server.stats()["requests"] == 1  # the first request proved nothing more is sent
    assert shopper_data_at_rest(tmp_path / "state.db") == []
    assert b"@example.com" not in (tmp_path / "state.db").read_bytes()


def test_credentials_expiring_mid_run_leave_no_shopper_data(tmp_path: Path) -> None:
    secret = "a-test-secret-of-at-least-32-bytes!!"
    with SandboxProcess(jwt_secret=secret, faults=FaultSettings(latency_ms=40)) as server:
        # 8 in flight at 40 ms: 200 creates/s at most, 3,000 rows outlast the token's 6 s.
        source = export(tmp_path / "a.csv", people(3000))
        short = jwt.encode({"sub": "x", "exp": int(time.time()) + 6}, secret, "HS256")
        code, report, _, _ = sync(server, tmp_path, source, "one", "--concurrency", "8",
                                  env={"VERIFONE_ACCESS_TOKEN": short})  # fmt: skip
        assert code == 1 and 0 < report["created"] < 3000
    # Every create was either answered (made, recorded) or refused (made nothing): none is
    # left in doubt, so no body stays behind.
    assert shopper_data_at_rest(tmp_path / "state.db") == []


def test_files_holding_shopper_data_are_the_owners_alone(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}, db=tmp_path / "sandbox" / "s.db") as server:
        assert sync(server, tmp_path, export(tmp_path / "a.csv", people(3)), "one")[0] == 0
    for path in (tmp_path / "state.db", tmp_path / "sandbox" / "s.db"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (tmp_path / "sandbox").stat().st_mode & 0o777 == 0o700


def test_nothing_goes_to_a_proxy_over_plain_http(tmp_path: Path) -> None:
    # The review's repro: with HTTP_PROXY set, a sync to a plain-HTTP loopback target sent its
    # Authorization header and every shopper body to the proxy: 612 connections reached it.
    import socket
    import threading

    from tests.helpers import custsync

    listener = socket.create_server(("127.0.0.1", 0))
    reached: list[bytes] = []

    def proxy() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            reached.append(connection.recv(4096))
            connection.close()

    threading.Thread(target=proxy, daemon=True).start()
    port = listener.getsockname()[1]
    proxies = {name: f"http://127.0.0.1:{port}" for name in
               ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy")}  # fmt: skip
    try:
        with SandboxProcess(users={USER: KEY}) as server:
            source = export(tmp_path / "a.csv", people(20))
            env = {"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": KEY, **proxies}
            result = custsync("sync", str(source), "--target", server.url, "--entity-id", "E1",
                              "--state", str(tmp_path / "s.db"), "--out", str(tmp_path / "o"),
                              env=env)  # fmt: skip
            assert result.returncode == 0, result.stderr
            assert server.stats()["writes"]["create"] == 20
        local = custsync("sync", str(source), "--state", str(tmp_path / "local.db"), "--out",
                         str(tmp_path / "l"), env=proxies, cwd=tmp_path)  # fmt: skip
        assert local.returncode == 0, local.stderr
    finally:
        listener.close()
    assert reached == []
