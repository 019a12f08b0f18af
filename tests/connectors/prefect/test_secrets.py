"""Credentials for scheduled runs, from Prefect Secret blocks named in a deployment."""

from __future__ import annotations

import pytest

from connectors.errors import InputError


def test_credentials_come_from_secret_blocks_named_in_the_deployment(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from prefect.blocks.system import Secret

    from connectors.prefect.secrets import load_credentials_into_environment

    monkeypatch.delenv("VERIFONE_API_KEY", raising=False)
    Secret(value="key-from-a-block").save("verifone-api-key-test", overwrite=True)
    load_credentials_into_environment({"VERIFONE_API_KEY": "verifone-api-key-test"})
    assert os.environ["VERIFONE_API_KEY"] == "key-from-a-block"
    monkeypatch.delenv("VERIFONE_API_KEY")
    with pytest.raises(InputError, match="not one of"):
        load_credentials_into_environment({"PATH": "verifone-api-key-test"})
    # A block nobody made: one line, naming it and how to make it (not Prefect's traceback).
    with pytest.raises(InputError) as missing:
        load_credentials_into_environment({"VERIFONE_USER_UID": "verifone-user-uid-nobody"})
    message = str(missing.value)
    assert "'verifone-user-uid-nobody'" in message and "VERIFONE_USER_UID" in message
    assert ".save('verifone-user-uid-nobody')" in message and "\n" not in message


def test_no_blocks_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from connectors.prefect.secrets import load_credentials_into_environment

    monkeypatch.setenv("VERIFONE_API_KEY", "from-the-environment")
    load_credentials_into_environment(None)
    load_credentials_into_environment({})
    assert os.environ["VERIFONE_API_KEY"] == "from-the-environment"
