"""A sandbox serving the CRM stand-ins, as a real server on loopback, for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.auth import CrmLogins
from sandbox.process import SandboxProcess

SF_TOKEN = "00Dsf-test-token-7f3a"
HS_TOKEN = "pat-na1-test-token-9c1d"
CLIENT = ("sf-client-id", "sf-client-secret-51e2")


@pytest.fixture
def crm_server() -> Iterator[SandboxProcess]:
    logins = CrmLogins(salesforce_tokens=(SF_TOKEN,), salesforce_client=CLIENT,
                       hubspot_tokens=(HS_TOKEN,))  # fmt: skip
    with SandboxProcess(crm=logins) as server:
        yield server
