"""What a run of the engine is asked to do: built from the CLI's flags or a flow's parameters."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.api.targets import LOCAL
from connectors.errors import InputError
from connectors.sources.export_files import ReadOptions
from connectors.state.db import DEFAULT_STATE
from engine.source import READ_BATCH_ROWS, SourceSpec
from schemas.api_fields import FIELDS_BY_PATH
from schemas.normalize import Profile
from schemas.shards import Shard

LOCAL_ENTITY = "custsync-local"


@dataclass
class SyncConfig:
    """Everything a sync (or backfill) run needs to know."""

    sources: list[str]
    mapping_path: Path | None = None
    target: str = LOCAL
    entity_id: str | None = None
    state: str = DEFAULT_STATE
    out_dir: Path | None = None
    rate_limit: float | None = None
    concurrency: int | None = None
    dry_run: bool = False
    profile: Profile = "api"
    read_options: ReadOptions = field(default_factory=ReadOptions)
    batch_size: int = 2_000  # rows a load step sends (one Prefect task each)
    read_batch_rows: int = READ_BATCH_ROWS  # rows read, validated and planned at a time
    match_on: tuple[str, ...] = ()
    match_required: bool = False  # --match-on: a row with a match field empty is rejected
    delete_missing: bool = False
    max_deletes: int | None = None
    strict: bool = False  # any invalid value rejects its row (else it is left out)
    new_target: bool = False  # forget mappings of another target the store holds (targets.py)
    crm_update: str = "changed"  # with a [writeback]: "changed" UUIDs since the last, or "full"
    max_rejected_pct: float | None = None  # fail the run past this share of rows rejected
    max_failed: int = 0  # failed rows tolerated before the run fails (0: any fails it)
    shard: Shard | None = None  # one shard of a migration (custsync migrate)...
    migration: tuple[str, int] | None = None  # ...of this migration id, in this attempt

    def __post_init__(self) -> None:
        # Checked here, so a flow's parameters are held to what the CLI's flags are.
        if self.rate_limit is not None and not self.rate_limit > 0:  # NaN too
            raise InputError("--rate-limit must be positive")
        if self.concurrency is not None and self.concurrency < 1:
            raise InputError("--concurrency must be at least 1")
        if self.match_required and not self.match_on:
            raise InputError("--match-required needs --match-on")
        if self.max_rejected_pct is not None and not 0 <= self.max_rejected_pct <= 100:
            raise InputError("--max-rejected must be a percentage, 0 to 100")
        if self.max_failed < 0:
            raise InputError("--max-failed must be 0 or more")
        if self.crm_update not in ("changed", "full"):
            raise InputError(f"--crm-update must be changed or full, not {self.crm_update!r}")

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> SyncConfig:
        """A SyncConfig from flow parameters (plain JSON types, as deployments store them)."""
        out = parameters.get("out")
        mapping = parameters.get("mapping")
        return cls(
            sources=list(parameters["sources"]),
            mapping_path=Path(mapping) if mapping else None,
            target=parameters.get("target") or "local",
            entity_id=parameters.get("entity_id"),
            state=parameters.get("state") or DEFAULT_STATE,
            out_dir=Path(out) if out else None,
            rate_limit=parameters.get("rate_limit"),
            concurrency=parameters.get("concurrency"),
            dry_run=bool(parameters.get("dry_run", False)),
            profile=parameters.get("profile") or "api",
            read_options=ReadOptions(parameters.get("encoding"), parameters.get("delimiter")),
            match_on=tuple(parameters.get("match_on") or ()),
            match_required=bool(parameters.get("match_required", False)),
            delete_missing=bool(parameters.get("delete_missing", False)),
            max_deletes=parameters.get("max_deletes"),
            strict=bool(parameters.get("strict", False)),
            new_target=bool(parameters.get("new_target", False)),
            crm_update=parameters.get("crm_update") or "changed",
            max_rejected_pct=parameters.get("max_rejected_pct"),
            max_failed=int(parameters.get("max_failed") or 0),
            shard=_shard(parameters.get("shard")),
            migration=_migration(parameters.get("migration")),
        )

    def as_parameters(self) -> dict[str, Any]:
        """The flow parameters of this config (the inverse of ``from_parameters``)."""
        return {
            "sources": list(self.sources),
            "mapping": str(self.mapping_path) if self.mapping_path else None,
            "target": self.target,
            "entity_id": self.entity_id,
            "state": self.state,
            "out": str(self.out_dir) if self.out_dir else None,
            "rate_limit": self.rate_limit,
            "concurrency": self.concurrency,
            "dry_run": self.dry_run,
            "profile": self.profile,
            "encoding": self.read_options.encoding,
            "delimiter": self.read_options.delimiter,
            "match_on": list(self.match_on) or None,
            "match_required": self.match_required,
            "delete_missing": self.delete_missing,
            "max_deletes": self.max_deletes,
            "strict": self.strict,
            "new_target": self.new_target,
            "crm_update": self.crm_update,
            "max_rejected_pct": self.max_rejected_pct,
            "max_failed": self.max_failed,
            "shard": dataclasses.astuple(self.shard) if self.shard else None,
            "migration": list(self.migration) if self.migration else None,
        }

    def resolved_entity(self) -> str | None:
        """--entity-id, else VERIFONE_ENTITY_ID, else (local target only) a fixed local entity."""
        entity = self.entity_id or os.environ.get("VERIFONE_ENTITY_ID", "").strip() or None
        if entity is None and self.target == LOCAL:
            return LOCAL_ENTITY
        return entity

    def source_spec(self) -> SourceSpec:
        """How this run reads and checks its exports (every row needs an entity)."""
        return SourceSpec(
            sources=self.sources,
            mapping_path=self.mapping_path,
            read_options=self.read_options,
            profile=self.profile,
            entity=self.resolved_entity(),
            entity_required=True,
            keep_id_hashes=self.delete_missing,
            strict=self.strict,
            batch_rows=self.read_batch_rows,
            match_on=self.match_on if not self.dry_run else (),
            shard=self.shard,
        )


def _shard(value: list[Any] | None) -> Shard | None:
    """A shard as flow parameters carry it: ``[index, count, entity]``."""
    if not value:
        return None
    index, count, entity, *orphans = value
    return Shard(int(index), int(count), entity, bool(orphans and orphans[0]))


def _migration(value: list[Any] | None) -> tuple[str, int] | None:
    """A migration's id and the attempt of the shard, as flow parameters carry them."""
    return (str(value[0]), int(value[1])) if value else None


def profile_of(value: str) -> Profile:
    """--profile, checked."""
    if value not in ("api", "3ds"):
        raise InputError(f"--profile must be api or 3ds, not {value!r}")
    return value  # type: ignore[return-value]


def read_options(encoding: str | None, delimiter: str | None) -> ReadOptions:
    r"""--encoding and --delimiter, checked (``tab`` and ``\\t`` name a tab)."""
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise InputError("--delimiter must be one character (or 'tab')")
    return ReadOptions(encoding=encoding, delimiter=delimiter)


def match_fields(values: list[str] | None) -> tuple[str, ...]:
    """--match-on fields (repeated or comma-separated), each an API field."""
    fields = tuple(f.strip() for value in values or [] for f in value.split(",") if f.strip())
    for name in fields:
        if name not in FIELDS_BY_PATH or name == "entity_id":
            raise InputError(f"--match-on: {name!r} is not an API field")
    return fields
