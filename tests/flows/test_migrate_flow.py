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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.auth import CrmLogins
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess, kill_tree
from tests.helpers import (
    ENV,
    HEADER,
    KEY,
    PREFECT,
    ROOT,
    USER,
    ObjectStoreServer,
    export,
    on_server,
    people,
    postgres_schema,
    read_csv,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres_state() -> Iterator[str]:
    yield from postgres_schema("m")


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
        """kill -9 of the worker and every process under it: as when its machine dies."""
        kill_tree(self.processes[index].pid)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:  # a worker still winding down its runs
                kill_tree(process.pid)
                process.wait(10)
        for log in self.files:
            log.close()

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace")[-3000:] for p in self.tmp.glob("worker-*.log"))


@pytest.fixture
def migration_world(
    tmp_path: Path, shared_prefect_server: dict[str, str], postgres_state: str,
    s3_server: ObjectStoreServer,
) -> Iterator[tuple[SandboxProcess, Workers, dict[str, str], str]]:  # fmt: skip
    # Workers read the export from the object store with the credentials of their own
    # environment.
    # Workers look for work every 2 s, as the README has them started for a migration (10 s
    # by default: a dead shard's replacement would wait for it).
    env = {**shared_prefect_server, **ENV, **s3_server.env, "PREFECT_WORKER_QUERY_SECONDS": "2"}
    crm = CrmLogins(hubspot_tokens=(HUBSPOT_TOKEN,))
    with SandboxProcess(users={USER: KEY}, faults=FaultSettings(rate_limit=50, burst=5),
                        crm=crm) as api:  # fmt: skip
        workers = Workers(tmp_path, env, "migrate-pool")
        try:
            yield api, workers, env, postgres_state
        finally:
            workers.stop()


HUBSPOT_TOKEN = "pat-na1-migration-test-4b1e"


def migrate_args(api: SandboxProcess, source: str, state: str, out: Path) -> list[str]:
    return ["migrate", source, "--target", api.url, "--entity-id", "E1", "--state", state,
            "--shards", "4", "--work-pool", "migrate-pool", "--out", str(out)]  # fmt: skip


def test_a_migration_in_four_shards_survives_a_killed_worker_with_each_customer_once(
    tmp_path: Path, migration_world: tuple[SandboxProcess, Workers, dict[str, str], str],
    s3_server: ObjectStoreServer,
) -> None:  # fmt: skip
    api, workers, env, state = migration_world
    # A password in the store's URL (the test server trusts loopback, so any works): it must
    # reach every shard, and no flow run's parameters.
    state = state.replace("custsync@", f"custsync:{PG_PASSWORD}@", 1)
    assert PG_PASSWORD in state
    # The export is in a bucket, not on any worker's disk: each shard run fetches it itself.
    local = export(tmp_path / "export.csv", [*people(1000), ["X7", "", "", "", "", ""]])
    source = s3_server.put("migration", "exports/export.csv", local.read_bytes())
    local.unlink()
    out = tmp_path / "out"
    # The UUIDs go back into HubSpot (its stand-in) through its API: once, from the parent,
    # for every shard's customers; the shards push none.
    columns = "\n".join(f'"{c}" = "{c}"' for c in HEADER[1:])
    writeback = ('[writeback]\ncrm = "hubspot"\nid_column = "Record ID"\n'
                 'uuid_field = "verifone_customer_id"\n')  # fmt: skip
    mapping = tmp_path / "m.toml"
    mapping.write_text(f'external_id = "external_id"\n[columns]\n{columns}\n{writeback}')
    api.admin("POST", "/_sandbox/hubspot", {
        "records": {"contacts": [f"X{i}" for i in range(1000)]},
        "properties": {"contacts": ["verifone_customer_id"]},
    }).raise_for_status()  # fmt: skip
    crm_env = {"HUBSPOT_ACCESS_TOKEN": HUBSPOT_TOKEN, "HUBSPOT_API_URL": api.root}
    # The pool does not exist yet: migrate makes it, and its deployment; workers come later.
    # --verbose: each shard run's way (taken, first beat, given up) explains a stall below.
    args = ["--verbose", *migrate_args(api, source, state, out), "--mapping", str(mapping)]
    run = start_migrate(args, {**env, **crm_env})
    time.sleep(3)
    workers.start(2)
    deadline = time.monotonic() + 240
    while len(on_server(api)) < 200:  # shards on both workers are sending
        if run.poll() is not None:
            pytest.fail(
                f"migrate ended early:\n{finish(run, 10, workers)[-6000:]}\n{workers.logs()}"
            )
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(1)
    workers.kill(0)  # the way a machine dies: the worker and its process group, kill -9
    stderr = finish(run, 400, workers)
    assert run.returncode == 0, stderr[-3000:] + workers.logs()
    # One customer per id: X7's last occurrence (no name, no e-mail) is the one that counts,
    # rejected; none twice, none lost, though two shards died in the middle.
    customers = on_server(api)
    said = stderr[-3000:] + workers.logs()  # what a failure below is explained with
    assert len(customers) == 999, said
    assert len({c["email_address"] for c in customers}) == 999, said
    mapped = [m for m in read_csv(out / "mappings.csv") if m["customer_id"]]
    ids = [m["external_id"] for m in mapped]
    assert len(set(ids)) == len(ids) == 999 and "X7" not in ids, said
    assert {m["customer_id"] for m in mapped} == {c["id"] for c in customers}
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == 0 and report["rows_read"] == 1001, report
    assert {r["external_id"] for r in read_csv(out / "rejects.csv")} == {"X7"}
    given = {r["Record ID"]: r["verifone_customer_id"] for r in read_csv(out / "crm-update.csv")}
    assert given == {m["external_id"]: m["customer_id"] for m in mapped}, said
    assert report["crm_update_rows"] == report["crm_confirmed"] == 999, report
    assert report["crm_failed"] == 0 and not list((out / "shards").rglob("crm-update.csv"))
    held = api.admin("GET", "/_sandbox/hubspot").json()["records"]["contacts"]
    assert {k: v["verifone_customer_id"] for k, v in held.items() if "verifone_customer_id" in v} \
        == given  # fmt: skip
    assert HUBSPOT_TOKEN not in stderr + workers.logs()
    # The budget held: no 429 storm.
    assert report["rate_limited"] < 0.05 * report["requests"], report
    # And the dead worker cost seconds: from the first write to the last, no stretch of more
    # than 30 s (issue 30's bound) with fewer than a tenth of the limit's writes a second. The
    # live shards' runs, ending, take the replacements over in their own processes (4 s here
    # on a quiet machine: the give-up; the suite runs two at a time). Before: 0-12 s quiet and
    # up to 40 s in CI, a replacement waiting for a slot and a new process; earlier, a 30 s
    # give-up, a 10 s worker poll and a slow start, 45-60 s.
    per_second = writes_each_second(customers)
    shard_lines = [line for line in stderr.splitlines() if "shard " in line and "attempt" in line]
    assert stall_s(per_second, 5) <= 30, f"{per_second}\n" + "\n".join(shard_lines)
    assert "attempt 1:" in stderr, said  # the killed shards were seen and submitted again
    assert "taken over by the run of shard" in stderr, said  # by the live runs, as they ended
    assert "shards:" in stderr and "Traceback" not in stderr
    stored = stored_on_prefect(env)
    assert '"secrets_block": "custsync-secrets-' in stored  # the shards got it by reference
    assert PG_PASSWORD not in stored and PG_PASSWORD not in stderr + workers.logs()


def writes_each_second(customers: list[dict[str, Any]]) -> list[int]:
    """Customers created each second (their ``created_at``), from the first to the last."""
    from datetime import datetime

    stamps = [datetime.fromisoformat(c["created_at"]).timestamp() for c in customers]
    counts = [0] * (int(max(stamps) - min(stamps)) + 1)
    for stamp in stamps:
        counts[int(stamp - min(stamps))] += 1
    return counts


def stall_s(per_second: list[int], under: int) -> int:
    """The longest run of seconds with fewer than ``under`` writes."""
    longest = run = 0
    for count in per_second:
        run = run + 1 if count < under else 0
        longest = max(longest, run)
    return longest


PG_PASSWORD = "pg-s3cret-9c1f"


def stored_on_prefect(env: dict[str, str]) -> str:
    """Every flow run's parameters and every block's name on ``env``'s Prefect server, as
    JSON text; and no block of a run's secrets is left."""
    code = (
        "import asyncio, json\n"
        "from prefect.client.orchestration import get_client\n"
        "async def main():\n"
        "    async with get_client() as c:\n"
        "        runs = await c.read_flow_runs()\n"
        "        blocks = await c.read_block_documents()\n"
        "    print(json.dumps({'runs': [r.parameters for r in runs],\n"
        "                      'blocks': [b.name for b in blocks]}))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert not [n for n in json.loads(done.stdout)["blocks"] if n.startswith("custsync-secrets-")]
    return done.stdout


def finish(run: subprocess.Popen[str], timeout: float, workers: Workers) -> str:
    """The command's stderr once it ends; if it has not ended in ``timeout``, it is killed and
    the test fails with what it and the workers printed (and no pipe is left open)."""
    try:
        return run.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        run.kill()
        _, stderr = run.communicate()
        pytest.fail(f"migrate did not end in {timeout:.0f} s:\n{stderr[-6000:]}\n{workers.logs()}")


def start_migrate(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "flows", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
