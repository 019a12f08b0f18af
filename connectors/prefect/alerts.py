"""Being told when a nightly run fails: a Prefect automation on the server the flows report to.

``custsync alerts --notify BLOCK`` creates one automation (replacing its own, by name, when run
again): any ``sync-customers`` or ``backfill-3ds`` flow run that ends Failed or Crashed sends a
notification through a Prefect notification block the team already has (Slack, Teams, e-mail,
PagerDuty, a custom webhook: ``prefect block create`` or the UI). The message names the run and
its state message only: counts and the artefact folder, never a shopper's data.
"""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

from connectors.errors import InputError

ALERT_NAME = "custsync: a run failed"
WATCHED_FLOWS = ("sync-customers", "backfill-3ds")
SUBJECT = "custsync: {{ flow.name }} run {{ flow_run.name }} {{ flow_run.state.name }}"
BODY = (
    "The {{ flow.name }} flow run {{ flow_run.name }} ended {{ flow_run.state.name }}: "
    "{{ flow_run.state.message }}\n"
    # Not the state parameter: a postgresql:// URL may hold a password.
    "Target: {{ flow_run.parameters.config.target }}."
)


async def notification_block_id(notify: str) -> UUID:
    """The id of the notification block named ``TYPE/NAME`` (``slack-webhook/payments``), or
    exit 2 naming it and how to create one."""
    from prefect.blocks.core import Block

    if notify.count("/") != 1 or not all(notify.split("/")):
        raise InputError(
            f"{{notify}} {notify!r}: name a notification block as TYPE/NAME, e.g. "
            "slack-webhook/payments-team (`prefect block ls` lists them)"
        )
    try:
        block = await Block.aload(notify)
    except ValueError:
        raise InputError(
            f"no Prefect block {notify!r} on this server: create it first "
            f"(`prefect block create {notify.split('/')[0]}`, or the UI's Blocks page)"
        ) from None
    block_id = getattr(block, "_block_document_id", None)
    if block_id is None or not hasattr(block, "notify"):
        raise InputError(f"Prefect block {notify!r} is not a notification block")
    return UUID(str(block_id))


def create_failure_alert(notify: str, name: str = ALERT_NAME) -> UUID:
    """The automation (replacing one of the same name): a notification through ``notify``
    for every failed or crashed run of the watched flows. Its id."""
    return asyncio.run(_create(notify, name))


async def _create(notify: str, name: str) -> UUID:
    from prefect.automations import Automation, EventTrigger, Posture, SendNotification

    block_id = await notification_block_id(notify)
    with contextlib.suppress(ValueError):  # ValueError: none of that name yet
        await (await Automation.aread(name=name)).adelete()
    trigger = EventTrigger(
        expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={
            "prefect.resource.role": "flow",
            "prefect.resource.name": list(WATCHED_FLOWS),
        },
        posture=Posture.Reactive,
        threshold=1,
    )
    action = SendNotification(block_document_id=block_id, subject=SUBJECT, body=BODY)
    created = await Automation(name=name, trigger=trigger, actions=[action]).acreate()
    assert created.id is not None
    return created.id
