from __future__ import annotations

from dataclasses import dataclass, field, fields

from connectors.api.counters import ApiCounters
from schemas.outcomes import LoadTotals
from schemas.report import SyncReport
from schemas.tally import Tally


@dataclass
class Counts(Tally):
    sent: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


def test_a_tally_adds_and_subtracts_field_by_field_and_key_by_key() -> None:
    run = Counts(2, {200: 2})
    run.add(Counts(3, {200: 1, 429: 2}))
    assert run == Counts(5, {200: 3, 429: 2})
    before = run.copy()
    run.add(Counts(1, {503: 1}))
    assert run.since(before) == Counts(1, {200: 0, 429: 0, 503: 1})
    assert before == Counts(5, {200: 3, 429: 2})  # a snapshot, not a view


def test_every_figure_keeps_its_name_from_the_engine_to_the_report() -> None:
    report = {f.name for f in fields(SyncReport)}
    for tally in (ApiCounters, LoadTotals):
        figures = {f.name for f in fields(tally)} - {"by_status"}
        assert figures <= report, figures - report
