"""Exactly once, whatever fails: fault storms, killed processes, a lost state store, deletes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.helpers import ENV, KEY, ROOT, USER, custsync, export, on_server, people, sync


def assert_exactly_once(server: SandboxProcess, mappings: list[dict[str, str]], n: int) -> None:
    server.set_faults(FaultSettings())  # the checker's own reads must not meet the faults
    customers = on_server(server)
    names = sorted(c["billing"]["last_name"] for c in customers)
    assert names == sorted(f"Lee{i}" for i in range(n)), "duplicates or gaps on the server"
    by_id = {c["id"]: c for c in customers}
    assert len(mappings) == n
    for mapping in mappings:
        customer = by_id[mapping["customer_id"]]  # the mapping points at a real customer...
        assert customer["billing"]["last_name"] == "Lee" + mapping["external_id"][1:]  # ...its own


@pytest.mark.slow
def test_fault_storm_every_row_exactly_once(tmp_path: Path) -> None:
    faults = FaultSettings(lost_response_rate=0.05, error_rate=0.10, reset_rate=0.03,
                           rate_limit=60, burst=10)  # fmt: skip
    with SandboxProcess(users={USER: KEY}, faults=faults, seed=11) as server:
        source = export(tmp_path / "a.csv", people(150))
        code, report, mappings, stderr = sync(server, tmp_path, source, "one")
        first = report
        if code != 0:  # rows that still failed after retries: the next run finishes them
            code, report, mappings, stderr = sync(server, tmp_path, source, "two")
        assert code == 0, stderr
        stats = server.stats()
        assert stats["lost_responses"] > 0 and stats["injected_errors"] > 0 and stats["resets"] > 0
        assert_exactly_once(server, mappings, 150)
        assert first["reconciliations"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_runs_never_duplicate_or_lose(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    faults = FaultSettings(latency_ms=15, lost_response_rate=0.05)
    with SandboxProcess(users={USER: KEY}, faults=faults, seed=seed) as server:
        source = export(tmp_path / "a.csv", people(120))
        for kill in range(2):
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("VERIFONE_")}, **ENV}
            process = subprocess.Popen(
                [sys.executable, "-m", "flows", "-q", "sync", str(source), "--target", server.url,
                 "--entity-id", "E1", "--state", str(tmp_path / "state.db"),
                 "--out", str(tmp_path / f"killed{kill}"), "--concurrency", "4"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(rng.uniform(2.5, 5.0))
            process.send_signal(signal.SIGKILL)
            process.wait()
        server.set_faults(FaultSettings(latency_ms=15))
        code, _, mappings, stderr = sync(server, tmp_path, source, "final")
        assert code == 0, stderr
        assert_exactly_once(server, mappings, 120)


def test_lost_state_store_with_match_on_adopts_and_creates_nothing(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        source = export(tmp_path / "a.csv", people(10))
        assert sync(server, tmp_path, source, "one")[0] == 0
        (tmp_path / "state.db").unlink()
        before = server.stats()["writes"].get("create", 0)
        code, report, mappings, _ = sync(
            server, tmp_path, source, "two", "--match-on", "email_address"
        )
        assert code == 0
        assert report["adopted"] == 10 and report["created"] == 0
        assert server.stats()["writes"].get("create", 0) == before
        assert_exactly_once(server, mappings, 10)


def test_match_on_several_candidates_is_a_conflict_not_a_guess(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        for _ in range(2):  # two customers made elsewhere (checkout) with the same e-mail
            httpx.post(f"{server.url}/v2/customer", auth=(USER, KEY), json={
                "entity_id": "E1", "email_address": "p0@example.com", "company_name": "Shop",
            }).raise_for_status()  # fmt: skip
        source = export(tmp_path / "a.csv", people(1))
        code, report, mappings, _ = sync(
            server, tmp_path, source, "one", "--match-on", "email_address"
        )
        assert code == 1 and report["failed"] == 1
        assert mappings[0]["status"] == "failed" and mappings[0]["customer_id"] == ""
        assert len(on_server(server)) == 2  # nothing created, nothing adopted


def test_delete_missing_is_guarded_and_shown_in_dry_run(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        rows = people(40)
        assert sync(server, tmp_path, export(tmp_path / "a.csv", rows), "one")[0] == 0
        fewer = export(tmp_path / "b.csv", rows[:-3])
        code, report, _, _ = sync(server, tmp_path, fewer, "dry", "--delete-missing", "--dry-run")
        assert code == 0 and report["plan"]["delete"] == 3
        before = server.stats()["requests"]
        code, _, _, stderr = sync(server, tmp_path, fewer, "refused", "--delete-missing")
        assert code == 2 and "refusing to delete 3" in stderr  # 3 > 5% of 40
        assert server.stats()["requests"] == before
        code, report, mappings, _ = sync(
            server, tmp_path, fewer, "two", "--delete-missing", "--max-deletes", "3"
        )
        assert code == 0 and report["deleted"] == 3
        assert len(on_server(server)) == 37
        gone = {m["status"] for m in mappings if m["external_id"] in ("X37", "X38", "X39")}
        assert gone == {"deleted"}


def test_a_bearer_token_expiring_mid_run_stops_cleanly_and_the_rerun_finishes(
    tmp_path: Path,
) -> None:
    secret = "a-test-secret-of-at-least-32-bytes!!"
    faults = FaultSettings(latency_ms=60)
    with SandboxProcess(jwt_secret=secret, faults=faults) as server:
        source = export(tmp_path / "a.csv", people(300))
        # Long enough to start sending (start-up takes seconds), short enough to expire midway.
        short = jwt.encode({"sub": "x", "exp": int(time.time()) + 7}, secret, "HS256")
        code, report, _, stderr = sync(server, tmp_path, source, "one", "--concurrency", "2",
                                       env={"VERIFONE_ACCESS_TOKEN": short})  # fmt: skip
        assert code == 1
        assert "expired" in stderr and short not in stderr
        assert 0 < report["created"] < 300
        fresh = jwt.encode({"sub": "x", "exp": int(time.time()) + 600}, secret, "HS256")
        code, report, mappings, stderr = sync(server, tmp_path, source, "two",
                                              env={"VERIFONE_ACCESS_TOKEN": fresh})  # fmt: skip
        assert code == 0, stderr
        assert len(on_server_bearer(server, fresh)) == 300
        assert len({m["customer_id"] for m in mappings}) == 300


def on_server_bearer(server: SandboxProcess, token: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/v2/customer", headers={"Authorization": f"Bearer {token}"},
                         params={"search": 'entity_id=="E1"', "page_size": 500})  # fmt: skip
    return response.json()


def test_a_briefly_locked_state_store_is_waited_for(tmp_path: Path) -> None:
    import sqlite3
    import threading

    with SandboxProcess(users={USER: KEY}) as server:
        source = export(tmp_path / "a.csv", people(5))
        assert sync(server, tmp_path, source, "one")[0] == 0
        lock = sqlite3.connect(tmp_path / "state.db", check_same_thread=False)
        lock.execute("BEGIN EXCLUSIVE")
        threading.Timer(2.0, lock.rollback).start()
        rows = people(5, city="Leeds")
        code, report, _, stderr = sync(server, tmp_path, export(tmp_path / "b.csv", rows), "two")
        assert code == 0, stderr
        assert report["updated"] == 5


def test_a_second_run_of_the_same_state_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    # The first run's requests take 4 s each until the second has been refused: it is sending
    # for as long as the test needs, however slowly the second starts; then it finishes fast.
    with SandboxProcess(users={USER: KEY}, faults=FaultSettings(latency_ms=4000)) as server:
        source = export(tmp_path / "a.csv", people(300))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("VERIFONE_")}, **ENV}
        first = subprocess.Popen(
            [sys.executable, "-m", "flows", "-q", "sync", str(source), "--target", server.url,
             "--entity-id", "E1", "--state", str(tmp_path / "state.db"),
             "--out", str(tmp_path / "first"), "--concurrency", "2"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.time() + 30
        while server.stats()["requests"] == 0 and time.time() < deadline:
            time.sleep(0.2)  # until the first run is sending
        code, _, _, stderr = sync(server, tmp_path, source, "second")
        assert code == 2 and "wait for it to finish" in stderr
        server.set_faults(FaultSettings())
        assert first.wait(timeout=120) == 0
        assert len(on_server(server)) == 300


def test_verbose_logs_carry_no_shopper_data_or_credentials(tmp_path: Path) -> None:
    faults = FaultSettings(lost_response_rate=0.5)
    with SandboxProcess(users={USER: "secret-api-key"}, faults=faults, seed=4) as server:
        source = export(tmp_path / "a.csv", people(6))
        env = {"VERIFONE_USER_UID": USER, "VERIFONE_API_KEY": "secret-api-key"}
        result = custsync("-v", "sync", str(source), "--target", server.url, "--entity-id", "E1",
                          "--state", str(tmp_path / "s.db"), "--out", str(tmp_path / "o"),
                          "--match-on", "email_address", env=env)  # fmt: skip
        assert result.returncode == 0, result.stderr
        from urllib.parse import unquote_plus

        logs = unquote_plus(result.stderr + result.stdout)  # URLs would carry them encoded
        assert "DEBUG" in logs  # -v did turn debug logging on
        assert "secret-api-key" not in logs
        for n in range(6):
            assert f"p{n}@example.com" not in logs and f"Lee{n}" not in logs
