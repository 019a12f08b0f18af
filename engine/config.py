"""What a run of the engine is asked to do: built from the CLI's flags or a flow's parameters."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from connectors.api_config import LOCAL
from connectors.export_files import ReadOptions
from connectors.state.db import DEFAULT_STATE
from engine.source import READ_BATCH_ROWS, SourceSpec
from schemas.normalize import Profile

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
        )
