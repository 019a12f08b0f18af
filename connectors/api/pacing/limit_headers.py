"""What a gateway's rate-limit headers say, where it sends them: how many requests remain and
when the quota is whole again. A known remaining count and reset beat guessing.

    RateLimit-Limit / -Remaining / -Reset     the IETF draft to -06 (Reset: delta-seconds)
    RateLimit: limit=L, remaining=R, reset=T  the draft's -07, a single Dictionary field
    RateLimit: "name";r=R;t=T, ...            its -08 on, a List of policies (the one with
                                              the fewest left is the one that binds)
    X-RateLimit-Limit / -Remaining / -Reset   Kong, GitHub, many others; X-Rate-Limit-* as
                                              Twitter's: Reset is delta-seconds, a Unix time
                                              (GitHub's; in milliseconds by some), or an
                                              HTTP-date

A reset in whole seconds is an upper bound (gateways round up): the quota may be whole up to a
second sooner. Anything not read as one of these is no quota (the draft: malformed fields are
ignored), never an error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# A reset past this many seconds is a Unix time, not a delay (GitHub sends epoch seconds);
# past the second one, a Unix time in milliseconds.
EPOCH_FROM = 1_000_000_000
EPOCH_MS_FROM = 100_000_000_000
# The RateLimit field's members: commas outside quoted strings.
_MEMBERS = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
_PARAMETER = re.compile(r"^\s*([a-z][a-z0-9_.*-]*)\s*=\s*(\S+?)\s*$")
_PREFIXES = ("ratelimit-", "x-ratelimit-", "x-rate-limit-")


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


def _reset(value: str | None, now: float) -> float | None:
    """Seconds until a reset written as delta-seconds, a Unix time or an HTTP-date."""
    number = _number(value)
    if number is None:
        if value is None:
            return None
        try:
            moment = parsedate_to_datetime(value.strip()).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, moment - now)
    if number >= EPOCH_MS_FROM:
        number /= 1000.0
    return max(0.0, number - now) if number >= EPOCH_FROM else number


def _structured(field: str) -> tuple[float, float] | None:
    """(remaining, reset) of a single ``RateLimit`` field: the -07 Dictionary, or the most
    binding policy of the -08 List (the fewest left; of those, the longest to wait)."""
    policies: list[tuple[float, float]] = []
    keys: dict[str, float] = {}
    for member in _MEMBERS.findall(field):
        parts = member.split(";")
        whole = _PARAMETER.match(parts[0])
        if whole is not None and len(parts) == 1:  # -07: limit=100, remaining=50, reset=5
            value = _number(whole.group(2))
            if value is not None:
                keys[whole.group(1)] = value
            continue
        params = {}
        for part in parts[1:]:
            pair = _PARAMETER.match(part)
            if pair is not None and (value := _number(pair.group(2))) is not None:
                params[pair.group(1)] = value
        if "r" in params and "t" in params:
            policies.append((params["r"], params["t"]))
    if "remaining" in keys and "reset" in keys:
        policies.append((keys["remaining"], keys["reset"]))
    return min(policies, key=lambda policy: (policy[0], -policy[1]), default=None)


def read_quota(headers: Mapping[str, str], now: float | None = None) -> Quota | None:
    """The quota an answer's headers tell (None: they tell none, or not both halves)."""
    names = " ".join(headers).lower()
    if "ratelimit" not in names and "rate-limit" not in names:
        return None  # most answers: one look at the names, not many lookups (5 -> 1 µs)
    moment = time.time() if now is None else now
    for prefix in _PREFIXES:
        remaining = _number(headers.get(prefix + "remaining"))
        reset = _reset(headers.get(prefix + "reset"), moment)
        if remaining is not None and reset is not None:
            return Quota(int(remaining), reset)
    structured = headers.get("ratelimit")
    found = None if structured is None else _structured(structured)
    if found is None:
        return None
    return Quota(int(found[0]), found[1])
