"""Secrets kept out of what Prefect stores of a run: a flow run's parameters (and a deployment's)
are kept by the server and shown to whoever reads its API, so a pre-signed URL's signature or a
PostgreSQL password travels by reference (``SyncConfig.secrets_block``), resolved where the run
happens (``resolved``): in this process, on a serve process or on a migration's workers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from connectors.prefect.secrets import drop_run_secrets, read_run_secrets, save_run_secrets
from engine.config import SyncConfig


@contextlib.contextmanager
def kept_apart(config: SyncConfig, name: str | None = None) -> Iterator[SyncConfig]:
    """``config`` as a flow run may store it, its secrets in a Secret block (``name``, or one
    of the run's own) for as long as the block is needed; the same config if it holds none."""
    public, held = config.apart()
    if held is None:
        yield config
        return
    block = save_run_secrets(held, name)
    try:
        yield public.model_copy(update={"secrets_block": block})
    finally:
        drop_run_secrets(block)


def resolved(config: SyncConfig) -> SyncConfig:
    """The config a run works with: its sources and state in full again, if a block holds
    them."""
    if config.secrets_block is None:
        return config
    return config.joined(read_run_secrets(config.secrets_block))
