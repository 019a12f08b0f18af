"""A flow run's artifacts, on a real (temporary) Prefect server."""

from __future__ import annotations

from prefect import flow

from connectors.prefect.artifacts import ProgressArtifact, publish_summary


@flow(name="custsync-test-artifacts", persist_result=False)
def a_run() -> int:
    artifact = ProgressArtifact("test-artifacts-progress", "rows")
    for done in (0, 1, 5, 10):
        artifact.update(done, 10)
    publish_summary("# done", [{"row": 2, "reason": "no e-mail"}])
    return 1


def test_progress_and_summary_artifacts_reach_the_server(prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client

    assert a_run() == 1
    with get_client(sync_client=True) as client:
        artifacts = {a.key: a for a in client.read_artifacts() if a.key}
    assert artifacts["test-artifacts-progress"].data == 100.0
    assert artifacts["sync-summary"].data == "# done"
    assert "no e-mail" in str(artifacts["sync-rejects"].data)
