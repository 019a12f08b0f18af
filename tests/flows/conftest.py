"""Running the real ``custsync`` command line in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def custsync(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``python -m flows ARGS`` as a user would run ``custsync ARGS``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERIFONE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "flows", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=environment,
        timeout=timeout,
    )
