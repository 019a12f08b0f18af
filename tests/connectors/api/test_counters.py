"""What the client did, counted per batch and summed per run."""

from __future__ import annotations

from connectors.api.counters import ApiCounters


def test_since_and_add() -> None:
    counters = ApiCounters(requests=3, retries=1, by_status={200: 2, 429: 1})
    before = counters.copy()
    counters.requests += 2
    counters.by_status[200] += 1
    counters.by_status[500] = 1
    batch = counters.since(before)
    assert (batch.requests, batch.retries, batch.by_status) == (2, 0, {200: 1, 429: 0, 500: 1})
    assert before.by_status == {200: 2, 429: 1}  # a copy, not a view
    run = ApiCounters()
    run.add(batch)
    run.add(batch)
    assert (run.requests, run.by_status[500]) == (4, 2)
