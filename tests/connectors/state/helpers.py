"""The state store's tests: a clock that moves when told (the ``location`` fixture of both
backends is in tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
