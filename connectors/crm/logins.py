"""Who custsync is to a CRM, from the environment only: the secrets never print.

Salesforce: ``SALESFORCE_INSTANCE_URL`` with ``SALESFORCE_ACCESS_TOKEN``, or the OAuth 2.0
client credentials flow with ``SALESFORCE_LOGIN_URL`` (the org's My Domain),
``SALESFORCE_CLIENT_ID`` and ``SALESFORCE_CLIENT_SECRET``. HubSpot: ``HUBSPOT_ACCESS_TOKEN`` (a
private app's or a service key's) and ``HUBSPOT_API_URL`` (default ``https://api.hubapi.com``).
Every URL https, or plain http to loopback only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.api.targets import is_loopback
from connectors.errors import CredentialsError, InputError

HUBSPOT_API = "https://api.hubapi.com"


def checked_url(url: str, variable: str) -> str:
    """A CRM's base URL: https, or plain http to loopback; no credentials, query or fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputError(f"{variable} must be an https:// URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InputError(f"{variable}: plain HTTP is allowed only to loopback; use https://")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InputError(f"{variable} must be a bare URL (no credentials, query or fragment)")
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class SalesforceLogin:
    """An instance URL and its access token, or a My Domain login URL and client credentials."""

    instance_url: str | None = None
    access_token: str | None = field(default=None, repr=False)
    login_url: str | None = None
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        how = "access token" if self.access_token else "client credentials"
        return f"SalesforceLogin({how}, secrets hidden)"

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> SalesforceLogin:
        """The login the environment holds; CredentialsError naming what is missing."""
        env = os.environ if env is None else env
        value = {k: env.get(f"SALESFORCE_{k}", "").strip() for k in (
            "INSTANCE_URL", "ACCESS_TOKEN", "LOGIN_URL", "CLIENT_ID", "CLIENT_SECRET")}  # fmt: skip
        if value["ACCESS_TOKEN"]:
            if not value["INSTANCE_URL"]:
                raise CredentialsError("SALESFORCE_ACCESS_TOKEN needs SALESFORCE_INSTANCE_URL")
            url = checked_url(value["INSTANCE_URL"], "SALESFORCE_INSTANCE_URL")
            return cls(instance_url=url, access_token=value["ACCESS_TOKEN"])
        flow = ("LOGIN_URL", "CLIENT_ID", "CLIENT_SECRET")
        if any(value[k] for k in flow):
            missing = [f"SALESFORCE_{k}" for k in flow if not value[k]]
            if missing:
                raise CredentialsError(
                    f"{', '.join(missing)} not set (the client credentials flow needs all three)"
                )
            return cls(
                login_url=checked_url(value["LOGIN_URL"], "SALESFORCE_LOGIN_URL"),
                client_id=value["CLIENT_ID"],
                client_secret=value["CLIENT_SECRET"],
            )
        raise CredentialsError(
            'no Salesforce credentials for [writeback] crm = "salesforce": set '
            "SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN, or SALESFORCE_LOGIN_URL, "
            "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET"
        )


@dataclass(frozen=True)
class HubSpotLogin:
    """A private app's (or service key's) access token, and the API's base URL."""

    access_token: str = field(repr=False)
    api_url: str = HUBSPOT_API

    def __repr__(self) -> str:
        return f"HubSpotLogin({self.api_url}, token hidden)"

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> HubSpotLogin:
        """The login the environment holds; CredentialsError when the token is missing."""
        env = os.environ if env is None else env
        token = env.get("HUBSPOT_ACCESS_TOKEN", "").strip()
        if not token:
            raise CredentialsError(
                'no HubSpot credentials for [writeback] crm = "hubspot": set HUBSPOT_ACCESS_TOKEN'
            )
        url = env.get("HUBSPOT_API_URL", "").strip() or HUBSPOT_API
        return cls(token, checked_url(url, "HUBSPOT_API_URL"))


CrmLogin = SalesforceLogin | HubSpotLogin


def crm_login(crm: str, env: Mapping[str, str] | None = None) -> CrmLogin | None:
    """The login a ``[writeback] crm`` needs (None for ``file``), checked before anything is
    sent: a missing one stops the run with exit 2."""
    if crm == "salesforce":
        return SalesforceLogin.from_environment(env)
    if crm == "hubspot":
        return HubSpotLogin.from_environment(env)
    return None
