"""``custsync migrate`` for real: a ``prefect server start``, a process work pool, two workers,
PostgreSQL, the sandbox limited to 50/s; one migration that runs to the end, one whose worker
is killed (its process group, ``kill -9``) in the middle of a shard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.conftest import POSTGRES_URL, export, people, read_csv
from tests.flows.conftest import ENV, KEY, PREFECT, ROOT, USER, on_server

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres_state() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("set CUSTSYNC_TEST_POSTGRES_URL (.ci/run starts a server) for PostgreSQL")
    import psycopg

    schema = f"m_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


class Workers:
    """Prefect workers of one pool, each in a process group of its own (so it can be killed
    the way a machine dies: the worker and every flow run it started)."""

    def __init__(self, tmp: Path, env: dict[str, str], pool: str) -> None:
        self.tmp, self.env, self.pool = tmp, env, pool
        self.processes: list[subprocess.Popen[bytes]] = []
        self.files: list[Any] = []

    def start(self, count: int) -> None:
        for _ in range(count):
            log = (self.tmp / f"worker-{len(self.processes)}.log").open("wb")
            self.files.append(log)
            self.processes.append(subprocess.Popen(
                [*PREFECT, "worker", "start", "--pool", self.pool, "--limit", "2"], cwd=ROOT,
                env=self.env, stdout=log, stderr=log, start_new_session=True))  # fmt: skip

    def kill(self, index: int) -> None:
        os.killpg(self.processes[index].pid, signal.SIGKILL)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
        for log in self.files:
            log.close()

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace")[-3000:] for p in self.tmp.glob("worker-*.log"))


@pytest.fixture
def migration_world(
    tmp_path: Path, prefect_server: dict[str, str], postgres_state: str
) -> Iterator[tuple[SandboxProcess, Workers, dict[str, str], str]]:
    env = {**prefect_server, **ENV}
    with SandboxProcess(users={USER: KEY}, faults=FaultSettings(rate_limit=50, burst=5)) as api:
        workers = Workers(tmp_path, env, "migrate-pool")
        try:
            yield api, workers, env, postgres_state
        finally:
            workers.stop()


def migrate_args(api: SandboxProcess, source: Path, state: str, out: Path) -> list[str]:
    return ["migrate", str(source), "--target", api.url, "--entity-id", "E1", "--state", state,
            "--shards", "4", "--work-pool", "migrate-pool", "--out", str(out)]  # fmt: skip


def test_a_migration_in_four_shards_on_two_workers_creates_each_customer_once(
    tmp_path: Path, migration_world: tuple[SandboxProcess, Workers, dict[str, str], str]
) -> None:
    api, workers, env, state = migration_world
    source = export(tmp_path / "export.csv", [*people(1000), ["X7", "", "", "", "", ""]])
    # The pool does not exist yet: migrate makes it, and its deployment; workers may come later.
    out = tmp_path / "out"
    started = time.monotonic()
    run = start_migrate(migrate_args(api, source, state, out), env)
    time.sleep(8)
    workers.start(2)
    _, stderr = run.communicate(timeout=400)
    assert run.returncode == 0, stderr[-3000:] + workers.logs()
    customers = on_server(api)
    # One per id: X7's last occurrence (no name, no e-mail) is the one that counts, rejected.
    assert len(customers) == 999
    mapped = [m for m in read_csv(out / "mappings.csv") if m["customer_id"]]
    ids = [m["external_id"] for m in mapped]
    assert len(set(ids)) == len(ids) == 999 and "X7" not in ids
    assert {m["customer_id"] for m in mapped} == {c["id"] for c in customers}
    report = json.loads((out / "report.json").read_text())
    assert report["created"] == 999 and report["failed"] == 0 and report["rows_read"] == 1001
    assert {r["external_id"] for r in read_csv(out / "rejects.csv")} == {"X7"}
    assert report["rate_limited"] < 0.05 * report["requests"]  # the budget held: no 429 storm
    assert time.monotonic() - started > 1000 / 50  # and the limit was the bound
    assert "shards:" in stderr and "Traceback" not in stderr


def test_a_killed_worker_costs_nothing(
    tmp_path: Path, migration_world: tuple[SandboxProcess, Workers, dict[str, str], str]
) -> None:
    api, workers, env, state = migration_world
    source = export(tmp_path / "export.csv", people(1500))
    out = tmp_path / "out"
    workers.start(2)
    run = start_migrate(migrate_args(api, source, state, out), env)
    deadline = time.monotonic() + 240
    while len(on_server(api)) < 300:  # shards on both workers are sending
        assert time.monotonic() < deadline and run.poll() is None, workers.logs()
        time.sleep(1)
    workers.kill(0)
    _, stderr = run.communicate(timeout=400)
    assert run.returncode == 0, stderr[-3000:] + workers.logs()
    customers = on_server(api)
    by_id = [c["merchant_customer_id"] for c in customers if "merchant_customer_id" in c]
    assert len(customers) == 1500, "a duplicate or a lost customer"
    assert len(read_csv(out / "mappings.csv")) == 1500
    assert "retrying" in stderr or "no heartbeat" in stderr
    del by_id


def start_migrate(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "flows", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
