"""The sandbox's OpenAPI 3.0 document, built from the same field table the rules come from.

Paths, methods, status codes and schemas follow the Customer API reference (API version 1.17.0).
Served at ``GET /_sandbox/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from schemas.api_fields import (
    ADDRESS_FIELDS,
    OBJECT_FIELDS,
    SEARCHABLE_FIELDS,
    TOP_LEVEL_FIELDS,
    ApiField,
)

BASE_PATH = "/oidc/customer-service"
API_VERSION = "1.17.0"


def _string_schema(spec: ApiField, nullable: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if spec.max_length is not None:
        schema["maxLength"] = spec.max_length
    if spec.pattern is not None:
        schema["pattern"] = spec.pattern
    if spec.kind == "email":
        schema["format"] = "email"
    if spec.kind == "country":
        schema["pattern"] = "^[A-Z]{2}$"
        schema["description"] = "ISO 3166-1 alpha-2"
    if nullable:
        schema["nullable"] = True
    return schema


def _object_ref(name: str, nullable: bool) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{name}"}
    # OpenAPI 3.0 ignores siblings of $ref, so a nullable reference has to be wrapped.
    return {"allOf": [ref], "nullable": True} if nullable else ref


def _customer_properties(nullable: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {f.path: _string_schema(f, nullable) for f in TOP_LEVEL_FIELDS}
    properties["billing"] = _object_ref("Billing", nullable)
    properties["shipping"] = _object_ref("Shipping", nullable)
    properties["tax"] = _object_ref("Tax", nullable)
    return properties


def _object_schema(fields: tuple[ApiField, ...]) -> dict[str, Any]:
    # Shared by requests and responses; a null field inside is read as absent either way.
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {f.path: _string_schema(f, nullable=True) for f in fields},
    }


def _request_schema() -> dict[str, Any]:
    # null means absent (as in the Java DTOs behind the API), so every field accepts it.
    properties = _customer_properties(nullable=True)
    return {
        "type": "object",
        "required": ["entity_id"],
        "additionalProperties": False,
        "description": "company_name is required when billing.first_name and billing.last_name "
        "are absent.",
        "properties": properties,
    }


def _response_schema() -> dict[str, Any]:
    properties = {
        "id": {"type": "string", "format": "uuid"},
        **_customer_properties(nullable=False),
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    }
    return {
        "type": "object",
        "required": ["id", "entity_id", "created_at", "updated_at"],
        "additionalProperties": False,
        "properties": properties,
    }


def _errors(*statuses: int) -> dict[str, Any]:
    descriptions = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        429: "Too many requests",
        500: "Internal server error",
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    return {str(s): {"description": descriptions[s], "content": error} for s in statuses}


ERROR_STATUSES = (400, 401, 403, 404, 500)

_customer = {"application/json": {"schema": {"$ref": "#/components/schemas/CustomerResponse"}}}
_request_body = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CustomerRequest"}}},
}
_customer_id = {
    "name": "customerId",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI document as a dict."""
    ok_customer = {"200": {"description": "OK", "content": _customer}}
    return {
        "openapi": "3.0.1",
        "info": {"title": "Customer API (custsync sandbox)", "version": API_VERSION},
        "servers": [{"url": BASE_PATH}],
        "security": [{"basicAuth": []}, {"bearerAuth": []}],
        "paths": {
            "/v2/customer": {
                "get": {
                    "operationId": "searchCustomers",
                    "parameters": [
                        _query("search", {"type": "string", "minLength": 1}, required=True),
                        _query(
                            "order_criteria", {"type": "string", "enum": sorted(SEARCHABLE_FIELDS)}
                        ),
                        _query("order_by", {"type": "string", "enum": ["ASC", "DESC"]}),
                        _query("page_number", {"type": "integer", "minimum": 1}),
                        _query("page_size", {"type": "integer", "minimum": 1}),
                    ],
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/CustomerResponse"},
                                    }
                                }
                            },
                        },
                        **_errors(*ERROR_STATUSES),
                    },
                },
                "post": {
                    "operationId": "createCustomer",
                    "requestBody": _request_body,
                    "responses": {**ok_customer, **_errors(*ERROR_STATUSES)},
                },
            },
            "/v2/customer/{customerId}": {
                "parameters": [_customer_id],
                "get": {
                    "operationId": "getCustomer",
                    "responses": {**ok_customer, **_errors(*ERROR_STATUSES)},
                },
                "post": {
                    "operationId": "updateCustomer",
                    "requestBody": _request_body,
                    "responses": {**ok_customer, **_errors(*ERROR_STATUSES)},
                },
                "delete": {
                    "operationId": "deleteCustomer",
                    "responses": {"204": {"description": "Deleted"}, **_errors(*ERROR_STATUSES)},
                },
            },
        },
        "components": {
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic"},
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
            "schemas": {
                "CustomerRequest": _request_schema(),
                "CustomerResponse": _response_schema(),
                "Billing": _object_schema(ADDRESS_FIELDS),
                "Shipping": _object_schema(ADDRESS_FIELDS),
                "Tax": _object_schema(OBJECT_FIELDS["tax"]),
                "ErrorResponse": {
                    "type": "object",
                    "required": ["code", "message", "details", "timestamp"],
                    "properties": {
                        "code": {"type": "integer", "minimum": 100, "maximum": 999},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                        "timestamp": {"type": "integer"},
                    },
                },
            },
        },
    }
