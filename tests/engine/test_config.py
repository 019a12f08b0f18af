"""A run's configuration: the entity it fills in, and how it reads its exports."""

from __future__ import annotations

import pytest

from engine.config import LOCAL_ENTITY, SyncConfig


def test_the_entity_comes_from_the_flag_then_the_environment_then_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VERIFONE_ENTITY_ID", raising=False)
    assert SyncConfig(sources=[]).resolved_entity() == LOCAL_ENTITY
    assert SyncConfig(sources=[], target="emea").resolved_entity() is None
    monkeypatch.setenv("VERIFONE_ENTITY_ID", " E-env ")
    assert SyncConfig(sources=[], target="emea").resolved_entity() == "E-env"
    assert SyncConfig(sources=[], entity_id="E-flag").resolved_entity() == "E-flag"


def test_source_spec_requires_an_entity_and_keeps_hashes_only_for_mirror_syncs() -> None:
    spec = SyncConfig(sources=["a.csv"], entity_id="E1", read_batch_rows=7).source_spec()
    assert (spec.entity, spec.entity_required, spec.keep_id_hashes, spec.batch_rows) == (
        "E1", True, False, 7,
    )  # fmt: skip
    assert SyncConfig(sources=[], delete_missing=True).source_spec().keep_id_hashes
