"""Targets and credentials: plain HTTP only to loopback, secrets never printed."""

from __future__ import annotations

import pytest

from connectors.api.targets import TARGETS, Credentials, is_loopback, resolve_target
from connectors.errors import CredentialsError, InputError


def test_named_targets_and_urls() -> None:
    assert resolve_target("emea") == TARGETS["emea"]
    url = "http://127.0.0.1:8765/oidc/customer-service/"
    assert resolve_target(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://api.example.com/oidc/customer-service", "plain HTTP is allowed only to loopback"),
        ("https://api.example.com/v2", "must end with /oidc/customer-service"),
        ("ftp://127.0.0.1/oidc/customer-service", "target must be one of"),
        ("europe", "target must be one of"),
        ("eu", "did you mean 'emea'?"),
        ("sandbx", "did you mean 'sandbox'?"),
        ("USA", "did you mean 'us'?"),
    ],
)
def test_bad_targets_are_input_errors(target: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_target(target)


def test_loopback() -> None:
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.3.4.5", "::1"))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "example.com", "0.0.0.0", ""))


def test_credentials_from_the_environment_never_print() -> None:
    basic = Credentials.from_environment({"VERIFONE_USER_UID": "u", "VERIFONE_API_KEY": "s3cret"})
    bearer = Credentials.from_environment(
        {"VERIFONE_ACCESS_TOKEN": " tok3n ", "VERIFONE_USER_UID": "u"}
    )
    assert (basic.kind, bearer.kind, bearer.access_token) == ("basic", "bearer", "tok3n")
    assert (
        "s3cret" not in repr(basic) and "s3cret" not in str(basic) and "tok3n" not in repr(bearer)
    )
    with pytest.raises(CredentialsError, match="VERIFONE_API_KEY is not set"):
        Credentials.from_environment({"VERIFONE_USER_UID": "u"})
    with pytest.raises(CredentialsError, match="no credentials"):
        Credentials.from_environment({})
