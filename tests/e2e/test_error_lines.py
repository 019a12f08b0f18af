"""Every error is one clear line with its exit code, and a run that ends by an error is
recorded as failed, never left ``running`` (issue 14's review, each case reproduced)."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import CannedAnswer, OddServer, custsync, export, people

ENV = {"VERIFONE_USER_UID": "u", "VERIFONE_API_KEY": "secret-key-123"}


def runs_of(state: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(state) as db:
        return db.execute("SELECT command, status FROM sync_run").fetchall()


@pytest.mark.parametrize(
    "answer",
    [
        CannedAnswer(200, b"<html><body>Sign in to the hotel Wi-Fi</body></html>",
               {"Content-Type": "text/html"}),
        CannedAnswer(200, b"not json at all", {"Content-Type": "application/json"}),
        CannedAnswer(200, b"[1, 2", {"Content-Type": "application/json"}),
    ],
)  # fmt: skip
def test_an_api_answering_what_no_api_does_stops_in_one_line_recorded_failed(
    tmp_path: Path, odd_server: OddServer, answer: CannedAnswer
) -> None:
    odd_server.answers = [answer]
    state = tmp_path / "s.db"
    result = custsync("sync", str(export(tmp_path / "a.csv", people(40))), "--target",
                      odd_server.url, "--entity-id", "E1", "--state", str(state), "--out",
                      str(tmp_path / "o"), env=ENV)  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("custsync: error")]
    assert len(lines) == 1 and "unexpected" not in lines[0] and "Traceback" not in result.stderr
    assert runs_of(state) == [("sync", "failed")]
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["created"] == 0


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_a_run_stopped_by_sigterm_is_recorded_failed_and_keeps_what_it_did(
    tmp_path: Path, sigint: str
) -> None:
    # "ignored": as a POSIX shell starts a script's background job. SIGTERM was relayed as a
    # SIGINT, which such a process ignores: it sent every row and exited 0.
    import os
    import signal
    import subprocess
    import sys
    import time

    from sandbox.faults import FaultSettings
    from sandbox.process import SandboxProcess
    from tests.helpers import ROOT

    state = tmp_path / "s.db"
    with SandboxProcess(
        users={"u": "secret-key-123"}, faults=FaultSettings(latency_ms=50)
    ) as server:
        source = export(tmp_path / "a.csv", people(2000))
        run = subprocess.Popen(
            [sys.executable, "-m", "flows", "sync", str(source), "--target", server.url,
             "--entity-id", "E1", "--state", str(state), "--out", str(tmp_path / "o"),
             "--concurrency", "4"],
            env={**os.environ, **ENV}, cwd=ROOT, stderr=subprocess.PIPE, text=True,
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
            if sigint == "ignored" else None,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while server.stats()["writes"].get("create", 0) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        if sigint == "ignored":  # a Ctrl-C meant for the script's foreground: still ignored
            run.send_signal(signal.SIGINT)
            time.sleep(1)
            assert run.poll() is None
        run.send_signal(signal.SIGTERM)  # a worker cancelling the flow run does this
        _, stderr = run.communicate(timeout=60)
        created = server.stats()["writes"].get("create", 0)
    assert run.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert created < 2000
    assert runs_of(state) == [("sync", "failed")]
    with sqlite3.connect(state) as db:
        kept = db.execute("SELECT COUNT(*) FROM customer_state WHERE customer_id IS NOT NULL")
        assert 0 < kept.fetchone()[0] <= created


@pytest.mark.parametrize(
    ("target", "why", "where"),
    [
        ("http://127.0.0.1:{port}/oidc/customer-service", "connection refused", "127.0.0.1:{port}"),
        ("https://no-such-host.invalid/oidc/customer-service", "no such host",
         "no-such-host.invalid:443"),
    ],
)  # fmt: skip
def test_an_api_never_reached_stops_at_the_first_request_naming_why(
    tmp_path: Path, target: str, why: str, where: str
) -> None:
    """Before: 2,360 attempts over 133 s, then every row failed 'ConnectTimeout' (it was a
    refused connection). Now the first request's failure is the run's, in one line."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    state = tmp_path / "s.db"
    result = custsync("sync", str(export(tmp_path / "a.csv", people(40))), "--target",
                      target.format(port=port), "--entity-id", "E1", "--state", str(state),
                      "--out", str(tmp_path / "o"), env=ENV)  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("custsync: error")]
    said = f"{where.format(port=port)}: {why}; check --target and the network"
    assert lines == [f"custsync: error: cannot reach the Customer API at {said}"]
    assert "Traceback" not in result.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["requests"] == 1 and report["failed"] == 0
    with sqlite3.connect(state) as db:  # nothing journalled: no shopper data left behind
        assert db.execute("SELECT COUNT(*) FROM customer_state").fetchone() == (0,)
    assert runs_of(state) == [("sync", "failed")]
