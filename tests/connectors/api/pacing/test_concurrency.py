from __future__ import annotations

from connectors.api.pacing.concurrency import default_concurrency


def test_default_concurrency_follows_the_rate() -> None:
    assert default_concurrency(None) == 64
    assert [default_concurrency(r) for r in (1, 10, 100, 1_000)] == [4, 11, 101, 256]
