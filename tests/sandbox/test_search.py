"""RSQL search over HTTP: operators by field type, precedence, quoting, dates, order and paging."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.api.rsql import all_of, equals, quote


@pytest.fixture(scope="module")
def people(sandbox_server: Any) -> Iterator[dict[str, Any]]:
    """Five customers under an entity of their own, created 20 ms apart, keyed by first name."""
    from tests.helpers import KEY, USER

    entity = f"search-{uuid.uuid4().hex[:8]}"
    rows = [
        ("Ann", "London", "GB", "ann@example.com", "+44 20 7946 0001"),
        ("Bob", "Paris", "FR", "bob@example.com", "+33 1 2345 6789"),
        ("Cid", "Paris", "FR", "cid@example.org", "555 0100"),
        ("Dee", "Ohio City", "US", "o'brien+tag@example.com", "555 0200"),
        ("Eve", "Berlin", "DE", "eve=q!x~{y}@example.com", "555 0300"),
    ]
    created: dict[str, Any] = {}
    with httpx.Client(base_url=sandbox_server.url, auth=(USER, KEY)) as client:
        for first, city, country, email, phone in rows:
            payload = {
                "entity_id": entity,
                "email_address": email,
                "billing": {
                    "first_name": first,
                    "last_name": "Test",
                    "city": city,
                    "country_code": country,
                },
                "shipping": {"phone": phone, "city": city},
            }
            if first == "Eve":
                payload["company_name"] = 'A, B; (C) "D"'
            response = client.post("/v2/customer", json=payload)
            assert response.status_code == 200, response.text
            created[first] = response.json()
            time.sleep(0.02)
    yield {"entity": entity, **created}


def names(api: httpx.Client, people: dict[str, Any], search: str, **params: Any) -> list[str]:
    query = f"entity_id=={people['entity']};({search})"
    response = api.get("/v2/customer", params={"search": query, **params})
    assert response.status_code == 200, response.text
    return [c["billing"]["first_name"] for c in response.json()]


def sorted_names(api: httpx.Client, people: dict[str, Any], search: str) -> list[str]:
    return sorted(names(api, people, search))


def test_equality_and_inequality(api: httpx.Client, people: dict) -> None:
    assert sorted_names(api, people, "billing.city==Paris") == ["Bob", "Cid"]
    assert sorted_names(api, people, "billing.city!=Paris") == ["Ann", "Dee", "Eve"]


def test_not_equal_includes_customers_without_the_field(api: httpx.Client, people: dict) -> None:
    assert sorted_names(api, people, "company_name!=x") == ["Ann", "Bob", "Cid", "Dee", "Eve"]


def test_in_and_out(api: httpx.Client, people: dict) -> None:
    assert sorted_names(api, people, "billing.country_code=in=(GB,DE)") == ["Ann", "Eve"]
    assert sorted_names(api, people, "billing.country_code=out=(GB,DE,FR)") == ["Dee"]


def test_regex_finds_the_pattern(api: httpx.Client, people: dict) -> None:
    assert sorted_names(api, people, "email_address=regex='@example\\.org$'") == ["Cid"]
    assert sorted_names(api, people, "billing.city=regex=^P") == ["Bob", "Cid"]


def test_and_binds_tighter_than_or(api: httpx.Client, people: dict) -> None:
    # a,b;c == a,(b;c)
    search = "billing.first_name==Ann,billing.city==Paris;billing.first_name==Cid"
    assert sorted_names(api, people, search) == ["Ann", "Cid"]
    search = "(billing.first_name==Ann,billing.city==Paris);billing.first_name==Cid"
    assert sorted_names(api, people, search) == ["Cid"]


def test_quoted_values_with_reserved_characters(api: httpx.Client, people: dict) -> None:
    assert sorted_names(api, people, "billing.city=='Ohio City'") == ["Dee"]
    assert sorted_names(api, people, 'billing.city=="Ohio City"') == ["Dee"]
    assert sorted_names(api, people, equals("email_address", "o'brien+tag@example.com")) == ["Dee"]
    assert sorted_names(api, people, "email_address=='o\\'brien+tag@example.com'") == ["Dee"]
    assert sorted_names(api, people, equals("email_address", "eve=q!x~{y}@example.com")) == ["Eve"]
    assert sorted_names(api, people, equals("company_name", 'A, B; (C) "D"')) == ["Eve"]
    # A prefix of a value is not the value: no wildcard, no partial match.
    assert sorted_names(api, people, equals("company_name", "A, B")) == []


def test_date_comparisons(api: httpx.Client, people: dict) -> None:
    cid_created = people["Cid"]["created_at"]
    assert sorted_names(api, people, f"created_at=ge={quote(cid_created)}") == ["Cid", "Dee", "Eve"]
    assert sorted_names(api, people, f"created_at=lt={quote(cid_created)}") == ["Ann", "Bob"]
    assert sorted_names(api, people, f"created_at=={quote(cid_created)}") == ["Cid"]
    assert sorted_names(api, people, "updated_at=gt=2000-01-01") == [
        "Ann",
        "Bob",
        "Cid",
        "Dee",
        "Eve",
    ]
    assert sorted_names(api, people, "created_at<2000-01-01T00:00:00+02:00") == []


def test_numeric_comparison_on_shipping_phone(api: httpx.Client, people: dict) -> None:
    assert sorted_names(api, people, "shipping.phone=ge=5550200;shipping.phone=lt=5550300") == [
        "Dee"
    ]


def test_default_order_is_newest_first(api: httpx.Client, people: dict) -> None:
    assert names(api, people, "id!=x") == ["Eve", "Dee", "Cid", "Bob", "Ann"]


def test_order_criteria_and_direction(api: httpx.Client, people: dict) -> None:
    got = names(api, people, "id!=x", order_criteria="billing.first_name", order_by="ASC")
    assert got == ["Ann", "Bob", "Cid", "Dee", "Eve"]
    got = names(api, people, "id!=x", order_criteria="email_address", order_by="DESC")
    assert got == ["Dee", "Eve", "Cid", "Bob", "Ann"]


def test_paging(api: httpx.Client, people: dict) -> None:
    pages = [
        names(api, people, "id!=x", order_by="ASC", page_size=2, page_number=n)
        for n in (1, 2, 3, 4)
    ]
    assert pages == [["Ann", "Bob"], ["Cid", "Dee"], ["Eve"], []]


def test_default_page_size_is_50(api: httpx.Client) -> None:
    entity = f"paging-{uuid.uuid4().hex[:8]}"
    for n in range(55):
        api.post("/v2/customer", json={"entity_id": entity, "company_name": f"Co {n}"})
    response = api.get("/v2/customer", params={"search": f"entity_id=={entity}"})
    assert len(response.json()) == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "search"),
        ({"search": ""}, "search"),
        ({"search": "email_address=="}, "search"),
        ({"search": "(billing.city==Paris"}, "search"),
        ({"search": "billing.city=Paris"}, "search"),
        ({"search": "billing.city=='Paris"}, "search"),
        ({"search": "nickname==x"}, "search"),
        ({"search": "billing.city=gt=Paris"}, "search"),
        ({"search": "created_at=regex=2026"}, "search"),
        ({"search": "created_at=ge=yesterday"}, "search"),
        ({"search": "email_address=regex=(unclosed"}, "search"),
        ({"search": "billing.city==(a,b)"}, "search"),
        ({"search": "id!=x", "order_by": "UP"}, "order_by"),
        ({"search": "id!=x", "order_criteria": "nickname"}, "order_criteria"),
        ({"search": "id!=x", "page_number": "0"}, "page_number"),
        ({"search": "id!=x", "page_size": "ten"}, "page_size"),
    ],
)
def test_bad_searches_are_400_naming_the_parameter(
    api: httpx.Client, params: dict, field: str
) -> None:
    response = api.get("/v2/customer", params=params)
    assert response.status_code == 400, response.text
    assert field in response.json()["details"]


def test_syntax_error_says_where_it_broke(api: httpx.Client) -> None:
    response = api.get("/v2/customer", params={"search": "billing.city==Paris;(email_address=="})
    details = response.json()["details"]
    assert details["position"] == len("billing.city==Paris;(email_address==")
    assert "position" in details["search"]


company_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=100
).filter(lambda s: s.strip() != "")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=company_names)
def test_any_quoted_value_matches_itself_and_nothing_else(api: httpx.Client, name: str) -> None:
    entity = "quoting-property"
    created = api.post("/v2/customer", json={"entity_id": entity, "company_name": name})
    assert created.status_code == 200, created.text
    decoy = api.post("/v2/customer", json={"entity_id": entity, "company_name": name + "x"})
    assert decoy.status_code == 200
    search = all_of([equals("entity_id", entity), equals("company_name", name)])
    found = api.get("/v2/customer", params={"search": search, "page_size": 500}).json()
    assert {c["company_name"] for c in found} == {name}
    assert created.json()["id"] in {c["id"] for c in found}
