"""A shard's files carried through the store, on both backends: in parts, back byte for byte,
owner-only, gone once dropped."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from connectors.state import shard_files
from connectors.state.store import StateStore


def test_a_file_of_many_parts_comes_back_byte_for_byte_and_owner_only(
    location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shard_files, "PART_BYTES", 1000)  # many parts of a small file
    source = tmp_path / "shard" / "mappings.csv"
    source.parent.mkdir()
    source.write_bytes(os.urandom(2500) + "external_id,customer_id\nX1,ü\n".encode())
    with StateStore.open(location) as store:
        files = store.shard_files
        files.put("m1", "E1 1/2", 2, source)
        target = tmp_path / "parent" / "shards" / "x" / "mappings.csv"
        assert files.write_out("m1", "E1 1/2", 2, "mappings.csv", target)
        assert target.read_bytes() == source.read_bytes()
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        # Another attempt, another shard, another name: nothing stored.
        for key in [("m1", "E1 1/2", 1), ("m1", "E1 2/2", 2), ("m2", "E1 1/2", 2)]:
            assert not files.write_out(*key, "mappings.csv", tmp_path / "none.csv")
        assert not files.write_out("m1", "E1 1/2", 2, "rejects.csv", tmp_path / "none.csv")
        assert not (tmp_path / "none.csv").exists()


def test_a_file_stored_again_replaces_the_first_and_a_drop_removes_the_migrations(
    location: str, tmp_path: Path
) -> None:
    source = tmp_path / "rejects.csv"
    with StateStore.open(location) as store:
        files = store.shard_files
        source.write_text("external_id,row\n" + "X1,1\n" * 5000)
        files.put("m1", "E1 1/1", 1, source)
        source.write_text("external_id,row\nX2,2\n")
        files.put("m1", "E1 1/1", 1, source)
        files.put("m2", "E1 1/1", 1, source)
        assert files.write_out("m1", "E1 1/1", 1, "rejects.csv", tmp_path / "back.csv")
        assert (tmp_path / "back.csv").read_text() == "external_id,row\nX2,2\n"
        files.drop("m1")
        assert not files.write_out("m1", "E1 1/1", 1, "rejects.csv", tmp_path / "gone.csv")
        assert files.write_out("m2", "E1 1/1", 1, "rejects.csv", tmp_path / "kept.csv")
