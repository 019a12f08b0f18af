"""The batch loop every command shares: checked up front, validated a batch at a time."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl
import pytest

from connectors.errors import InputError
from connectors.reports.artifacts import REJECT_HEADER, CsvAppender
from connectors.sources.export_files import ReadOptions
from engine.runner import InlineRunner
from engine.source import SourceSpec, open_source
from schemas.shards import Shard, in_shard
from schemas.validation import ValidationTotals
from tests.helpers import export, people


def spec(path: Path, **overrides: object) -> SourceSpec:
    fields: dict[str, object] = dict(sources=[str(path)], mapping_path=None,
                                     read_options=ReadOptions(), profile="api", entity="E1",
                                     entity_required=True, batch_rows=2)  # fmt: skip
    fields.update(overrides)
    return SourceSpec(**fields)  # type: ignore[arg-type]


def test_batches_are_validated_counted_and_their_rejects_written(tmp_path: Path) -> None:
    rows = people(5)
    rows[3][5] = "Narnia"  # an unknown country: left out
    rows[4][0] = ""  # no external id: rejected
    source_path = export(tmp_path / "a.csv", rows)
    steps: list[str] = []

    class Recording(InlineRunner):
        def step(self, name: str, fn, *args):  # type: ignore[no-untyped-def]
            steps.append(name)
            return fn(*args)

    totals = ValidationTotals()
    with (
        open_source(spec(source_path)) as source,
        CsvAppender(tmp_path / "rejects.csv", REJECT_HEADER) as rejects,
    ):
        results = list(source.validated(Recording(), rejects, totals))
    assert [r.rows_read for r in results] == [2, 2, 1] and steps == ["validate"] * 3
    assert (totals.rows_read, totals.rows_valid, totals.rows_rejected) == (5, 4, 1)
    assert totals.values_left_out == 1
    assert all(
        r.valid.get_column("entity_id").to_list() == ["E1"] * r.valid.height for r in results
    )
    written = pl.read_csv(tmp_path / "rejects.csv", infer_schema=False)
    assert written.select("external_id", "field", "action").rows() == [
        ("X3", "billing.country_code", "left_out"), (None, "external_id", "rejected"),
    ]  # fmt: skip


def test_no_entity_is_refused_before_anything_is_read_further(tmp_path: Path) -> None:
    source_path = export(tmp_path / "a.csv", people(1))
    with pytest.raises(InputError, match="no entity"), open_source(spec(source_path, entity=None)):
        pass
    with open_source(spec(source_path, entity=None, entity_required=False)) as source:
        assert source.census.rows == 1


def test_a_shard_reads_the_export_once_into_a_private_copy_gone_at_the_end(
    tmp_path: Path,
) -> None:
    source_path = export(tmp_path / "a.csv", people(40))
    shard = Shard(1, 3, "E1")
    with open_source(spec(source_path, shard=shard)) as source:
        # Read once: the census and the batches come from the shard's own copy, not the file.
        source_path.write_text("external_id,email_address\n")
        ids = [i for batch in source.batches() for i in batch["external_id"].to_list()]
        copies = list(Path(tempfile.gettempdir()).glob(f"custsync-{os.getpid()}-*/shard.parquet"))
        assert len(copies) == 1 and copies[0].parent.stat().st_mode & 0o077 == 0
    every = [row[0] for row in people(40)]
    mine = [i for i, kept in zip(every, in_shard(every, shard), strict=True) if kept]
    assert mine and sorted(ids) == sorted(mine)
    assert source.census.rows == len(ids)
    assert not copies[0].exists()
