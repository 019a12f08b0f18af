"""A large export is validated batch by batch: the result must not depend on where batches cut."""

from __future__ import annotations

import polars as pl
import pytest

from schemas.validation import (
    RAGGED,
    SEQ,
    ValidationTotals,
    take_census,
    validate_customers,
)
from tests.schemas.helpers import customer_frame, person

ROWS = [
    person("A"),
    person("B", email_address="not-an-email"),
    person(" A "),  # the same id once trimmed: supersedes row 1
    person("C"),
    person("D", billing__country_code="Narnia"),
    person(None),  # no id: rejected for it, never a duplicate of another
    person(None),
    person("B"),  # supersedes the invalid row 2
    person("E"),
    person("D"),  # supersedes row 5 (invalid) and is valid
    person("C", billing__city="x" * 40),  # supersedes row 4 and is itself invalid
    person("F"),
]


def export() -> pl.DataFrame:
    frame = customer_frame(*ROWS).with_row_index(SEQ)
    # A ragged row is rejected for being ragged, and never supersedes the row of its id.
    return frame.with_columns(
        pl.when(pl.col(SEQ) == 11)
        .then(pl.lit("ragged row: 3 fields where the header has 4"))
        .otherwise(pl.col(RAGGED))
        .alias(RAGGED)
    )


def lines(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return sorted(frame.select("external_id", "row", "field", "reason").rows(), key=str)


def test_census_finds_duplicates_by_the_normalised_id_and_ignores_ragged_rows() -> None:
    census = take_census(export().lazy(), "E1", keep_id_hashes=True)
    assert census.rows == len(ROWS)
    # rows 1, 2, 4, 5 (seq 0, 1, 3, 4) are superseded; the ragged row (seq 11) supersedes nothing
    assert sorted(census.superseded.to_list()) == [0, 1, 3, 4]
    assert census.entities == ["E1"]
    assert census.id_hashes is not None and census.id_hashes.len() == len(ROWS) - 2


@pytest.mark.parametrize("batch_rows", [1, 2, 5, 7])
def test_batches_give_exactly_the_whole_frame_result(batch_rows: int) -> None:
    whole = validate_customers(export())
    census = take_census(export().lazy(), None)
    totals = ValidationTotals()
    valid, rejects = [], []
    for batch in export().lazy().collect_batches(chunk_size=batch_rows):
        result = validate_customers(batch, "api", False, census.superseded, kept_rows=census.kept)
        totals.add(result)
        valid.append(result.valid)
        rejects.append(result.rejects)
    assert pl.concat(valid).sort("external_id").equals(whole.valid.sort("external_id"))
    assert lines(pl.concat(rejects)) == lines(whole.rejects)
    assert (totals.rows_read, totals.rows_valid) == (whole.rows_read, whole.rows_valid)
    assert totals.threeds_ready == whole.threeds_ready
    assert totals.reasons["duplicate"] == 4


def test_entities_come_from_the_rows_and_the_default_fills_blanks() -> None:
    frame = export().with_columns(
        pl.when(pl.col(SEQ) < 3).then(pl.lit(" E2 ")).otherwise(None).alias("entity_id")
    )
    assert take_census(frame.lazy(), "E1").entities == ["E1", "E2"]
    assert take_census(frame.lazy(), None).entities == ["E2"]
