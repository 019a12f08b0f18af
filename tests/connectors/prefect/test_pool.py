"""The work pool as a migration's shard pool, on a real (temporary) Prefect server."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from prefect import flow

from connectors.prefect.artifacts import ProgressArtifact
from connectors.prefect.pool import PrefectShardPool, ensure_process_pool


@flow(name="custsync-test-shard", persist_result=False)
def a_shard() -> int:
    artifact = ProgressArtifact("test-progress", "rows")
    for done in (0, 1, 5, 10):
        artifact.update(done, 10)
    return 1


def test_a_missing_pool_is_made_once(prefect_harness: None) -> None:
    name = f"pool-{uuid.uuid4().hex[:6]}"
    assert ensure_process_pool(name) is True
    assert ensure_process_pool(name) is False


def test_a_pool_made_by_someone_else_meanwhile_is_no_error(prefect_harness: None) -> None:
    # Workers started with the migration make the pool they poll if it is missing: whoever
    # comes second finds it made, whichever way the calls interleave.
    name = f"pool-{uuid.uuid4().hex[:6]}"
    with ThreadPoolExecutor(8) as starting:
        made = list(starting.map(lambda _: ensure_process_pool(name), range(8)))
    assert sorted(made) == [False] * 7 + [True]


def test_a_run_given_up_is_crashed_and_its_state_is_read(prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client

    assert a_shard() == 1  # the progress artifact made once, then updated
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(a_shard)
        artifacts = {a.key for a in client.read_artifacts() if a.key}
    assert "test-progress" in artifacts
    pool = PrefectShardPool("custsync-test-shard/none")
    assert pool.states([]) == {}
    assert pool.states([str(run.id)])[str(run.id)][0] in ("PENDING", "SCHEDULED")
    pool.give_up(str(run.id), "no heartbeat for 30 s (its worker stopped)")
    assert pool.states([str(run.id)])[str(run.id)] == (
        "CRASHED", "no heartbeat for 30 s (its worker stopped)")  # fmt: skip
