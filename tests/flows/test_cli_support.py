"""What the commands share: flag checks, one-line errors, the artefact folder."""

from __future__ import annotations

import pytest
import typer

from connectors.errors import InputError, RunLockedError
from flows.cli_support import (
    default_out_dir,
    errors_as_exit,
    match_fields,
    profile_of,
    read_options,
)


def test_flags_are_checked() -> None:
    assert profile_of("3ds") == "3ds"
    with pytest.raises(InputError, match="api or 3ds"):
        profile_of("strict")
    assert (
        read_options(None, "tab").delimiter == "\t" and read_options(None, "\\t").delimiter == "\t"
    )
    with pytest.raises(InputError, match="one character"):
        read_options(None, ";;")
    assert match_fields(["email_address, billing.last_name", "phone_number"]) == (
        "email_address", "billing.last_name", "phone_number",
    )  # fmt: skip
    for bad in (["entity_id"], ["e-mail"]):
        with pytest.raises(InputError, match="is not an API field"):
            match_fields(bad)


def test_errors_become_one_line_and_their_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as stopped, errors_as_exit():
        raise RunLockedError("another run is using the state store")
    assert stopped.value.exit_code == 2
    assert capsys.readouterr().err == "custsync: error: another run is using the state store\n"


def test_default_out_dir_is_stamped() -> None:
    path = default_out_dir("validate")
    assert path.parent.name == "out" and path.name.startswith("validate-2")
