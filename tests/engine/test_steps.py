"""The sync's steps over a real run context: plan, load, settle, and the deletion guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.errors import InputError
from engine import steps
from engine.config import SyncConfig
from engine.context import RunContext, open_run
from engine.runner import InlineRunner
from engine.session import ApiSession
from sandbox.process import SandboxProcess
from tests.helpers import export, people


@pytest.fixture
def run(
    api_credentials: None,
    sandbox_server: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RunContext]:
    import uuid

    source = export(tmp_path / "a.csv", people(4))
    config = SyncConfig(sources=[str(source)], target=sandbox_server.url,
                        entity_id=f"steps-{uuid.uuid4().hex[:8]}",
                        state=str(tmp_path / "state.db"), delete_missing=True)  # fmt: skip
    with open_run(config, InlineRunner(), "run-1", tmp_path / "out") as context:
        yield context


def valid_rows(run: RunContext):  # type: ignore[no-untyped-def]
    from engine.source import validate_batch

    batch = next(run.source.batches())
    return validate_batch(batch, run.source.census, run.source.spec).valid


def test_plan_load_and_plan_again(run: RunContext) -> None:
    planned = steps.plan(valid_rows(run), run.store)
    assert planned.get_column("action").to_list() == ["create"] * 4
    with ApiSession(run.target, None, None) as session:
        seen: list[str] = []
        loaded = steps.load_batch(planned, run, session, lambda o: seen.append(o.external_id))
    assert sorted(seen) == ["X0", "X1", "X2", "X3"] and loaded.error is None
    assert [o.status for o in loaded.outcomes] == ["created"] * 4
    assert loaded.counters.requests == 4
    again = steps.plan(valid_rows(run), run.store)
    assert again.get_column("action").to_list() == ["unchanged"] * 4


def test_settle_reconciles_creates_an_earlier_run_left_unanswered(run: RunContext) -> None:
    entity = run.config.entity_id or ""
    body = {"entity_id": entity, "company_name": "Never Sent Ltd"}
    run.store.journal.mark(entity, "GONE", "h", body, "crashed-run")
    with ApiSession(run.target, None, None) as session:
        settled = steps.settle(steps.no_deletions(), run, session)
    # It never reached the API: the intent is cleared and the id reported failed, not created.
    assert settled.outcomes == [] and run.store.journal.pending() == []
    state = run.store.customers.get(entity, "GONE")
    assert state is not None and state.status == "failed"


def test_deletions_are_guarded(run: RunContext) -> None:
    entity = run.config.entity_id or ""
    for n in range(30):
        run.store.customers.record(entity, f"OLD{n}", "created", "r0", f"uuid-{n}", "h")
    with pytest.raises(InputError, match="refusing to delete 30 customers"):
        steps.deletions(run)
    run.config = run.config.model_copy(update={"max_deletes": 30})
    assert steps.deletions(run).height == 30
