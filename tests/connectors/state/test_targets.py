"""Which API each entity's mappings belong to: pinned by the first run that writes, refused
for another target, forgotten on request."""

from __future__ import annotations

import pytest

from connectors.errors import InputError
from connectors.state.store import StateStore

SANDBOX, PRODUCTION = "http://127.0.0.1:8765/oidc/customer-service", "https://api.example.com"


def test_an_entity_is_pinned_to_its_first_target(location: str) -> None:
    store = StateStore.open(location)
    assert store.targets.check(["E1", "E2"], SANDBOX, "the sandbox") == ["E1", "E2"]
    store.targets.pin(["E1"], SANDBOX)
    store.targets.pin(["E1"], PRODUCTION)  # a pin is never moved by pinning again
    assert store.targets.pinned("E1") == SANDBOX
    assert store.targets.check(["E1", "E2"], SANDBOX, "the sandbox") == ["E2"]
    with pytest.raises(InputError) as info:
        store.targets.check(["E1"], PRODUCTION, "production (https://api.example.com)")
    message = str(info.value)
    assert SANDBOX in message and "production" in message and "new_target" in message
    store.close()


def test_starting_afresh_forgets_that_entitys_mappings_only(location: str) -> None:
    store = StateStore.open(location)
    store.targets.pin(["E1", "E2"], SANDBOX)
    store.customers.record("E1", "A", "created", "run", "uuid-a", "h")
    store.customers.record("E2", "B", "created", "run", "uuid-b", "h")
    assert store.targets.start_afresh(["E1"], PRODUCTION) == 1
    assert store.customers.get("E1", "A") is None
    assert store.customers.get("E2", "B") is not None  # another entity's, untouched
    assert store.targets.pinned("E1") == PRODUCTION and store.targets.pinned("E2") == SANDBOX
    assert store.targets.start_afresh(["E1"], PRODUCTION) == 0  # already this target's
    store.close()
