"""The classification table, without a server: every status class and transport error."""

from __future__ import annotations

import httpx
import pytest

from connectors.api.answers import Answer, classify_error, classify_status
from connectors.api.transport import TlsError

H = Answer


@pytest.mark.parametrize(
    ("status", "idempotent", "create"),
    [
        (200, H.DONE, H.DONE),
        (204, H.DONE, H.DONE),
        (301, H.STOP_TARGET, H.STOP_TARGET),
        (302, H.STOP_TARGET, H.STOP_TARGET),
        (307, H.STOP_TARGET, H.STOP_TARGET),
        (400, H.ROW_ERROR, H.ROW_ERROR),
        (401, H.STOP_AUTH, H.STOP_AUTH),
        (403, H.STOP_AUTH, H.STOP_AUTH),
        (404, H.NOT_FOUND, H.NOT_FOUND),
        (408, H.RETRY, H.AMBIGUOUS),
        (409, H.FAILED, H.FAILED),
        (414, H.ROW_ERROR, H.ROW_ERROR),
        (422, H.ROW_ERROR, H.ROW_ERROR),
        (429, H.RATE_LIMITED, H.RATE_LIMITED),
        (500, H.RETRY, H.AMBIGUOUS),
        (502, H.RETRY, H.AMBIGUOUS),
        (503, H.RETRY, H.RETRY),
        (504, H.RETRY, H.AMBIGUOUS),
        (599, H.RETRY, H.AMBIGUOUS),
        (101, H.FAILED, H.FAILED),
        (600, H.FAILED, H.FAILED),
    ],
)
def test_every_status_has_a_decision(status: int, idempotent: Answer, create: Answer) -> None:
    assert classify_status(status, idempotent=True) is idempotent
    assert classify_status(status, idempotent=False) is create


def test_no_status_of_a_success_or_redirect_is_the_rows_fault() -> None:
    # Before the table, a 3xx counted as the row's fault: every row rejected, exit 0.
    for status in range(200, 400):
        assert classify_status(status, idempotent=False) in (H.DONE, H.STOP_TARGET)


REQUEST = httpx.Request("POST", "http://127.0.0.1/oidc/customer-service/v2/customer")


@pytest.mark.parametrize(
    ("error", "idempotent", "create"),
    [
        (TlsError("certificate verify failed (self-signed)", "h"), H.STOP_TARGET, H.STOP_TARGET),
        (httpx.ConnectError("refused", request=REQUEST), H.RETRY, H.RETRY),
        (httpx.ConnectTimeout("slow", request=REQUEST), H.RETRY, H.RETRY),
        (httpx.PoolTimeout("pool", request=REQUEST), H.RETRY, H.RETRY),
        (httpx.ReadTimeout("slow", request=REQUEST), H.RETRY, H.AMBIGUOUS),
        (httpx.WriteError("cut", request=REQUEST), H.RETRY, H.AMBIGUOUS),
        (httpx.RemoteProtocolError("reset", request=REQUEST), H.RETRY, H.AMBIGUOUS),
        (httpx.ReadError("reset", request=REQUEST), H.RETRY, H.AMBIGUOUS),
        (ValueError("not a transport error"), H.FAILED, H.FAILED),
    ],
)
def test_transport_errors(error: Exception, idempotent: Answer, create: Answer) -> None:
    assert classify_error(error, idempotent=True) is idempotent
    assert classify_error(error, idempotent=False) is create
