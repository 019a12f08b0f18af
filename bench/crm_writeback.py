"""Claim: the write-back confirms records as fast as each CRM's documented limits allow, in few
API calls, and a nightly run over 1,000,000 known customers with 1% new pushes only those.

Whole processes, as a user runs them: ``custsync writeback`` against the sandbox's Salesforce and
HubSpot stand-ins on loopback, with the services' documented limits (HubSpot: 100 or 190 calls
in 10 s for a private app; Salesforce: the daily allocation, told in ``Sforce-Limit-Info``; a
Bulk job here takes 3 polls). The state store is seeded with bulk SQL as syncs would have left
it (creating a million customers through a rate-limited API would take hours).

1. records confirmed per second, and API calls per 10,000 records, per CRM and way;
2. where Bulk API 2.0 starts to cost fewer calls than sObject Collections (the threshold);
3. 1,000,000 known customers, 990,000 already confirmed by the CRM, 10,000 new: what is pushed.

    uv run python bench/crm_writeback.py [--records 10000] [--known 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from connectors.state.db import iso, utc_now
from connectors.state.store import StateStore
from sandbox.auth import CrmLogins
from sandbox.process import SandboxProcess

ROOT = Path(__file__).parents[1]
ENTITY = "bench"
SF_TOKEN, HS_TOKEN = "bench-sf-token", "pat-na1-bench-token"


def seed(state: Path, ids: list[str], given: int) -> None:
    """``ids`` as synced customers; the first ``given`` of them confirmed by the CRM."""
    StateStore.open(str(state)).close()  # the schema
    stamp = iso(utc_now())
    uuids = [str(uuid.uuid4()) for _ in ids]
    with sqlite3.connect(state) as db:
        db.executemany(
            "INSERT INTO customer_state (entity_id, external_id, customer_id, payload_hash,"
            " status, created_at, updated_at) VALUES (?, ?, ?, 'h', 'created', ?, ?)",
            [(ENTITY, i, u, stamp, stamp) for i, u in zip(ids, uuids, strict=True)],
        )
        db.executemany(
            "INSERT INTO crm_writeback (entity_id, external_id, customer_id, written_at)"
            " VALUES (?, ?, ?, ?)",
            [(ENTITY, i, u, stamp) for i, u in zip(ids[:given], uuids[:given], strict=True)],
        )


def mapping(folder: Path, crm: str) -> Path:
    field = "Verifone_Customer_ID__c" if crm == "salesforce" else "verifone_customer_id"
    path = folder / f"{crm}.toml"
    path.write_text(f'external_id = "Id"\n[writeback]\ncrm = "{crm}"\nid_column = "Id"\n'
                    f'uuid_field = "{field}"\n')  # fmt: skip
    return path


def salesforce_ids(n: int) -> list[str]:
    return [f"003{i:012d}AAA" for i in range(n)]


def writeback(server: SandboxProcess, folder: Path, crm: str, state: Path,
              extra_env: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """One ``custsync writeback``, timed from the shell's point of view."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALESFORCE_", "HUBSPOT_"))}
    env |= {"SALESFORCE_INSTANCE_URL": server.root, "SALESFORCE_ACCESS_TOKEN": SF_TOKEN,
            "HUBSPOT_API_URL": server.root, "HUBSPOT_ACCESS_TOKEN": HS_TOKEN}  # fmt: skip
    env |= extra_env or {}
    out = folder / f"out-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flows", "writeback", "--mapping", str(mapping(folder, crm)),
         "--state", str(state), "--out", str(out), "--output", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"writeback exited {done.returncode}: {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    report["seconds"] = round(seconds, 2)
    return report


def one_crm(crm: str, records: int, window: int, bulk_from: int | None) -> dict[str, Any]:
    """A fresh sandbox and store; ``records`` due; one writeback."""
    logins = CrmLogins(salesforce_tokens=(SF_TOKEN,), hubspot_tokens=(HS_TOKEN,))
    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(crm=logins) as server:
        folder = Path(tmp)
        ids = salesforce_ids(records) if crm == "salesforce" else [str(i) for i in range(records)]
        if crm == "salesforce":
            server.admin("POST", "/_sandbox/salesforce", {
                "records": {"Contact": ids}, "fields": {"Contact": ["Verifone_Customer_ID__c"]},
                "api_limit": 100_000})  # fmt: skip
        else:
            server.admin("POST", "/_sandbox/hubspot", {
                "records": {"contacts": ids}, "properties": {"contacts": ["verifone_customer_id"]},
                "per_interval": window, "interval_ms": 10_000})  # fmt: skip
        state = folder / "state.db"
        seed(state, ids, 0)
        env = {"CUSTSYNC_CRM_BULK_FROM": str(bulk_from)} if bulk_from else {}
        report = writeback(server, folder, crm, state, env)
        assert report["crm_confirmed"] == records, report
        if crm == "hubspot":
            report["refused_429"] = server.admin("GET", "/_sandbox/hubspot").json()["refused"]
        return report


def known_night(known: int, new_share: float) -> dict[str, Any]:
    """``known`` customers, all but ``new_share`` of them already confirmed: one writeback."""
    new = int(known * new_share)
    logins = CrmLogins(hubspot_tokens=(HS_TOKEN,))
    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(crm=logins) as server:
        folder = Path(tmp)
        ids = [str(i) for i in range(known)]
        server.admin("POST", "/_sandbox/hubspot", {
            "records": {"contacts": ids[-new:]},
            "properties": {"contacts": ["verifone_customer_id"]}, "per_interval": 190})  # fmt: skip
        state = folder / "state.db"
        started = time.perf_counter()
        seed(state, ids, known - new)
        seeded = time.perf_counter() - started
        report = writeback(server, folder, "hubspot", state)
        report["seed_seconds"] = round(seeded, 1)
        report["calls_on_the_portal"] = server.admin("GET", "/_sandbox/hubspot").json()["calls"]
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--known", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.records
    print(f"1. {n:,} records due, one `custsync writeback` each (whole process)")
    print(f"{'CRM, way':44} {'seconds':>8} {'records/s':>10} {'calls':>6} {'calls/10k':>10}"
          f" {'429s':>5}")  # fmt: skip
    runs = [
        ("salesforce, sObject Collections", "salesforce", 0, 10**9),
        ("salesforce, Bulk API 2.0 (3 polls)", "salesforce", 0, 1),
        ("hubspot, batch/update, 100 calls / 10 s", "hubspot", 100, None),
        ("hubspot, batch/update, 190 calls / 10 s", "hubspot", 190, None),
    ]
    for label, crm, window, bulk_from in runs:
        report = one_crm(crm, n, window, bulk_from)
        rate = report["crm_confirmed"] / report["seconds"]
        per_10k = report["crm_calls"] * 10_000 / n
        print(f"{label:44} {report['seconds']:8.1f} {rate:10,.0f} {report['crm_calls']:6,}"
              f" {per_10k:10,.0f} {report.get('refused_429', '-'):>5}")  # fmt: skip
    print("\n2. Salesforce calls by records due: Collections vs one Bulk job (3 polls)")
    print(f"{'records':>8} {'collections':>12} {'bulk':>6}")
    for records in (200, 1_000, 1_600, 2_000, 3_000, 5_000):
        calls = [one_crm("salesforce", records, 0, bulk)["crm_calls"] for bulk in (10**9, 1)]
        print(f"{records:8,} {calls[0]:12,} {calls[1]:6,}")
    print(f"\n3. A night over {args.known:,} known customers, 1% new (HubSpot, 190 / 10 s)")
    night = known_night(args.known, 0.01)
    print(f"   due {night['due']:,}, confirmed {night['crm_confirmed']:,}, calls "
          f"{night['crm_calls']:,} (portal counted {night['calls_on_the_portal']:,}), "
          f"{night['seconds']:.1f} s for the command "
          f"(store seeded in {night['seed_seconds']} s)")  # fmt: skip


if __name__ == "__main__":
    main()
