"""What each answer of the Customer API means, decided before anything waits on it: a table.

A response's status, or the transport error that stood in for one, and whether the call is
safe to repeat (idempotent), give one ``Answer``::

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
                                                                     (in a run: RATE_LIMITED,
                                                                     decided by the client)
    500, 502, 504, other 5xx           RETRY           AMBIGUOUS     it may have happened
    other statuses (1xx)               FAILED          FAILED
    TLS: certificate, handshake        STOP_TARGET     STOP_TARGET   no retry can mend it
    not sent (connect errors)          RETRY           RETRY         never left this machine
    timeout, reset after sending       RETRY           AMBIGUOUS     it may have happened

Transport errors arrive translated by the transport (``transport.py``), whatever the backend.
A call's result carries the ``Answer`` it came to: one of the first five below.

A redirect is never followed: it would carry the credentials and shoppers' data to wherever it
points (a login page, http -> https). An AMBIGUOUS create is never re-sent blindly: the loader
searches for what it sent (``engine/loader.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import httpx

from connectors.api.transport import TlsError


class Answer(Enum):
    """What an answer means: for the client (retry, slow down, stop), and for the caller, what
    a call came to (the first five)."""

    DONE = "done"
    ROW_ERROR = "row_error"  # the row's (request's) fault: report it, do not repeat it
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"  # a write that may have happened: the caller reconciles
    FAILED = "failed"  # the row failed; repeating the same request cannot help
    RETRY = "retry"  # the moment's fault: back off and send again
    RATE_LIMITED = "rate_limited"  # a retry that also slows the pacer
    STOP_AUTH = "stop_auth"  # no request of the run can succeed: stop
    STOP_TARGET = "stop_target"


@dataclass(frozen=True)
class StatusRule:
    """Statuses ``first``..``last`` and what they mean for idempotent calls and for creates."""

    first: int
    last: int
    idempotent: Answer
    create: Answer


A = Answer
# First match wins: single statuses before the classes they belong to.
STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule(200, 299, A.DONE, A.DONE),
    StatusRule(300, 399, A.STOP_TARGET, A.STOP_TARGET),
    StatusRule(401, 401, A.STOP_AUTH, A.STOP_AUTH),
    StatusRule(403, 403, A.STOP_AUTH, A.STOP_AUTH),
    StatusRule(404, 404, A.NOT_FOUND, A.NOT_FOUND),
    StatusRule(408, 408, A.RETRY, A.AMBIGUOUS),
    StatusRule(409, 409, A.FAILED, A.FAILED),
    StatusRule(429, 429, A.RATE_LIMITED, A.RATE_LIMITED),
    StatusRule(400, 499, A.ROW_ERROR, A.ROW_ERROR),
    StatusRule(503, 503, A.RETRY, A.RETRY),
    StatusRule(500, 599, A.RETRY, A.AMBIGUOUS),
)

# Raised before the request left this machine (as the transport tells): safe to send again.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def classify_status(status: int, idempotent: bool) -> Answer:
    """What an answer with this status means (the table above)."""
    for rule in STATUS_RULES:
        if rule.first <= status <= rule.last:
            return rule.idempotent if idempotent else rule.create
    return Answer.FAILED


def classify_error(error: Exception, idempotent: bool) -> Answer:
    """What a transport error instead of an answer means."""
    if isinstance(error, TlsError):
        return Answer.STOP_TARGET
    if isinstance(error, NOT_SENT_ERRORS):
        return Answer.RETRY
    if isinstance(error, httpx.TransportError):
        return Answer.RETRY if idempotent else Answer.AMBIGUOUS
    return Answer.FAILED
