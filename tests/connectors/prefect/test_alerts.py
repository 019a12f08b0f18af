"""Being told when a run fails: the automation ``custsync alerts`` creates, on a real Prefect
server (prefect_test_harness: its triggers and actions services run), fires a real
notification block (a custom webhook to a server of this test's) for a failed
``sync-customers`` flow run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connectors.errors import InputError
from connectors.prefect.alerts import ALERT_NAME, create_failure_alert


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_a_failed_sync_run_notifies_through_the_block(
    prefect_harness: None, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    from prefect.automations import Automation
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from flows.sync_flow import sync_customers

    url, received = webhook
    CustomWebhookNotificationBlock(
        name="ops", url=url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
    ).save("ops-hook", overwrite=True)
    with pytest.raises(InputError, match="TYPE/NAME"):
        create_failure_alert("ops-hook")
    with pytest.raises(InputError, match="prefect block create custom-webhook"):
        create_failure_alert("custom-webhook/nobody")
    create_failure_alert("custom-webhook/ops-hook")
    first = create_failure_alert("custom-webhook/ops-hook")  # again: replaced, not doubled
    assert Automation.read(name=ALERT_NAME).id == first  # type: ignore[union-attr]

    # A real sync-customers run that fails (its export is missing: exit 2 in the CLI).
    from engine.config import SyncConfig

    with pytest.raises(InputError, match="no such file"):
        sync_customers(SyncConfig(sources=["/nonexistent/contacts.csv"], target="local"))
    deadline = time.monotonic() + 90
    while not received and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(received) == 1, "no notification within 90 s"
    message = received[0]
    assert "sync-customers" in message["subject"] and "Failed" in message["subject"]
    assert "Failed" in message["body"] and "Target: local." in message["body"]
    assert "custsync: /nonexistent/contacts.csv: no such file" in message["body"]
    assert ".custsync/state.db" not in message["body"]  # the store's URL may hold a password
