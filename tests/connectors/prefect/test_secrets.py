"""Credentials for scheduled runs, from Prefect Secret blocks named in a deployment: into the
run's credentials, never into the environment."""

from __future__ import annotations

import os

import pytest

from connectors.errors import InputError
from connectors.prefect.secrets import BlockSecrets, read_secret_blocks


def test_credentials_come_from_secret_blocks_named_in_the_deployment(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    monkeypatch.delenv("VERIFONE_API_KEY", raising=False)
    monkeypatch.setenv("VERIFONE_USER_UID", "uid-from-the-worker")
    Secret(value="key-from-a-block").save("verifone-api-key-test", overwrite=True)
    Secret(value="E-from-a-block").save("verifone-entity-test", overwrite=True)
    secrets = read_secret_blocks(
        {"VERIFONE_API_KEY": "verifone-api-key-test", "VERIFONE_ENTITY_ID": "verifone-entity-test"}
    )
    credentials = secrets.credentials()
    assert credentials is not None
    assert (credentials.user_uid, credentials.api_key) == (
        "uid-from-the-worker",
        "key-from-a-block",
    )
    assert secrets.entity_id == "E-from-a-block"
    assert "VERIFONE_API_KEY" not in os.environ  # read into the run, not the environment
    assert "key-from-a-block" not in repr(secrets) + repr(credentials)
    with pytest.raises(InputError, match="not one of"):
        read_secret_blocks({"PATH": "verifone-api-key-test"})
    # A block nobody made: one line, naming it and how to make it (not Prefect's traceback).
    with pytest.raises(InputError) as missing:
        read_secret_blocks({"VERIFONE_USER_UID": "verifone-user-uid-nobody"})
    message = str(missing.value)
    assert "'verifone-user-uid-nobody'" in message and "VERIFONE_USER_UID" in message
    assert ".save('verifone-user-uid-nobody')" in message and "\n" not in message


def test_no_blocks_leave_the_credentials_to_the_environment() -> None:
    assert read_secret_blocks(None) == BlockSecrets() == read_secret_blocks({})
    assert BlockSecrets().credentials() is None and BlockSecrets().entity_id is None
