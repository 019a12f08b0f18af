"""``custsync sync`` and ``validate`` on exports behind URLs, as a user runs them: the real
command line, moto's S3 server on loopback, the sandbox as the API."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sandbox.process import SandboxProcess
from tests.helpers import (
    ENV,
    KEY,
    ROOT,
    USER,
    ObjectStoreServer,
    custsync,
    on_server,
    read_csv,
)

SAMPLE = ROOT / "data" / "salesforce_contacts.csv"
MAPPING = ROOT / "data" / "mappings" / "salesforce.toml"


def test_a_sync_of_a_glob_over_a_bucket_sends_what_the_local_files_would_and_reruns_unchanged(
    s3_server: ObjectStoreServer, tmp_path: Path
) -> None:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as handle:
        records = list(csv.reader(handle))
    for index, part in enumerate([records[1:150], records[150:]]):
        text = io.StringIO()
        csv.writer(text).writerows([records[0], *part])
        s3_server.put("crm-sync", f"nightly/2026-12-04/part-{index}.csv", text.getvalue().encode())
    s3_server.put("crm-sync", "nightly/2026-12-03/part-0.csv", b"not,an,export\n")
    env = {**ENV, **s3_server.env}
    with SandboxProcess(users={USER: KEY}) as api:

        def run(name: str) -> tuple[int, dict[str, object], str]:
            result = custsync(
                "sync", "s3://crm-sync/nightly/2026-12-04/*.csv", "--mapping", str(MAPPING),
                "--target", api.url, "--entity-id", "E1", "--state", str(tmp_path / "state.db"),
                "--out", str(tmp_path / name), env=env,
            )  # fmt: skip
            report = json.loads((tmp_path / name / "report.json").read_text())
            return result.returncode, report, result.stderr

        code, report, stderr = run("first")
        assert code == 0, stderr
        assert report["rows_read"] == len(records) - 1
        mapped = [m for m in read_csv(tmp_path / "first" / "mappings.csv") if m["customer_id"]]
        assert len(mapped) == len(on_server(api)) == report["created"] > 250
        files = {r["file"] for r in read_csv(tmp_path / "first" / "rejects.csv")}
        assert files == {f"s3://crm-sync/nightly/2026-12-04/part-{i}.csv" for i in (0, 1)}
        code, report, stderr = run("second")
        assert code == 0 and report["requests"] == 0, stderr  # an unchanged night sends nothing


def test_a_source_url_that_cannot_be_read_stops_before_anything_is_sent(
    s3_server: ObjectStoreServer, tmp_path: Path
) -> None:
    env = {**ENV, **s3_server.env}
    s3_server.put("crm-missing", "a.csv", SAMPLE.read_bytes())
    for source, said in [
        ("s3://crm-missing/b.csv", "s3://crm-missing/b.csv: no such file"),
        ("s3://crm-missing/*.parquet", "no file matches s3://crm-missing/*.parquet"),
        ("http://files.example.com/a.csv?sig=SECRET", "plain HTTP only to loopback"),
    ]:
        result = custsync("validate", source, "--mapping", str(MAPPING),
                          "--out", str(tmp_path / "v"), env=env)  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert said in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "SECRET" not in result.stderr
