"""An update is a value: equal and hashable by record and UUID (a writer keys a record's last
refusal by it), and a clear is a UUID of None."""

from __future__ import annotations

from connectors.crm.updates import PushResult, UuidUpdate


def test_updates_are_values_and_results_start_empty() -> None:
    reasons = {UuidUpdate("003A", "u1"): "UNABLE_TO_LOCK_ROW"}
    assert reasons[UuidUpdate("003A", "u1")] == "UNABLE_TO_LOCK_ROW"
    assert UuidUpdate("003A", None) != UuidUpdate("003A", "u1")
    first, second = PushResult(), PushResult()
    first.confirmed.append(UuidUpdate("003A", "u1"))
    assert second.confirmed == [] and second.refused == []  # no list shared between results
