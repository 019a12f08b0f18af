"""How a message names a setting: ``{field}``, a run config's field (``{rate_limit}``) or a
command's option (``{cron}``). Where the message is shown decides how the setting reads: as
the field itself (``rate_limit``: a deployment's run, report.json) or as the CLI's flag
(``--rate-limit``). So nothing below the CLI needs to know its flags."""

from __future__ import annotations

import re
from collections.abc import Callable

SETTING = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def named(message: str, name: Callable[[str], str] = str) -> str:
    """``message`` with each ``{field}`` it names rendered by ``name`` (as the field itself,
    unless told otherwise)."""
    return SETTING.sub(lambda found: name(found.group(1)), message)
