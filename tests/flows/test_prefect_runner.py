"""The Prefect runner: steps as tasks, progress and summary as artifacts (a real harness)."""

from __future__ import annotations

import asyncio
import logging

import polars as pl
import pytest

from schemas.report import SyncReport


def test_the_summary_markdown_has_the_consoles_rows() -> None:
    from schemas.run_summary import summary_markdown

    report = SyncReport(rows_read=3, created=2, requests=2, run_id="r1", target="local")
    text = summary_markdown(report)
    assert "| rows read | 3 |" in text and "| created | 2 |" in text
    assert text.count("\n| ") == len(report.summary_rows()) + 1  # the header row too
    assert "Target: `local`; run `r1`." in text
    dry = summary_markdown(SyncReport(dry_run=True, plan={"create": 5}))
    assert "dry run" in dry and "| would create | 5 |" in dry


@pytest.mark.slow
def test_steps_run_as_tasks_inside_a_flow(
    prefect_harness: None, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client

    from flows.prefect_runner import PrefectRunner

    @flow(name="runner-test", persist_result=False)
    def body() -> int:
        runner = PrefectRunner()
        total = runner.step("double", lambda x: 2 * x, 21)
        runner.progress(1, 2)
        runner.progress(2, 2)
        runner.publish(SyncReport(created=1), pl.DataFrame({"reason": ["duplicate"]}), "out/x")
        return total

    runs_log = logging.getLogger("prefect.flow_runs")  # Prefect's loggers do not propagate
    runs_log.addHandler(caplog.handler)
    try:
        assert body() == 42
    finally:
        runs_log.removeHandler(caplog.handler)

    async def read() -> tuple[set[str], set[str]]:
        async with get_client() as client:
            tasks = {t.name for t in await client.read_task_runs()}
            keys = {a.key for a in await client.read_artifacts() if a.key}
        return tasks, keys

    tasks, keys = asyncio.run(read())
    # A finished run's logs say what it did and where its files are.
    assert any(m.startswith("custsync: rows read 0") and "created 1" in m
               and m.endswith("artefacts in out/x") for m in caplog.messages)  # fmt: skip
    assert any(name.startswith("double") for name in tasks)
    assert {"sync-summary", "sync-rejects", "sync-progress"} <= keys


def test_a_custsync_error_keeps_to_its_one_line_where_a_worker_s_engine_reraises_it() -> None:
    """A worker's engine re-raises a Failed state's error and logs it with its traceback
    ("Engine execution exited with unexpected exception", ~40 lines): a custsync error's run
    log keeps its one line; any other error keeps its traceback (a bug must show). Checked by
    hand on a process worker too (the run's log: the error line, then Prefect's Failed line)."""
    from connectors.errors import SourceError
    from flows.prefect_runner import said_once

    said_once()
    said_once()  # idempotent: one filter
    runs_log = logging.getLogger("prefect.flow_runs")
    message = "Engine execution exited with unexpected exception"

    def record(error: BaseException) -> logging.LogRecord:
        return runs_log.makeRecord(runs_log.name, logging.ERROR, __file__, 1, message, (),
                                   (type(error), error, None))  # fmt: skip

    assert not runs_log.filter(record(SourceError("x.csv: no such file")))
    assert runs_log.filter(record(ValueError("a bug")))
    assert sum(type(f).__name__ == "_SaidOnce" for f in runs_log.filters) == 1


@pytest.mark.slow
def test_a_run_custsync_failed_logs_its_line_once(
    prefect_harness: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's log: custsync's line, then Prefect's last line without the line again (it
    said "Finished in state Failed('custsync: ...')"); the state keeps the message."""
    from prefect import flow

    from connectors.errors import SourceError
    from flows.prefect_runner import failed_in_one_line

    @flow(name="fails-in-one-line", persist_result=False)
    def body() -> object:
        return failed_in_one_line(SourceError("x.csv: no such file"))

    runs_log = logging.getLogger("prefect.flow_runs")
    runs_log.addHandler(caplog.handler)
    try:
        state = body(return_state=True)
    finally:
        runs_log.removeHandler(caplog.handler)
    # Each record once (caplog's own handler may see it too, where Prefect's loggers propagate).
    said = [r.getMessage() for r in {id(r): r for r in caplog.records}.values()]
    assert sum("x.csv: no such file" in m for m in said) == 1, said
    assert "Finished in state Failed (why: the line above)" in said
    assert state.is_failed() and state.message == "custsync: x.csv: no such file"
