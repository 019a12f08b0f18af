"""What the commands share: one-line errors, the artefact folder, --output."""

from __future__ import annotations

import pytest
import typer

from connectors.errors import InputError, RunLockedError
from flows.cli_support import default_out_dir, errors_as_exit, wants_json


def test_errors_become_one_line_and_their_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as stopped, errors_as_exit():
        raise RunLockedError("another run is using the state store")
    assert stopped.value.exit_code == 2
    assert capsys.readouterr().err == "custsync: error: another run is using the state store\n"


def test_default_out_dir_is_stamped() -> None:
    path = default_out_dir("validate")
    assert path.parent.name == "out" and path.name.startswith("validate-2")


def test_output_is_text_or_json() -> None:
    assert wants_json("json") and not wants_json("text")
    with pytest.raises(InputError, match="text or json"):
        wants_json("yaml")
