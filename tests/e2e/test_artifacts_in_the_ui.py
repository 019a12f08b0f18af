"""A sync's artifacts as a payments team sees them: Prefect's own UI (a real ``prefect server
start``), read back in headless Chromium, with a screenshot of each page kept in the test's
folder. The progress says rows done and the rate; the summary its counts; the rejects table
what it holds, and a hostile value from an export shows as the text it is: Prefect's UI
renders each table cell as markdown, keeping links and the HTML its sanitiser allows."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, headless_chromium

HOSTILE = ["[click me](http://evil.example/x)", "<img src=x onerror=alert(1)>",
           "https://evil.example/bare", "ann@example.com"]  # fmt: skip

# One sync's artifacts, made by the runner every flow uses, in a flow run of the server's.
FLOW = """
import json, sys
import polars as pl
from prefect import flow
from prefect.client.orchestration import get_client
from flows.prefect_runner import PrefectRunner
from schemas.report import SyncReport

@flow(name="artifacts-in-the-ui", persist_result=False)
def body() -> str:
    runner = PrefectRunner()
    for done in (250, 500, 1000):
        runner.progress(done, 1000)
    hostile = json.loads(sys.argv[1])
    rejects = pl.DataFrame({
        "row": list(range(2, 2 + len(hostile))), "external_id": hostile,
        "field": ["email_address"] * len(hostile), "reason": ["duplicate"] * len(hostile),
        "action": ["rejected"] * len(hostile)})
    report = SyncReport(rows_read=1000, created=996, requests=996, run_id="r-ui", target="local")
    runner.publish(report, rejects, "out/ui")
    from prefect.artifacts import create_markdown_artifact
    from schemas.run_summary import readiness_markdown
    from schemas.report import BackfillReport
    # The backfill's artifact: a country code from an export is data too.
    countries = {"FR": {"customers": 4, "ready": 1}, hostile[0]: {"customers": 2, "ready": 0}}
    after = {"FR": {"customers": 4, "ready": 4}, hostile[0]: {"customers": 2, "ready": 2}}
    readiness = BackfillReport(customers=6, ready_before=1 / 6, ready_after=1.0,
                               by_country_before=countries, by_country_after=after)
    create_markdown_artifact(readiness_markdown(readiness), key="readiness")
    from prefect.runtime import flow_run
    return str(flow_run.id)

run_id = body()

async def artifacts():  # this run's: the server is the session's, other tests make theirs
    async with get_client() as client:
        return {a.key: str(a.id) for a in await client.read_artifacts()
                if a.key and str(a.flow_run_id) == run_id}

import asyncio
print(json.dumps(asyncio.run(artifacts())))
"""


def text_of(dom: str) -> str:
    """What the page shows, as text."""
    shown = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", shown)))


@pytest.mark.slow
def test_the_artifacts_read_in_prefects_ui(
    tmp_path: Path, shared_prefect_server: dict[str, str]
) -> None:
    chromium = headless_chromium(tmp_path / "profile")
    made = subprocess.run([sys.executable, "-c", FLOW, json.dumps(HOSTILE)], cwd=ROOT,
                          env=shared_prefect_server, capture_output=True, text=True,
                          timeout=180)  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    ids = json.loads(made.stdout.strip().splitlines()[-1])
    ui = shared_prefect_server["PREFECT_API_URL"].removesuffix("/api")

    def page(key: str) -> tuple[str, str]:
        url = f"{ui}/artifacts/artifact/{ids[key]}"
        # The UI is a single-page app: virtual time lets it fetch and render before the dump.
        flags = [*chromium, "--window-size=1200,900", "--virtual-time-budget=20000"]
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True,
                             timeout=120, check=True).stdout  # fmt: skip
        shot = tmp_path / f"{key}.png"  # kept in the test's tmp folder, to look at
        subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120,
                       check=True)  # fmt: skip
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
        return dom, text_of(dom)

    dom, shown = page("sync-rejects")
    assert "rejects.csv's first 500 lines" in shown  # what the table holds
    for value in HOSTILE:
        assert value in shown, (value, shown[:2000])  # the text it is, whole
    table = dom[dom.index("artifact-data-table") :]
    assert "evil.example" not in re.findall(r'href="([^"]*)"', table).__str__()
    assert "<img" not in table and "mailto:" not in table

    _, shown = page("sync-progress")
    assert re.search(r"1,000 of 1,000, [\d,]+ rows/s", shown), shown[:2000]

    _, shown = page("sync-summary")
    assert "created" in shown and "996" in shown and "out/ui" in shown

    dom, shown = page("readiness")
    assert "3-D Secure readiness" in shown and HOSTILE[0] in shown, shown[:2000]
    assert "evil.example" not in str(re.findall(r'href="([^"]*)"', dom))
