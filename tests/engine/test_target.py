"""Targets: credentials checked first; the embedded sandbox started only when needed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connectors.errors import CredentialsError, SandboxStartError
from engine.target import open_target


def test_a_remote_target_without_credentials_stops_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VERIFONE_USER_UID", "VERIFONE_API_KEY", "VERIFONE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CredentialsError), open_target("emea"):
        pass


def test_the_local_sandbox_starts_on_first_use_and_stops_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_target("local") as target:
        assert target.description.startswith("local sandbox")
        assert not (tmp_path / ".custsync").exists()  # nothing started yet
        url = target.base_url
        credentials = (target.credentials.user_uid or "", target.credentials.api_key or "")
        answer = httpx.get(url + "/v2/customer?search=id!=x", auth=credentials, timeout=10)
        assert answer.status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/v2/customer?search=id!=x", auth=credentials, timeout=2)


def test_a_sandbox_that_cannot_start_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".custsync").write_text("a file where the sandbox wants its folder")
    with open_target("local") as target, pytest.raises(SandboxStartError, match="did not start"):
        _ = target.base_url
