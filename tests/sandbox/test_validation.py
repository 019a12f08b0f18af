"""Every documented CustomerRequest rule is enforced with a 400 naming the offending field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from schemas.api_fields import REQUEST_FIELDS
from tests.helpers import person


def with_field(path: str, value: object) -> dict[str, Any]:
    """A valid person with one field (dotted path) set to ``value``."""
    payload = person()
    if "." in path:
        parent, leaf = path.split(".")
        payload.setdefault(parent, {})[leaf] = value
    else:
        payload[path] = value
    return payload


def assert_rejected(api: httpx.Client, payload: object, field: str) -> dict[str, Any]:
    response = api.post("/v2/customer", json=payload)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400
    assert field in body["details"], body["details"]
    return body


MAX_LENGTH_FIELDS = [f for f in REQUEST_FIELDS if f.max_length is not None]


@pytest.mark.parametrize("spec", MAX_LENGTH_FIELDS, ids=lambda f: f.path)
def test_every_max_length_is_enforced(api: httpx.Client, spec: Any) -> None:
    # A value of exactly the limit passes, one more character fails.
    fill = {"phone": "1", "title": "a", "tax": "1", "email": "x"}.get(spec.kind, "a")
    if spec.kind == "email":
        # RFC 5321 caps an address at 254 characters, one under the documented 255.
        domain = ".".join(["b" * 60, "c" * 60, "d" * 60, "e" * (254 - 65 - 183)])
        exact = "a" * 64 + "@" + domain
        assert len(exact) == 254
        too_long = "a" * 2 + exact
    else:
        exact = fill * spec.max_length
        too_long = exact + fill
    ok = api.post("/v2/customer", json=with_field(spec.path, exact))
    assert ok.status_code == 200, ok.text
    body = assert_rejected(api, with_field(spec.path, too_long), spec.path)
    assert str(spec.max_length) in body["details"][spec.path]


def test_entity_id_is_required(api: httpx.Client) -> None:
    payload = person()
    del payload["entity_id"]
    assert_rejected(api, payload, "entity_id")


@pytest.mark.parametrize(
    "billing",
    [{}, {"first_name": "Ann"}, {"last_name": "Lee"}, {"first_name": " ", "last_name": "Lee"}],
)
def test_company_name_required_without_both_names(api: httpx.Client, billing: dict) -> None:
    assert_rejected(api, {"entity_id": "E1", "billing": billing}, "company_name")
    ok = api.post(
        "/v2/customer", json={"entity_id": "E1", "billing": billing, "company_name": "Co"}
    )
    assert ok.status_code == 200


def test_both_names_without_company_name_are_enough(api: httpx.Client) -> None:
    payload = {"entity_id": "E1", "billing": {"first_name": "Ann", "last_name": "Lee"}}
    assert api.post("/v2/customer", json=payload).status_code == 200


@pytest.mark.parametrize("path", ["phone_number", "work_phone", "billing.phone", "shipping.phone"])
@pytest.mark.parametrize("value", ["+44 (20) 7946-0000", "020.7946.0000"])
def test_phone_pattern_accepts(api: httpx.Client, path: str, value: str) -> None:
    assert api.post("/v2/customer", json=with_field(path, value)).status_code == 200


@pytest.mark.parametrize("path", ["phone_number", "work_phone", "billing.phone", "shipping.phone"])
@pytest.mark.parametrize("value", ["call me", "+44 20 ext 5", "", "0207\u00a0946"])
def test_phone_pattern_rejects(api: httpx.Client, path: str, value: str) -> None:
    assert_rejected(api, with_field(path, value), path)


@pytest.mark.parametrize("value", ["Dr", "Mrs.", "Lt-Col", "Sir Prof"])
def test_title_pattern_accepts(api: httpx.Client, value: str) -> None:
    assert api.post("/v2/customer", json=person(title=value)).status_code == 200


@pytest.mark.parametrize("value", ["Dr1", "Señor", "M/s", ""])
def test_title_pattern_rejects(api: httpx.Client, value: str) -> None:
    assert_rejected(api, person(title=value), "title")


@pytest.mark.parametrize("value", ["12A", "-1", "1 2", ""])
def test_tax_identifier_pattern(api: httpx.Client, value: str) -> None:
    assert_rejected(api, person(tax={"identifier": value}), "tax.identifier")
    assert api.post("/v2/customer", json=person(tax={"identifier": "0012"})).status_code == 200


@pytest.mark.parametrize("value", ["o'brien+tag@example.com", "a.b-c@sub.example.co.uk"])
def test_email_format_accepts(api: httpx.Client, value: str) -> None:
    assert api.post("/v2/customer", json=person(email_address=value)).status_code == 200


@pytest.mark.parametrize("value", ["plainaddress", "a@b", "a@@example.com", "a b@example.com"])
def test_email_format_rejects(api: httpx.Client, value: str) -> None:
    body = assert_rejected(api, person(email_address=value), "email_address")
    assert value not in body["details"]["email_address"]  # reasons carry no shopper data


@pytest.mark.parametrize("path", ["billing.country_code", "shipping.country_code"])
@pytest.mark.parametrize("value", ["gb", "GBR", "UK", "XX", "826", ""])
def test_country_code_must_be_alpha_2(api: httpx.Client, path: str, value: str) -> None:
    assert_rejected(api, with_field(path, value), path)


def test_known_country_codes_pass(api: httpx.Client) -> None:
    for code in ("US", "DE", "NZ", "JP"):
        assert api.post("/v2/customer", json=with_field("shipping.country_code", code)).is_success


@pytest.mark.parametrize("path", ["nickname", "billing.county", "tax.country", "id"])
def test_unknown_fields_are_rejected(api: httpx.Client, path: str) -> None:
    assert_rejected(api, with_field(path, "x"), path)


@pytest.mark.parametrize("value", [12, True, ["a"], {"a": 1}])
def test_non_string_values_are_rejected(api: httpx.Client, value: object) -> None:
    assert_rejected(api, with_field("billing.city", value), "billing.city")


def test_nested_objects_must_be_objects(api: httpx.Client) -> None:
    assert_rejected(api, person(billing="1 High Street"), "billing")


def test_every_offending_field_is_named_at_once(api: httpx.Client) -> None:
    payload = with_field("billing.city", "x" * 29)
    payload["title"] = "R2D2"
    payload["shipping"] = {"country_code": "ZZ"}
    details = assert_rejected(api, payload, "billing.city")["details"]
    assert {"billing.city", "title", "shipping.country_code"} <= set(details)


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_malformed_or_non_object_bodies_are_400(api: httpx.Client, raw: bytes) -> None:
    response = api.post("/v2/customer", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "body" in response.json()["details"]
