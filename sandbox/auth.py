"""Who may call the sandbox: HTTP Basic (user UID + API key) or a Bearer JWT (HS256)."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field
from enum import Enum

import jwt


class Access(Enum):
    """What a request's credentials allow."""

    DENIED = "denied"
    READ_ONLY = "read_only"
    FULL = "full"


@dataclass(frozen=True)
class AuthConfig:
    """Accepted credentials. With none configured the sandbox is open: any Basic pair goes."""

    users: dict[str, str] = field(default_factory=dict)
    read_only_users: dict[str, str] = field(default_factory=dict)
    jwt_secret: str | None = None

    @property
    def is_open(self) -> bool:
        """True when no credentials were configured at all."""
        return not (self.users or self.read_only_users or self.jwt_secret)

    def describe(self) -> str:
        """Where accepted credentials come from, for the banner (never the secrets themselves)."""
        if self.is_open:
            return "open (no --user or --jwt-secret: any Basic credentials accepted)"
        parts = []
        if self.users:
            parts.append(f"Basic for {len(self.users)} --user pair(s)")
        if self.read_only_users:
            parts.append(f"Basic read-only for {len(self.read_only_users)} pair(s)")
        if self.jwt_secret:
            parts.append("Bearer HS256 JWT signed with --jwt-secret")
        return ", ".join(parts)

    def check(self, authorization: str | None) -> tuple[Access, str]:
        """The access an ``Authorization`` header grants, and why it is denied when it is."""
        if not authorization:
            return Access.DENIED, "missing Authorization header"
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return self._check_basic(credentials.strip())
        if scheme == "bearer":
            return self._check_bearer(credentials.strip())
        return Access.DENIED, "unsupported authorization scheme"

    def _check_basic(self, credentials: str) -> tuple[Access, str]:
        try:
            uid, sep, key = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return Access.DENIED, "malformed Basic credentials"
        if not sep or not uid:
            return Access.DENIED, "malformed Basic credentials"
        if self.is_open:
            return Access.FULL, ""
        if _matches(self.users.get(uid), key):
            return Access.FULL, ""
        if _matches(self.read_only_users.get(uid), key):
            return Access.READ_ONLY, ""
        return Access.DENIED, "invalid user UID or API key"

    def _check_bearer(self, token: str) -> tuple[Access, str]:
        if self.jwt_secret is None:
            if self.is_open and token:
                return Access.FULL, ""
            return Access.DENIED, "Bearer tokens are not accepted by this sandbox"
        try:
            jwt.decode(token, self.jwt_secret, algorithms=["HS256"], options={"require": ["exp"]})
        except jwt.ExpiredSignatureError:
            return Access.DENIED, "token expired"
        except jwt.InvalidTokenError:
            return Access.DENIED, "invalid token"
        return Access.FULL, ""


def _matches(expected: str | None, given: str) -> bool:
    return expected is not None and hmac.compare_digest(expected.encode(), given.encode())


def parse_user_pairs(pairs: list[str]) -> dict[str, str]:
    """``["UID:KEY", ...]`` -> ``{UID: KEY}``; raise ValueError naming the bad entry's position."""
    users: dict[str, str] = {}
    for position, pair in enumerate(pairs, start=1):
        uid, sep, key = pair.partition(":")
        if not sep or not uid or not key:
            raise ValueError(f"--user #{position} must be UID:KEY")
        users[uid] = key
    return users


@dataclass(frozen=True)
class CrmLogins:
    """What the CRM stand-ins accept: Bearer tokens, and Salesforce's client credentials
    ("id", "secret"); none at all: any token (a demo's sandbox)."""

    salesforce_tokens: tuple[str, ...] = ()
    salesforce_client: tuple[str, str] | None = None
    hubspot_tokens: tuple[str, ...] = ()
