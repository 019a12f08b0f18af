"""A sandbox serving the CRM stand-ins, as a real server on loopback, for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.auth import CrmLogins
from sandbox.process import SandboxProcess
from tests.helpers import HS_TOKEN, SF_CLIENT, SF_TOKEN


@pytest.fixture
def crm_server() -> Iterator[SandboxProcess]:
    logins = CrmLogins(salesforce_tokens=(SF_TOKEN,), salesforce_client=SF_CLIENT,
                       hubspot_tokens=(HS_TOKEN,))  # fmt: skip
    with SandboxProcess(crm=logins) as server:
        yield server
