"""Session-wide fixtures: one real sandbox server on a free loopback port."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import settings

from sandbox.process import SandboxProcess

# CI runs the property tests on examples derived from each test (the same every run), so a
# landing is never refused by a draw no one can replay; a developer's runs draw new ones each
# time and keep hunting. What they find is pinned with @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

USER, KEY = "test-user", "test-key"
READ_ONLY_USER, READ_ONLY_KEY = "reader", "reader-key"
JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxProcess]:
    """The sandbox as a real HTTP server (child process), shared by the session."""
    with SandboxProcess(
        users={USER: KEY},
        read_only_users={READ_ONLY_USER: READ_ONLY_KEY},
        jwt_secret=JWT_SECRET,
    ) as server:
        yield server


@pytest.fixture
def api(sandbox_server: SandboxProcess) -> Iterator[httpx.Client]:
    """A client of the session sandbox with full Basic credentials."""
    with httpx.Client(base_url=sandbox_server.url, auth=(USER, KEY), timeout=30) as client:
        yield client


def bearer(expires_in_s: float = 300, secret: str = JWT_SECRET) -> str:
    """An HS256 token for the session sandbox."""
    return jwt.encode({"sub": USER, "exp": int(time.time() + expires_in_s)}, secret, "HS256")


def person(entity_id: str = "E1", **overrides: Any) -> dict[str, Any]:
    """A valid CustomerRequest for a person; keyword overrides replace top-level fields."""
    payload: dict[str, Any] = {
        "entity_id": entity_id,
        "email_address": "ann.lee@example.com",
        "billing": {
            "first_name": "Ann",
            "last_name": "Lee",
            "address_1": "1 High Street",
            "city": "London",
            "postal_code": "SW1A 1AA",
            "country_code": "GB",
        },
    }
    payload.update(overrides)
    return payload
