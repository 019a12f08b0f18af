"""What a gateway's rate-limit headers say, where it sends them: how many requests remain and
when the quota is whole again. A known remaining count and reset beat guessing.

    RateLimit-Limit / -Remaining / -Reset     the IETF draft (Reset: delta-seconds)
    RateLimit: "name";r=REMAINING;t=RESET     the draft's later single structured field
    X-RateLimit-Limit / -Remaining / -Reset   Kong, GitHub, HubSpot, many others: Reset is
                                              delta-seconds, or a Unix time (GitHub's)

A reset in whole seconds is an upper bound (gateways round up): the quota may be whole up to a
second sooner.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

# A reset past this many seconds is a Unix time, not a delay (GitHub sends epoch seconds).
EPOCH_FROM = 1_000_000_000
_STRUCTURED = re.compile(r"(?:^|;)\s*(r|t)\s*=\s*(\d+)")


@dataclass(frozen=True)
class Quota:
    """Requests that remain, and seconds until the quota is whole again (an upper bound)."""

    remaining: int
    reset_s: float


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.split(",")[0].strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def read_quota(headers: Mapping[str, str], now: float | None = None) -> Quota | None:
    """The quota an answer's headers tell (None: they tell none, or not both halves)."""
    if not any("ratelimit" in name.lower() for name in headers):
        return None  # most answers: one look at the names, not five lookups (5 -> 1 µs)
    remaining = reset = None
    for prefix in ("ratelimit-", "x-ratelimit-"):
        remaining = _number(headers.get(prefix + "remaining"))
        reset = _number(headers.get(prefix + "reset"))
        if remaining is not None and reset is not None:
            break
    else:
        structured = headers.get("ratelimit")
        if structured is None:
            return None
        found = dict(_STRUCTURED.findall(structured))
        if "r" not in found or "t" not in found:
            return None
        remaining, reset = float(found["r"]), float(found["t"])
    assert remaining is not None and reset is not None
    if reset >= EPOCH_FROM:
        reset = max(0.0, reset - (time.time() if now is None else now))
    return Quota(int(remaining), reset)
