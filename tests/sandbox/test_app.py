"""The app's composition: API routes behind the gateway, admin routes beside, errors as
ErrorResponses everywhere."""

from __future__ import annotations

import httpx

from sandbox.process import SandboxProcess


def test_unknown_paths_are_error_responses(sandbox_server: SandboxProcess) -> None:
    answer = httpx.get(f"{sandbox_server.root}/no/such/path", timeout=10)
    assert answer.status_code == 404 and answer.json()["code"] == 404


def test_the_openapi_document_is_served_outside_the_api(sandbox_server: SandboxProcess) -> None:
    answer = httpx.get(f"{sandbox_server.root}/_sandbox/openapi.json", timeout=10)
    assert answer.status_code == 200 and "/v2/customer" in str(answer.json()["paths"])
