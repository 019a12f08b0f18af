"""What each answer of the Customer API means, decided before anything waits on it: a table.

A response's status, or the transport error that stood in for one, and whether the call is
safe to repeat (idempotent), give one ``Handling``::

    status / error                     idempotent      create (not idempotent)
    2xx                                DONE            DONE
    3xx                                STOP_TARGET     STOP_TARGET   the URL is not the API's
    401, 403                           STOP_AUTH       STOP_AUTH     the run's fault
    404                                NOT_FOUND       NOT_FOUND     (an update: it vanished)
    408                                RETRY           AMBIGUOUS     a timeout; maybe started
    409                                FAILED          FAILED        a conflict: not the data's
    414, other 4xx                     ROW_ERROR       ROW_ERROR     the row's (request's) fault
    429                                RATE_LIMITED    RATE_LIMITED  the gateway refused it
    503                                RETRY           RETRY         unavailable: not processed
    500, 502, 504, other 5xx           RETRY           AMBIGUOUS     it may have happened
    other statuses (1xx)               FAILED          FAILED
    TLS: certificate, handshake        STOP_TARGET     STOP_TARGET   no retry can mend it
    not sent (connect errors)          RETRY           RETRY         never left this machine
    timeout, reset after sending       RETRY           AMBIGUOUS     it may have happened

A redirect is never followed: it would carry the credentials and shoppers' data to wherever it
points (a login page, http -> https). An AMBIGUOUS create is never re-sent blindly: the loader
searches for what it sent (``engine/loader.py``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import Enum

import aiohttp
import httpx


class Decision(Enum):
    """What one logical call (all its attempts) came to, for the caller."""

    DONE = "done"
    ROW_ERROR = "row_error"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    FAILED = "failed"


class Handling(Enum):
    """What the client does with one answer."""

    DONE = "done"
    ROW_ERROR = "row_error"
    NOT_FOUND = "not_found"
    FAILED = "failed"  # the row failed; repeating the same request cannot help
    AMBIGUOUS = "ambiguous"  # a write that may have happened: the caller reconciles
    RETRY = "retry"  # the moment's fault: back off and send again
    RATE_LIMITED = "rate_limited"  # a retry that also slows the pacer
    STOP_AUTH = "stop_auth"  # no request of the run can succeed: stop
    STOP_TARGET = "stop_target"


@dataclass(frozen=True)
class StatusRule:
    """Statuses ``first``..``last`` and what they mean for idempotent calls and for creates."""

    first: int
    last: int
    idempotent: Handling
    create: Handling


H = Handling
# First match wins: single statuses before the classes they belong to.
STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule(200, 299, H.DONE, H.DONE),
    StatusRule(300, 399, H.STOP_TARGET, H.STOP_TARGET),
    StatusRule(401, 401, H.STOP_AUTH, H.STOP_AUTH),
    StatusRule(403, 403, H.STOP_AUTH, H.STOP_AUTH),
    StatusRule(404, 404, H.NOT_FOUND, H.NOT_FOUND),
    StatusRule(408, 408, H.RETRY, H.AMBIGUOUS),
    StatusRule(409, 409, H.FAILED, H.FAILED),
    StatusRule(429, 429, H.RATE_LIMITED, H.RATE_LIMITED),
    StatusRule(400, 499, H.ROW_ERROR, H.ROW_ERROR),
    StatusRule(503, 503, H.RETRY, H.RETRY),
    StatusRule(500, 599, H.RETRY, H.AMBIGUOUS),
)

# Raised before the request left this machine: always safe to send again.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def classify_status(status: int, idempotent: bool) -> Handling:
    """What an answer with this status means (the table above)."""
    for rule in STATUS_RULES:
        if rule.first <= status <= rule.last:
            return rule.idempotent if idempotent else rule.create
    return Handling.FAILED


# Under httpx, the aiohttp transport (httpx-aiohttp) maps every aiohttp connection error to
# httpx.ConnectTimeout, a server that hung up after taking the request included: read as "not
# sent", a create would be sent twice. So its errors are judged by what aiohttp raised: only a
# failure to connect at all means nothing left.
AIOHTTP_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
)


def classify_error(error: Exception, idempotent: bool) -> Handling:
    """What a transport error instead of an answer means."""
    cause = error.__cause__
    if isinstance(cause, aiohttp.ClientError | TimeoutError):
        if isinstance(cause, AIOHTTP_NOT_SENT_ERRORS):
            return Handling.RETRY
        return Handling.RETRY if idempotent else Handling.AMBIGUOUS
    if isinstance(error, NOT_SENT_ERRORS):
        return Handling.RETRY
    if isinstance(error, httpx.TransportError):
        return Handling.RETRY if idempotent else Handling.AMBIGUOUS
    return Handling.FAILED


def tls_failure(error: BaseException) -> str | None:
    """Why TLS failed, when it did (a certificate that does not verify, a handshake refused):
    no retry can mend that, and every one would fail the same way."""
    seen: BaseException | None = error
    for _ in range(8):  # the chain: httpx's error, aiohttp's, ssl's
        if seen is None:
            return None
        if isinstance(seen, aiohttp.ClientConnectorCertificateError):
            seen = seen.certificate_error  # aiohttp's wraps ssl's, which says why
            continue
        if isinstance(seen, ssl.SSLCertVerificationError):
            why = getattr(seen, "verify_message", None) or getattr(seen, "reason", None)
            return f"certificate verify failed ({why or 'untrusted'})"
        if isinstance(seen, ssl.SSLError):
            return f"TLS handshake failed ({seen.reason or type(seen).__name__})"
        seen = seen.__cause__ or seen.__context__
    return None
