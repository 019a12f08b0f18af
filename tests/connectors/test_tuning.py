"""The tuned values: one typed object, bounded, set from the environment only where allowed."""

from __future__ import annotations

import pytest

from connectors.errors import InputError
from connectors.tuning import DEFAULTS, PacerTuning, Tuning


def test_the_migration_timings_come_from_the_environment_when_a_run_asks() -> None:
    assert Tuning.from_environment({}) == DEFAULTS
    tuned = Tuning.from_environment({"CUSTSYNC_SHARD_STALE_S": "10", "CUSTSYNC_SHARD_START_S": "5"})
    # A start allowance shorter than the stale threshold would give up a run that is starting.
    assert (tuned.migration.stale_s, tuned.migration.start_s) == (10.0, 10.0)
    assert tuned.pacer == DEFAULTS.pacer


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_timing_out_of_its_bounds_is_refused_naming_its_variable(value: str) -> None:
    with pytest.raises(InputError, match=r"^CUSTSYNC_SHARD_STALE_S "):
        Tuning.from_environment({"CUSTSYNC_SHARD_STALE_S": value})


def test_every_value_has_a_unit_or_meaning_and_bounds_are_kept() -> None:
    for section in (DEFAULTS.pacer, DEFAULTS.budget, DEFAULTS.migration):
        for name, field in type(section).model_fields.items():
            assert field.description, name
    with pytest.raises(ValueError, match="backoff"):
        PacerTuning(backoff=1.5)
    with pytest.raises(ValueError, match="frozen"):
        DEFAULTS.pacer.start_rate = 1.0  # type: ignore[misc]
