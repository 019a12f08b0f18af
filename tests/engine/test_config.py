"""A run's configuration: the entity it fills in, and how it reads its exports."""

from __future__ import annotations

import pytest

from connectors.errors import InputError
from engine.config import LOCAL_ENTITY, SyncConfig, match_fields, profile_of, read_options


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


def test_flags_are_checked() -> None:
    assert profile_of("3ds") == "3ds"
    with pytest.raises(InputError, match="api or 3ds"):
        profile_of("strict")
    assert (
        read_options(None, "tab").delimiter == "\t" and read_options(None, "\\t").delimiter == "\t"
    )
    with pytest.raises(InputError, match="one character"):
        read_options(None, ";;")
    assert match_fields(["email_address, billing.last_name", "phone_number"]) == (
        "email_address", "billing.last_name", "phone_number",
    )  # fmt: skip
    for bad in (["entity_id"], ["e-mail"]):
        with pytest.raises(InputError, match="is not an API field"):
            match_fields(bad)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"rate_limit": 0.0}, "--rate-limit must be positive"),
        ({"rate_limit": float("nan")}, "--rate-limit must be positive"),
        ({"concurrency": 0}, "--concurrency must be at least 1"),
        ({"match_required": True}, "--match-required needs --match-on"),
        ({"max_rejected_pct": -1.0}, "--max-rejected must be a percentage"),
        ({"max_failed": -1}, "--max-failed must be 0 or more"),
        ({"crm_update": "all"}, "--crm-update must be changed or full"),
    ],
)
def test_a_config_the_flags_could_not_make_is_refused(flags: dict[str, object], message: str
                                                      ) -> None:  # fmt: skip
    # A deployment's parameters are held to what the CLI's flags are.
    with pytest.raises(InputError, match=message):
        SyncConfig.from_parameters({"sources": ["a.csv"], **flags})
    assert SyncConfig(sources=[], rate_limit=5.0, concurrency=1).rate_limit == 5.0
