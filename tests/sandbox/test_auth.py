"""Basic and Bearer authentication; 401 with an ErrorResponse otherwise, 403 for read-only keys."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest

from sandbox.process import SandboxProcess
from tests.helpers import KEY, READ_ONLY_KEY, READ_ONLY_USER, USER, bearer, person


def call(server: SandboxProcess, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{server.url}/v2/customer/{uuid.uuid4()}", timeout=10, **kwargs)  # type: ignore[arg-type]


def test_basic_with_configured_pair_is_accepted(sandbox_server: SandboxProcess) -> None:
    assert call(sandbox_server, auth=(USER, KEY)).status_code == 404  # authenticated, no customer


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic dXNlcm9ubHk="},  # "useronly": no colon
        {"Authorization": "Digest abc"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "not-base64", "no-colon", "other-scheme", "empty-bearer"],
)
def test_missing_or_malformed_credentials_are_401(
    sandbox_server: SandboxProcess, headers: dict[str, str]
) -> None:
    response = call(sandbox_server, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == 401 and set(body) == {"code", "message", "details", "timestamp"}


@pytest.mark.parametrize("pair", [(USER, "wrong"), ("nobody", KEY), (USER, "")])
def test_wrong_basic_credentials_are_401(sandbox_server: SandboxProcess, pair: tuple) -> None:
    assert call(sandbox_server, auth=pair).status_code == 401


def test_valid_bearer_token_is_accepted(sandbox_server: SandboxProcess) -> None:
    response = call(sandbox_server, headers={"Authorization": f"Bearer {bearer()}"})
    assert response.status_code == 404


def test_expired_bearer_token_is_401(sandbox_server: SandboxProcess) -> None:
    response = call(sandbox_server, headers={"Authorization": f"Bearer {bearer(-5)}"})
    assert response.status_code == 401
    assert "expired" in response.json()["details"]["authorization"]


def test_bearer_signed_with_another_secret_is_401(sandbox_server: SandboxProcess) -> None:
    token = bearer(secret="not-the-secret-but-also-32-bytes-long")
    assert call(sandbox_server, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_bearer_without_exp_is_401(sandbox_server: SandboxProcess) -> None:
    from tests.helpers import JWT_SECRET

    token = jwt.encode({"sub": USER}, JWT_SECRET, "HS256")
    assert call(sandbox_server, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_read_only_credentials_read_but_cannot_write(sandbox_server: SandboxProcess) -> None:
    auth = (READ_ONLY_USER, READ_ONLY_KEY)
    assert call(sandbox_server, auth=auth).status_code == 404
    response = httpx.post(f"{sandbox_server.url}/v2/customer", json=person(), auth=auth)
    assert response.status_code == 403
    assert response.json()["code"] == 403


def test_open_sandbox_accepts_any_basic_pair_but_not_none() -> None:
    with SandboxProcess() as server:
        assert call(server, auth=("anyone", "anything")).status_code == 404
        assert call(server).status_code == 401
