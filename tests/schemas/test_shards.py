"""Shards: every occurrence of an id in one, the same on every machine, evenly spread."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.shards import Shard, in_shard, rows_of, shard_number


def numbers(ids: list[str | None], count: int) -> list[int]:
    frame = pl.DataFrame({"external_id": ids}, schema={"external_id": pl.String})
    return frame.select(shard_number(count)).to_series().to_list()


def test_the_shard_of_an_id_is_pinned_across_versions_and_machines() -> None:
    # xxHash64 of the cleaned id: if these move, shards of a running migration disagree.
    assert numbers(["X1", "X2", "abc", "Café"], 8) == [6, 5, 1, 5]


def test_every_spelling_of_one_id_falls_in_one_shard_and_no_id_in_shard_zero() -> None:
    decomposed = "Cafe\u0301"  # NFC makes it "Café": the same id to a run, so the same shard
    spellings = ["Café", " Café", "Café  ", decomposed]
    assert len(set(numbers(spellings, 16))) == 1
    assert numbers([None, "", "  "], 16) == [0, 0, 0]


def test_ids_spread_evenly_over_the_shards() -> None:
    counts = pl.Series(numbers([f"0031{i:011d}" for i in range(20_000)], 4)).value_counts()
    assert counts.height == 4
    assert all(4_500 <= n <= 5_500 for n in counts["count"])


def test_a_shard_keeps_its_entity_s_rows_and_rows_with_no_entity_take_the_default() -> None:
    frame = pl.DataFrame(
        {"external_id": ["a", "a", "b", "c"], "entity_id": ["E1", None, "E2", "E1"]}
    )
    mine = {number: Shard(number, 2, "E1") for number in range(2)}
    kept = pl.concat([frame.filter(rows_of(shard, "E1")) for shard in mine.values()])
    assert sorted(kept["external_id"].to_list()) == ["a", "a", "c"]
    assert frame.filter(rows_of(Shard(0, 1, "E1"), None))["external_id"].to_list() == ["a", "c"]
    orphans = frame.filter(rows_of(Shard(0, 1, "E2", orphans=True), None))
    assert orphans["external_id"].to_list() == ["a", "b"]  # E2's, and the one naming none


def test_in_shard_agrees_with_the_rows_a_shard_reads() -> None:
    ids = [f"id-{i}" for i in range(200)]
    for index in range(3):
        shard = Shard(index, 3, "E1")
        expected = [n == index for n in numbers(list(ids), 3)]
        assert in_shard(ids, shard) == expected


def test_a_shard_outside_its_count_is_refused() -> None:
    with pytest.raises(ValueError, match="shard 3 of 3"):
        Shard(3, 3, "E1")
    assert Shard(2, 8, "E1").label == "E1 3/8"
