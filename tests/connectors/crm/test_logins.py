"""CRM logins come from the environment only, are checked before anything is sent, and never
print their secrets."""

from __future__ import annotations

import pytest

from connectors.crm.logins import HubSpotLogin, SalesforceLogin, crm_login
from connectors.errors import CredentialsError, InputError


def test_salesforce_takes_a_token_or_the_client_credentials_flow() -> None:
    token = SalesforceLogin.from_environment({
        "SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com/",
        "SALESFORCE_ACCESS_TOKEN": "00Dsecret"})  # fmt: skip
    assert token.instance_url == "https://acme.my.salesforce.com"
    assert "00Dsecret" not in repr(token) and "00Dsecret" not in str(token)
    flow = SalesforceLogin.from_environment({
        "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com",
        "SALESFORCE_CLIENT_ID": "id", "SALESFORCE_CLIENT_SECRET": "shh"})  # fmt: skip
    assert flow.client_secret == "shh" and "shh" not in repr(flow)


@pytest.mark.parametrize(("env", "said"), [
    ({}, "no Salesforce credentials"),
    ({"SALESFORCE_ACCESS_TOKEN": "t"}, "needs SALESFORCE_INSTANCE_URL"),
    ({"SALESFORCE_LOGIN_URL": "https://x.my.salesforce.com", "SALESFORCE_CLIENT_ID": "i"},
     "SALESFORCE_CLIENT_SECRET not set"),
])  # fmt: skip
def test_a_missing_salesforce_credential_is_named(env: dict[str, str], said: str) -> None:
    with pytest.raises(CredentialsError, match=said):
        SalesforceLogin.from_environment(env)


def test_hubspot_defaults_to_its_api_and_needs_a_token() -> None:
    login = HubSpotLogin.from_environment({"HUBSPOT_ACCESS_TOKEN": "pat-na1-x"})
    assert login.api_url == "https://api.hubapi.com" and "pat-na1-x" not in repr(login)
    with pytest.raises(CredentialsError, match="HUBSPOT_ACCESS_TOKEN"):
        HubSpotLogin.from_environment({})
    assert crm_login("file", {}) is None


@pytest.mark.parametrize(("url", "said"), [
    ("http://crm.example.com", "plain HTTP is allowed only to loopback"),
    ("ftp://crm.example.com", "must be an https:// URL"),
    ("https://user:pw@crm.example.com", "bare URL"),
    ("https://crm.example.com/?sig=abc", "bare URL"),
])  # fmt: skip
def test_a_crm_url_is_https_or_loopback_and_bare(url: str, said: str) -> None:
    with pytest.raises(InputError, match=said):
        HubSpotLogin.from_environment({"HUBSPOT_ACCESS_TOKEN": "t", "HUBSPOT_API_URL": url})
    assert (
        HubSpotLogin.from_environment(
            {"HUBSPOT_ACCESS_TOKEN": "t", "HUBSPOT_API_URL": "http://127.0.0.1:8765"}
        ).api_url
        == "http://127.0.0.1:8765"
    )
