"""Credentials for scheduled runs: from the environment, or from Prefect Secret blocks.

The blocks are named in the deployment's parameters (never their values): the values are read
at run time into a ``BlockSecrets`` held in this process's memory, and from there into the run's
``Credentials``; they never enter the environment (where every child process and crash dump
would see them), a log or a flow run's record.
"""

from __future__ import annotations

import contextlib
import os
import re
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


# -- what a run's config holds without (engine/config.py's apart/joined) ----------------------

RUN_SECRETS_PREFIX = "custsync-secrets-"


def save_run_secrets(held: Mapping[str, object], name: str | None = None) -> str:
    """Keep ``held`` (a run's sources and state in full) in a Secret block; its name, which a
    flow run's parameters may carry: a new one for a run, ``name`` for a deployment's."""
    import json
    import uuid

    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    # Block names are lowercase letters, digits and dashes; a deployment's name may be more.
    name = re.sub(r"[^a-z0-9-]+", "-", name.lower()) if name else None
    name = name or f"{RUN_SECRETS_PREFIX}{uuid.uuid4().hex[:16]}"
    Secret(value=SecretStr(json.dumps(held))).save(name, overwrite=True)
    return name


def read_run_secrets(name: str) -> dict[str, object]:
    """What the Secret block ``name`` holds for a run (one line if it is gone or not JSON)."""
    import json

    from prefect.blocks.system import Secret

    try:
        secret = cast("Secret[str]", Secret.load(name))
    except ValueError:
        raise InputError(
            f"no Prefect Secret block {name!r} (secrets_block): the run that made it has ended, "
            "or make it with the sources and state in full, as JSON "
            '{"sources": ["..."], "state": "..."}'
        ) from None
    held: object = secret.get()  # Prefect parses a JSON string itself
    if isinstance(held, str):
        with contextlib.suppress(ValueError):
            held = json.loads(held)
    if not isinstance(held, dict):
        raise InputError(f"the Secret block {name!r} (secrets_block) must hold a JSON object")
    return held


def drop_run_secrets(name: str) -> None:
    """The run that kept them has ended: the block goes (gone already is fine)."""
    from prefect.blocks.system import Secret

    with contextlib.suppress(ValueError):  # "Unable to find block document named ..."
        Secret.delete(name)
