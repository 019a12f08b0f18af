"""Credentials for scheduled runs: from the environment, or from Prefect Secret blocks.

The blocks are named in the deployment's parameters (never their values): the values are
read at run time and put into this process's environment, where the client reads them.
"""

from __future__ import annotations

import os
from typing import cast

from connectors.errors import InputError

ALLOWED = ("VERIFONE_USER_UID", "VERIFONE_API_KEY", "VERIFONE_ACCESS_TOKEN", "VERIFONE_ENTITY_ID")


def load_credentials_into_environment(blocks: dict[str, str] | None) -> None:
    """``{"VERIFONE_API_KEY": "block-name", ...}`` -> os.environ (values never logged)."""
    if not blocks:
        return
    from prefect.blocks.system import Secret

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
        os.environ[variable] = str(secret.get())
