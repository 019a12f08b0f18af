"""A run's configuration: the entity it fills in, and how it reads its exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import ConfigError, InputError
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


def test_values_the_flags_take_are_read_as_the_flags_mean_them() -> None:
    match_on = ["email_address, billing.last_name", "phone_number"]
    config = SyncConfig.checked(
        sources=["a.csv"], profile="3ds", delimiter="tab", match_on=match_on
    )
    assert config.profile == "3ds" and config.read_options.delimiter == "\t"
    assert SyncConfig(sources=[], delimiter="\\t").delimiter == "\t"
    assert config.match_on == ("email_address", "billing.last_name", "phone_number")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"rate_limit": 0.0}, "rate_limit", "must be positive"),
        ({"rate_limit": float("nan")}, "rate_limit", "must be positive"),
        ({"concurrency": 0}, "concurrency", "must be at least 1"),
        ({"match_required": True}, "match_required", "needs {match_on}"),
        ({"max_rejected_pct": -1.0}, "max_rejected_pct", "must be a percentage, 0 to 100"),
        ({"max_failed": -1}, "max_failed", "must be 0 or more"),
        ({"crm_update": "all"}, "crm_update", "must be changed or full, not 'all'"),
        ({"profile": "strict"}, "profile", "must be api or 3ds, not 'strict'"),
        ({"delimiter": ";;"}, "delimiter", "must be one character (or 'tab')"),
        ({"match_on": ["entity_id"]}, "match_on", "'entity_id' is not an API field"),
        ({"match_on": ["e-mail"]}, "match_on", "'e-mail' is not an API field"),
        ({"max_deletes": -2}, "max_deletes", "input should be greater than or equal to 0"),
        ({"colour": "red"}, "colour", "extra inputs are not permitted"),
    ],
)
def test_a_config_is_checked_once_and_its_errors_name_the_field(
    values: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        SyncConfig.checked(sources=["a.csv"], **values)
    assert refused.value.problems == [(field, message)]
    assert isinstance(refused.value, InputError)  # exit 2, nothing sent


def test_every_wrong_field_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as refused:
        SyncConfig.checked(sources=["a.csv"], rate_limit=-1, max_failed=-1)
    assert [field for field, _ in refused.value.problems] == ["rate_limit", "max_failed"]
    assert str(refused.value) == "rate_limit must be positive; max_failed must be 0 or more"


def test_a_config_is_a_value() -> None:
    config = SyncConfig(sources=["a.csv"], rate_limit=5.0, concurrency=1)
    with pytest.raises(Exception, match="frozen"):
        config.rate_limit = 6.0  # type: ignore[misc]
    assert config == SyncConfig(sources=["a.csv"], rate_limit=5.0, concurrency=1)


SIGNED = "https://bucket.s3.amazonaws.com/nightly/export.csv?X-Amz-Signature=abc123&X-Amz-Credential=AKIA"
PG = "postgresql://sync:pg-s3cret@db.internal:5432/custsync?sslmode=require&password=pg-s3cret"


def test_a_config_comes_apart_from_its_signatures_and_passwords_and_joins_them_again() -> None:
    config = SyncConfig(sources=[SIGNED, "s3://b/nightly/*.csv", "local.csv"], state=PG)
    public, held = config.apart()
    stored = public.model_dump_json()
    assert "abc123" not in stored and "AKIA" not in stored and "s3cret" not in stored
    assert public.sources == [
        "https://bucket.s3.amazonaws.com/nightly/export.csv", "s3://b/nightly/*.csv", "local.csv"
    ]  # fmt: skip
    assert public.state == "postgresql://sync@db.internal:5432/custsync?sslmode=require"
    assert held == {"sources": config.sources, "state": PG}
    back = public.model_copy(update={"secrets_block": "b"}).joined(held)
    assert back == config  # secrets_block unset again: the run works with it all
    # Nothing secret: the same config, and no block needed.
    plain = SyncConfig(sources=["s3://b/x?.csv", "a.csv"], state="postgresql://h/db")
    assert plain.apart() == (plain, None)


def test_a_block_holding_other_exports_than_the_config_names_is_refused() -> None:
    public, held = SyncConfig(sources=[SIGNED], state=PG).apart()
    assert held is not None
    public = public.model_copy(update={"secrets_block": "run-secrets"})
    with pytest.raises(InputError, match="other sources or another state"):
        public.joined({**held, "sources": ["https://evil.example/export.csv?sig=1"]})
    with pytest.raises(InputError, match="other sources or another state"):
        public.joined({**held, "state": "postgresql://sync:x@elsewhere/db"})
    with pytest.raises(InputError, match="must hold JSON"):
        public.joined({"sources": "not a list"})


def test_a_migration_shard_joins_its_absolute_paths_with_a_block_holding_them_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command keeps the sources as given (relative to the project folder); its shards get
    # them absolute (every worker runs in that folder).
    monkeypatch.chdir(tmp_path)
    public, held = SyncConfig(sources=["exports/a.csv", SIGNED], state=PG).apart()
    assert held is not None
    absolute = [str(tmp_path / "exports/a.csv"), public.sources[1]]
    shard = public.model_copy(update={"sources": absolute, "secrets_block": "b"})
    assert shard.joined(held).sources == ["exports/a.csv", SIGNED]
