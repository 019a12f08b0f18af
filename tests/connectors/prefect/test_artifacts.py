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
    progress = artifacts["test-artifacts-progress"]
    assert progress.data == 100.0
    # A percentage alone does not say how many, nor how fast.
    assert progress.description is not None and progress.description.startswith("rows: 10 of 10,")
    assert progress.description.endswith("rows/s")
    assert artifacts["sync-summary"].data == "# done"
    # Escaped for the UI's markdown, where it shows as "no e-mail" (tests/e2e/...in_the_ui.py)
    assert r"no e\\-mail" in str(artifacts["sync-rejects"].data)
    what = artifacts["sync-rejects"].description or ""
    assert "left out (the customer sent)" in what and "rejected (not sent)" in what
