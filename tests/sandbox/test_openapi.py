"""The sandbox's OpenAPI document: matches the reference, and the server conforms to it."""

from __future__ import annotations

import base64
import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from sandbox.openapi import openapi_document
from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER

# From the reference: operations, their success codes, and the documented error codes.
REFERENCE_OPERATIONS = {
    ("/v2/customer", "get"): "200",
    ("/v2/customer", "post"): "200",
    ("/v2/customer/{customerId}", "get"): "200",
    ("/v2/customer/{customerId}", "post"): "200",
    ("/v2/customer/{customerId}", "delete"): "204",
}
REFERENCE_ERRORS = {"400", "401", "403", "404", "500"}


def test_served_document_is_the_built_one(sandbox_server: SandboxProcess) -> None:
    served = httpx.get(f"{sandbox_server.root}/_sandbox/openapi.json").json()
    assert served == openapi_document()


def test_paths_methods_and_status_codes_match_the_reference() -> None:
    doc = openapi_document()
    assert doc["servers"] == [{"url": "/oidc/customer-service"}]
    operations = {
        (path, method): item
        for path, methods in doc["paths"].items()
        for method, item in methods.items()
        if method != "parameters"
    }
    assert set(operations) == set(REFERENCE_OPERATIONS)
    for key, operation in operations.items():
        assert set(operation["responses"]) == {REFERENCE_OPERATIONS[key]} | REFERENCE_ERRORS


def test_schemas_carry_the_documented_limits() -> None:
    schemas = openapi_document()["components"]["schemas"]
    request = schemas["CustomerRequest"]
    assert request["required"] == ["entity_id"]
    assert request["properties"]["company_name"]["maxLength"] == 100
    assert request["properties"]["email_address"] == {
        "type": "string",
        "maxLength": 255,
        "format": "email",
        "nullable": True,
    }
    assert request["properties"]["title"]["pattern"] == r"^[a-zA-Z\-\s.]+$"
    assert schemas["Billing"]["properties"]["city"]["maxLength"] == 28
    assert schemas["Tax"]["properties"]["identifier"]["pattern"] == "^[0-9]+$"
    assert set(schemas["CustomerResponse"]["required"]) == {
        "id",
        "entity_id",
        "created_at",
        "updated_at",
    }
    assert schemas["ErrorResponse"]["required"] == ["code", "message", "details", "timestamp"]


# Built from the same document the server serves (checked equal above).
schema = schemathesis.openapi.from_dict(openapi_document())
BASIC = "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()


@pytest.mark.slow
# schemathesis draws from `random` inside its own strategies, which hypothesis now deprecates:
# a warning about the tool, not about the sandbox.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
# One test per operation, named by it: schemathesis's own `schema.parametrize()` gives its
# items one shared node id, and pytest-xdist's scheduler keeps only one of them.
@pytest.mark.parametrize(
    ("path", "method"), sorted(REFERENCE_OPERATIONS), ids=lambda v: str(v).strip("/")
)
def test_sandbox_conforms_to_its_openapi(
    path: str, method: str, sandbox_server: SandboxProcess
) -> None:
    # Schema-valid is not API-valid here: an RSQL string or the company_name-or-names rule cannot
    # be said in JSON Schema, so "valid data accepted" is left out; every other check runs.
    @given(case=schema[path][method].as_strategy())
    # CUSTSYNC_SCHEMATHESIS_EXAMPLES=400 (with --hypothesis-seed=N) for a longer hunt.
    @settings(
        max_examples=int(os.environ.get("CUSTSYNC_SCHEMATHESIS_EXAMPLES", "40")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=sandbox_server.url,
            headers={"Authorization": BASIC},
            timeout=10,
            excluded_checks=[positive_data_acceptance],
        )

    conforms()
