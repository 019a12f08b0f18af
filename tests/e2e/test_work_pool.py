"""The README's work-pool recipe, as written (issue 17, item 1): a real ``prefect server
start``, ``prefect work-pool create``, a worker, ``prefect deploy``, ``prefect deployment run``
of the shipped ``demo`` deployment, with no edit to ``prefect.yaml`` and no environment
variable beyond the server's address: the sample export lands in the embedded sandbox."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import PREFECT, ROOT


@pytest.mark.slow
def test_the_demo_deployment_runs_on_a_worker_as_shipped(
    tmp_path: Path, shared_prefect_server: dict[str, str]
) -> None:
    project = tmp_path / "project"  # a checkout of the project, as on a worker's machine
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(
        ".venv", ".git", "out", ".custsync", "__pycache__", ".*_cache"))  # fmt: skip
    env = {k: v for k, v in shared_prefect_server.items() if not k.startswith("VERIFONE_")}

    def prefect(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*PREFECT, *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip

    made = prefect("work-pool", "create", "custsync", "--type", "process")
    assert made.returncode == 0, made.stdout + made.stderr
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([*PREFECT, "worker", "start", "--pool", "custsync"], cwd=project,
                              env=env, stdout=log, stderr=log)  # fmt: skip
    try:
        deployed = prefect("--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        ran = prefect("deployment", "run", "sync-customers/demo", "--watch",
                      "--watch-timeout", "240", timeout=300)  # fmt: skip
        worker_log = (tmp_path / "worker.log").read_text(errors="replace")
        assert ran.returncode == 0, ran.stdout[-3000:] + worker_log[-3000:]
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    report = json.loads((project / "out" / "demo" / "report.json").read_text())
    assert report["created"] > 250 and report["failed"] == 0
    assert (
        (project / "out" / "demo" / "crm-update.csv")
        .read_text()
        .startswith("Id,Verifone_Customer_ID__c\n")
    )
    assert "Traceback" not in worker_log
