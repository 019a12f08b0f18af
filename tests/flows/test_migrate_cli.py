"""``custsync migrate``'s checks before anything is submitted (the migration itself, on real
workers: test_migrate_flow.py)."""

from __future__ import annotations

from tests.helpers import custsync


def test_migrate_without_a_prefect_server_stops_in_one_line() -> None:
    ran = custsync("migrate", "data/salesforce_contacts.csv", "--state", "x.db",
                   env={"PREFECT_API_URL": ""})  # fmt: skip
    assert ran.returncode == 2
    assert ran.stderr.strip() == (
        "custsync: error: custsync migrate needs a Prefect server: set PREFECT_API_URL"
    )
