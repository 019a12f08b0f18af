"""Credentials for scheduled runs: from the environment, or from Prefect Secret blocks.

The blocks are named in the deployment's parameters (never their values): the values are read
at run time into a ``BlockSecrets`` held in this process's memory, and from there into the run's
``Credentials``; they never enter the environment (where every child process and crash dump
would see them), a log or a flow run's record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from connectors.api.targets import Credentials
from connectors.errors import InputError

ALLOWED = ("VERIFONE_USER_UID", "VERIFONE_API_KEY", "VERIFONE_ACCESS_TOKEN", "VERIFONE_ENTITY_ID")


@dataclass(frozen=True)
class BlockSecrets:
    """What the named Secret blocks hold, by the variable each stands in for."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)

    def credentials(self) -> Credentials | None:
        """The run's credentials: the blocks' values over the environment's (a block may give
        the key while the worker's environment gives the UID); None when no block was named."""
        if not self.values:
            return None
        return Credentials.from_environment({**os.environ, **self.values})

    @property
    def entity_id(self) -> str | None:
        """The entity a block names for the run's rows, if one does."""
        return (self.values.get("VERIFONE_ENTITY_ID") or "").strip() or None


def read_secret_blocks(blocks: Mapping[str, str] | None) -> BlockSecrets:
    """``{"VERIFONE_API_KEY": "block-name", ...}`` -> the blocks' values (never logged)."""
    if not blocks:
        return BlockSecrets()
    from prefect.blocks.system import Secret

    values: dict[str, str] = {}
    for variable, block_name in blocks.items():
        if variable not in ALLOWED:
            raise InputError(f"credentials_blocks: {variable} is not one of {', '.join(ALLOWED)}")
        try:
            # Called outside an event loop, load() returns the block itself, not a coroutine.
            secret = cast("Secret[str]", Secret.load(block_name))
        except ValueError:  # Prefect's "Unable to find block document named ..."
            raise InputError(
                f"no Prefect Secret block {block_name!r} (credentials_blocks, for {variable}): "
                'create it with `uv run python -c "from prefect.blocks.system import Secret; '
                f"Secret(value='...').save('{block_name}')\"` or in the UI (Blocks > Secret), "
                "or drop credentials_blocks and set the variable in the worker's environment"
            ) from None
        values[variable] = str(secret.get())
    return BlockSecrets(values)
