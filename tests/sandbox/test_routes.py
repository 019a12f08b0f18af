"""Create, get, update, delete and the response shape, over HTTP."""

from __future__ import annotations

import uuid

import httpx

from tests.helpers import person

RESPONSE_KEYS = {"id", "entity_id", "created_at", "updated_at"}


def test_create_returns_the_record_with_id_and_timestamps(api: httpx.Client) -> None:
    response = api.post("/v2/customer", json=person(title="Dr"))
    assert response.status_code == 200
    body = response.json()
    uuid.UUID(body["id"])
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")
    assert set(body) == RESPONSE_KEYS | {"email_address", "billing", "title"}
    assert body["billing"]["postal_code"] == "SW1A 1AA"


def test_get_returns_what_create_returned(api: httpx.Client) -> None:
    created = api.post("/v2/customer", json=person()).json()
    fetched = api.get(f"/v2/customer/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_null_fields_are_absent_not_echoed(api: httpx.Client) -> None:
    body = api.post("/v2/customer", json=person(company_name=None, tax=None)).json()
    assert "company_name" not in body and "tax" not in body


def test_update_replaces_the_whole_record_keeping_created_at(api: httpx.Client) -> None:
    created = api.post("/v2/customer", json=person(title="Dr", phone_number="+44 20 7946 0000"))
    created_body = created.json()
    replacement = {"entity_id": "E1", "company_name": "Acme Ltd"}
    updated = api.post(f"/v2/customer/{created_body['id']}", json=replacement)
    assert updated.status_code == 200
    body = updated.json()
    assert body["created_at"] == created_body["created_at"]
    assert body["updated_at"] > created_body["updated_at"]
    assert set(body) == RESPONSE_KEYS | {"company_name"}  # title, phone, billing gone
    assert api.get(f"/v2/customer/{body['id']}").json() == body


def test_update_is_validated_like_create(api: httpx.Client) -> None:
    created = api.post("/v2/customer", json=person()).json()
    response = api.post(f"/v2/customer/{created['id']}", json={"entity_id": "E1"})
    assert response.status_code == 400
    assert "company_name" in response.json()["details"]


def test_delete_answers_204_and_the_customer_is_gone(api: httpx.Client) -> None:
    created = api.post("/v2/customer", json=person()).json()
    response = api.delete(f"/v2/customer/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"/v2/customer/{created['id']}").status_code == 404
    assert api.delete(f"/v2/customer/{created['id']}").status_code == 404


def test_unknown_id_is_404_with_error_response(api: httpx.Client) -> None:
    unknown = str(uuid.uuid4())
    for response in (
        api.get(f"/v2/customer/{unknown}"),
        api.post(f"/v2/customer/{unknown}", json=person()),
        api.delete(f"/v2/customer/{unknown}"),
    ):
        assert response.status_code == 404
        assert set(response.json()) == {"code", "message", "details", "timestamp"}
        assert response.json()["code"] == 404


def test_malformed_id_is_400(api: httpx.Client) -> None:
    for response in (
        api.get("/v2/customer/not-a-uuid"),
        api.post("/v2/customer/12345", json=person()),
        api.delete("/v2/customer/zzz"),
    ):
        assert response.status_code == 400
        assert "customerId" in response.json()["details"]


def test_error_response_shape(api: httpx.Client) -> None:
    body = api.post("/v2/customer", json={}).json()
    assert isinstance(body["code"], int) and 100 <= body["code"] <= 999
    assert isinstance(body["message"], str)
    assert isinstance(body["details"], dict)
    assert isinstance(body["timestamp"], int)
