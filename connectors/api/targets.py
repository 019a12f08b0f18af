"""Where the Customer API is and who we are to it: named targets, URLs, credentials.

Credentials come from the environment only and never appear in a repr, a log or a message.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.errors import CredentialsError, InputError

BASE_PATH = "/oidc/customer-service"
TARGETS: dict[str, str] = {
    "emea": "https://emea.gsc.verifone.cloud/oidc/customer-service",
    "us": "https://us.gsc.verifone.cloud/oidc/customer-service",
    "nz": "https://nz.gsc.verifone.cloud/oidc/customer-service",
    "sandbox": "https://cst.test-gsc.vfims.com/oidc/customer-service",
    "us-sandbox": "https://uscst-gb.gsc.vficloud.net/oidc/customer-service",
}
LOCAL = "local"
# What people type for a region the API names otherwise (Verifone's regions: EMEA, US, and
# NZ for Australia and New Zealand).
REGION_WORDS = {
    "eu": "emea", "europe": "emea", "uk": "emea", "gb": "emea", "de": "emea", "fr": "emea",
    "usa": "us", "na": "us", "america": "us", "au": "nz", "anz": "nz", "apac": "nz",
    "test": "sandbox", "dev": "sandbox", "staging": "sandbox", "cst": "sandbox",
}  # fmt: skip


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _did_you_mean(typed: str) -> str:
    """``; did you mean 'emea'?`` for a target name near one (or a region's common name)."""
    import difflib

    word = typed.strip().lower()
    near = REGION_WORDS.get(word) or next(
        iter(difflib.get_close_matches(word, [LOCAL, *TARGETS], n=1, cutoff=0.5)), None
    )
    return f"; did you mean {near!r}?" if near else ""


def resolve_target(target: str) -> str:
    """A target name or base URL -> base URL; plain HTTP only to loopback."""
    if target in TARGETS:
        return TARGETS[target]
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        raise InputError("{target} holds a control character (a pasted newline?)")
    try:
        parts = urlsplit(target)
        has_userinfo = parts.username is not None or parts.password is not None
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise InputError("{target} is not a URL") from None
    if has_userinfo:
        # Never echoed: the part before "@" is a credential.
        raise InputError(
            "a {target} URL must not carry credentials: set VERIFONE_USER_UID and "
            "VERIFONE_API_KEY (or VERIFONE_ACCESS_TOKEN) in the environment instead"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        names = ", ".join([LOCAL, *TARGETS])
        raise InputError(
            f"{{target}} must be one of {names}, or a URL ending in {BASE_PATH}"
            + _did_you_mean(target)
        )
    if not parts.path.rstrip("/").endswith(BASE_PATH):
        raise InputError(f"a {{target}} URL must end with {BASE_PATH}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InputError("plain HTTP is allowed only to loopback; use https:// for remote targets")
    return target.rstrip("/")


@dataclass(frozen=True)
class Credentials:
    """Basic (user UID + API key) or Bearer (access token). The secrets never print."""

    user_uid: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """``bearer`` or ``basic``."""
        return "bearer" if self.access_token else "basic"

    def __repr__(self) -> str:
        return f"Credentials({self.kind}, secrets hidden)"

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Credentials:
        """VERIFONE_ACCESS_TOKEN (Bearer), or VERIFONE_USER_UID + VERIFONE_API_KEY (Basic)."""
        env = os.environ if env is None else env
        token = env.get("VERIFONE_ACCESS_TOKEN", "").strip()
        if token:
            return cls(access_token=token)
        uid = env.get("VERIFONE_USER_UID", "").strip()
        key = env.get("VERIFONE_API_KEY", "").strip()
        if uid and key:
            return cls(user_uid=uid, api_key=key)
        if uid or key:
            missing = "VERIFONE_API_KEY" if uid else "VERIFONE_USER_UID"
            raise CredentialsError(f"{missing} is not set (Basic needs both UID and key)")
        raise CredentialsError(
            "no credentials: set VERIFONE_USER_UID and VERIFONE_API_KEY, or VERIFONE_ACCESS_TOKEN"
        )
