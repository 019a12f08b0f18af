"""A sandbox in a child process: knobs passed on its command line, credentials in its
environment, and a start that fails said in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess, SandboxStartFailure


def test_knobs_reach_the_child_and_secrets_stay_off_its_command_line() -> None:
    faults = FaultSettings(max_page_size=3, empty_search_404=True, retry_after="date")
    process = SandboxProcess(users={"u": "s3cret"}, faults=faults, seed=5)
    command = process._command()
    assert "s3cret" not in " ".join(command) and command[1:3] == ["-m", "sandbox"]
    with process as server:
        assert server.stats()["faults"] == faults.as_dict()
        assert server.url.endswith("/oidc/customer-service") and server.root in server.url


def test_a_sandbox_that_cannot_start_says_why(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(SandboxStartFailure, match="did not start"):
        SandboxProcess(db=blocked / "sandbox.db", start_timeout_s=30).start()
