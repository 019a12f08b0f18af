"""``--help`` of every command: its choices and real types, no Rich markup eaten, every option
explained (issue 33)."""

from __future__ import annotations

import pytest

from tests.helpers import custsync

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
