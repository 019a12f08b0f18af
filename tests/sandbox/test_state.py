"""The API's ErrorResponse, as every sandbox error answers it."""

from __future__ import annotations

import json
import time

from sandbox.state import ApiError, error_response


def test_error_response_shape_and_headers() -> None:
    response = error_response(
        429, "Too many requests", {"retry_after_s": 1.5}, **{"Retry-After": "2"}
    )
    body = json.loads(bytes(response.body))
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert (body["code"], body["message"], body["details"]) == (
        429, "Too many requests", {"retry_after_s": 1.5},
    )  # fmt: skip
    assert abs(body["timestamp"] - time.time()) < 5
    assert json.loads(bytes(error_response(500, "x").body))["details"] == {}


def test_api_error_carries_its_answer() -> None:
    error = ApiError(400, "Invalid", {"field": "bad"})
    assert (error.status, error.message, error.details, str(error)) == (
        400, "Invalid", {"field": "bad"}, "Invalid",
    )  # fmt: skip
