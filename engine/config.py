"""What a run of the engine is asked to do, as one typed value: the CLI builds it from its flags,
a deployment stores it as its ``config`` parameter, and the flow receives it as it is (Prefect
validates a pydantic model parameter). It is checked once, here; an error names the field, and
the CLI names the flag.

A migration's shard gets the same config, and its ``ShardAssignment`` beside it.

Prefect keeps every flow run's parameters, and shows them to whoever reads its API. So a config
that travels through Prefect holds no secret: ``apart`` takes a pre-signed URL's signature and a
PostgreSQL password out of ``sources`` and ``state``, a Prefect Secret block named in
``secrets_block`` holds them, and ``joined`` puts them back where the run happens.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.api.targets import LOCAL
from connectors.errors import ConfigError, InputError
from connectors.sources.export_files import ReadOptions
from connectors.sources.remote_files import is_url, public_source
from connectors.state.db import DEFAULT_STATE, public_location
from engine.source import READ_BATCH_ROWS, SourceSpec
from schemas.api_fields import FIELDS_BY_PATH
from schemas.normalize import Profile
from schemas.shards import Shard

LOCAL_ENTITY = "custsync-local"
DELIMITER_NAMES = {"\\t": "\t", "tab": "\t"}


class SyncConfig(BaseModel):
    """Everything a sync (or backfill) run needs to know."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: list[str] = Field(description="The exports: paths, globs or URLs.")
    mapping: Path | None = Field(default=None, description="The column mapping file (TOML).")
    target: str = Field(default=LOCAL, description="A named target, a URL, or local.")
    entity_id: str | None = Field(
        default=None, description="The entity of every row without its own."
    )
    state: str = Field(default=DEFAULT_STATE, description="SQLite path or postgresql:// URL.")
    out: Path | None = Field(
        default=None, description="The artefact folder (default out/<run id>)."
    )
    rate_limit: float | None = Field(default=None, description="Requests a second the API allows.")
    concurrency: int | None = Field(default=None, description="Requests in flight at most.")
    dry_run: bool = Field(default=False, description="Plan only; send and change nothing.")
    profile: Profile = Field(default="api", description="api, or 3ds: also 3-D Secure's rules.")
    encoding: str | None = Field(default=None, description="The exports' encoding (default UTF-8).")
    delimiter: str | None = Field(default=None, description="The CSV delimiter (default: detect).")
    match_on: tuple[str, ...] = Field((), description="API fields to adopt existing customers by.")
    match_required: bool = Field(
        default=False, description="Reject a row whose match fields are empty."
    )
    delete_missing: bool = Field(
        default=False, description="Delete customers that left the export."
    )
    max_deletes: int | None = Field(
        default=None, ge=0, description="Deletions allowed (default 5%)."
    )
    strict: bool = Field(default=False, description="Reject a row for any invalid value.")
    new_target: bool = Field(default=False, description="Forget the mappings of another target.")
    ignore_existing: bool = Field(
        default=False, description="A new entity's customers the API holds are not the export's."
    )
    crm_update: str = Field(default="changed", description="changed UUIDs since the last, or full.")
    max_rejected_pct: float | None = Field(default=None, description="Fail past this % rejected.")
    max_failed: int = Field(default=0, description="Failed rows tolerated (0: any fails the run).")
    batch_size: int = Field(
        default=2_000, ge=1, description="Rows a load step sends (a task each)."
    )
    read_batch_rows: int = Field(default=READ_BATCH_ROWS, ge=1, description="Rows read at a time.")
    secrets_block: str | None = Field(
        default=None,
        description="A Prefect Secret block holding sources and state in full (signed URLs, "
        'a password), which this config holds without: JSON {"sources": [...], "state": ...}.',
    )

    @field_validator("rate_limit")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and not value > 0:  # NaN too
            raise ValueError("must be positive")
        return value

    @field_validator("concurrency")
    @classmethod
    def _at_least_one(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("profile", mode="before")
    @classmethod
    def _profile(cls, value: Any) -> Any:
        if value not in ("api", "3ds"):
            raise ValueError(f"must be api or 3ds, not {value!r}")
        return value

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = DELIMITER_NAMES.get(value, value)
        if len(value) != 1:
            raise ValueError("must be one character (or 'tab')")
        return value

    @field_validator("match_on", mode="before")
    @classmethod
    def _match_fields(cls, value: Any) -> tuple[str, ...]:
        """Repeated or comma-separated, each an API field."""
        values = [value] if isinstance(value, str) else list(value or [])
        fields = tuple(f.strip() for item in values for f in str(item).split(",") if f.strip())
        for name in fields:
            if name not in FIELDS_BY_PATH or name == "entity_id":
                raise ValueError(f"{name!r} is not an API field")
        return fields

    @field_validator("crm_update")
    @classmethod
    def _crm_update(cls, value: str) -> str:
        if value not in ("changed", "full"):
            raise ValueError(f"must be changed or full, not {value!r}")
        return value

    @field_validator("max_rejected_pct")
    @classmethod
    def _percentage(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 100:
            raise ValueError("must be a percentage, 0 to 100")
        return value

    @field_validator("max_failed")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or more")
        return value

    @model_validator(mode="after")
    def _match_required_needs_fields(self) -> SyncConfig:
        if self.match_required and not self.match_on:
            raise ValueError("match_required needs {match_on}")
        return self

    @classmethod
    def checked(cls, **values: Any) -> SyncConfig:
        """A config from these values, or ConfigError naming every field that is wrong."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(_problems(exc)) from None

    def apart(self) -> tuple[SyncConfig, dict[str, Any] | None]:
        """This config as a flow run may keep it (no signature, no password), and what was
        taken out (the sources and state in full), or None if nothing was."""
        sources = [public_source(source) for source in self.sources]
        state = public_location(self.state)
        if sources == self.sources and state == self.state:
            return self, None
        public = self.model_copy(update={"sources": sources, "state": state})
        return public, {"sources": list(self.sources), "state": self.state}

    def joined(self, held: Mapping[str, Any]) -> SyncConfig:
        """This config with the sources and state ``secrets_block`` holds in full. They must be
        the ones this config names: a block is a place for secrets, not for other exports."""
        sources, state = held.get("sources", self.sources), held.get("state", self.state)
        if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)
                and isinstance(state, str)):  # fmt: skip
            raise InputError(
                f"the Secret block {self.secrets_block!r} must hold JSON "
                '{"sources": ["..."], "state": "..."}'
            )
        named = [_place(source) for source in self.sources]
        if [_place(source) for source in sources] != named or public_location(
            state
        ) != public_location(self.state):
            raise InputError(
                f"the Secret block {self.secrets_block!r} holds other sources or another state "
                "than the config names (they may differ only by signatures and passwords)"
            )
        return self.model_copy(update={"sources": sources, "state": state, "secrets_block": None})

    @property
    def read_options(self) -> ReadOptions:
        """How the exports are read."""
        return ReadOptions(self.encoding, self.delimiter)

    def resolved_entity(self) -> str | None:
        """entity_id, else VERIFONE_ENTITY_ID, else (local target only) a fixed local entity."""
        entity = self.entity_id or os.environ.get("VERIFONE_ENTITY_ID", "").strip() or None
        if entity is None and self.target == LOCAL:
            return LOCAL_ENTITY
        return entity

    def source_spec(self, shard: Shard | None = None) -> SourceSpec:
        """How this run reads and checks its exports (every row needs an entity); a shard's
        run reads its shard's rows."""
        return SourceSpec(
            sources=self.sources,
            mapping_path=self.mapping,
            read_options=self.read_options,
            profile=self.profile,
            entity=self.resolved_entity(),
            entity_required=True,
            keep_id_hashes=self.delete_missing,
            strict=self.strict,
            batch_rows=self.read_batch_rows,
            match_on=self.match_on if not self.dry_run else (),
            shard=shard,
        )


class ShardAssignment(BaseModel):
    """One attempt of one shard of a migration, as the migration's parent hands it out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shard: Shard
    migration_id: str
    attempt: int = Field(ge=1)


def shard_folder(shard: Shard, attempt: int) -> str:
    """The folder one attempt of a shard writes its artefacts in, under its migration's."""
    digest = hashlib.sha256(shard.entity.encode()).hexdigest()[:8]
    return f"{digest}-{shard.index + 1:03d}-of-{shard.count}-a{attempt}"


def _place(source: str) -> str:
    """Where a source is, for comparing two spellings of it: a URL without its secrets, a path
    made absolute (a migration hands its shards absolute paths; the block may hold them as
    the command was given, relative to the project folder every worker runs in)."""
    return public_source(source) if is_url(source) else str(Path(source).resolve())


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """(field, what is wrong) for each error pydantic found; a check of several fields names
    them in its message."""
    found = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "config"
        message = item["msg"].removeprefix("Value error, ")
        if field == "config" and " " in message:  # "match_required needs match_on"
            field, _, message = message.partition(" ")
        found.append((field, message[:1].lower() + message[1:]))
    return found
