"""What the commands share: one-line errors, the artefact folder, --output, and --help (its
choices and real types, no Rich markup eaten, every option explained)."""

from __future__ import annotations

import pytest
import typer

from connectors.errors import InputError, RunLockedError
from flows.cli_support import default_out_dir, errors_as_exit, wants_json
from tests.helpers import custsync


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


COMMANDS = ["validate", "sync", "migrate", "writeback", "backfill-3ds", "serve", "alerts",
            "mappings export", "runs", "runs show"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_bool_or_list_types_and_explains_every_option(command: str) -> None:
    shown = custsync(*command.split(), "--help", env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "<bool>" not in text and "<list[" not in text
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("  ") if c.strip()]
        if cells and cells[0].startswith("--") and cells[0] != "--help":
            assert len(cells) >= 2, f"{command}: {cells[0]} has no help"


def test_sync_help_keeps_its_brackets_and_shows_its_choices() -> None:
    text = custsync("sync", "--help", env={"COLUMNS": "200"}).stdout
    assert "With a [writeback] mapping" in text
    for choices in ("api|3ds", "changed|full", "text|json"):
        assert choices in text
    assert "--ignore-existing" in text
