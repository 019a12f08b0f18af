"""What the write-back pushes to a CRM and what the CRM said of each record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class UuidUpdate:
    """One CRM record's new UUID, or None: clear the field (its customer is gone)."""

    record_id: str
    uuid: str | None


@dataclass
class PushResult:
    """A CRM's answer for some records: confirmed ones, and refused ones with its reason."""

    confirmed: list[UuidUpdate] = field(default_factory=list)
    refused: list[tuple[UuidUpdate, str]] = field(default_factory=list)


OnResult = Callable[[PushResult], None]


class CrmWriter(Protocol):
    """A CRM's write-back: push every update, telling ``on_result`` as answers come (so what
    is confirmed is marked before the next call); raises CrmError when the CRM cannot go on."""

    calls: int

    def push(self, updates: list[UuidUpdate], on_result: OnResult) -> Awaitable[None]:
        """Push the updates (each record once), retrying what is refused for a moment."""
        ...
