"""Deployments on the Prefect server: a migration's shard deployment registered, and the ones
that ``custsync serve`` may (and may not) make its own.

``Flow.serve(name=N)`` takes over any deployment of that flow named N: one that a work pool
runs (``prefect.yaml``'s ``nightly-sync``) loses its pool, and is paused when serve stops: the
nightly runs stop without anyone noticing. So serve marks what it makes with ``SERVE_TAG`` and
refuses a name whose deployment exists without it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from connectors.errors import InputError

SERVE_TAG = "custsync-serve"


def check_serve_name(flow_name: str, name: str) -> None:
    """Exit 2, in one line, when deployment ``flow_name/name`` exists and serve did not make it."""
    asyncio.run(_check(flow_name, name))


async def _check(flow_name: str, name: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        try:
            deployment = await client.read_deployment_by_name(f"{flow_name}/{name}")
        except ObjectNotFound:
            return
    if SERVE_TAG in (deployment.tags or []):
        return
    runs_on = f"work pool {deployment.work_pool_name}" if deployment.work_pool_name else "a server"
    raise InputError(
        f"deployment {flow_name}/{name} exists on the Prefect server (runs on {runs_on}) and "
        "custsync serve did not make it: serving would take it over; pass {name} another"
    )


def check_cron(cron: str) -> None:
    """--cron as Prefect's schedules take it, or exit 2 now (not a traceback from Prefect)."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron)
    except ValueError:
        raise InputError(
            f"{{cron}} {cron!r} is not a cron expression (minute hour day month weekday, "
            "e.g. '0 2 * * *')"
        ) from None


def register_deployment(flow: Any, name: str, work_pool: str, root: str, entrypoint: str) -> str:
    """``flow``'s deployment ``name`` on ``work_pool`` (made or updated), run from the folder
    ``root`` on every worker's machine; its full name."""
    source = flow.from_source(root, entrypoint)
    source.deploy(name, work_pool_name=work_pool, print_next_steps=False, build=False, push=False)
    return f"{flow.name}/{name}"
