"""The sandbox's operating knobs: rate limit, latency and injected faults, plus what they did."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.limiters import LIMITER_SHAPES, Limiter, build_limiter


def knob(default: Any, help: str, **extra: Any) -> Any:
    """A FaultSettings field with its ``custsync sandbox`` help text (the flag is the name)."""
    return field(default=default, metadata={"help": help, **extra})


RETRY_AFTER_FORMS = ("seconds", "date", "none")
# Rate-limit headers on every answer: none; the IETF draft's RateLimit-Limit/-Remaining/-Reset
# (to -06); its -07 Dictionary (RateLimit: limit=, remaining=, reset=); its -08-on List of
# policies (RateLimit: "name";r=;t=, with a daily one beside that never binds here);
# X-RateLimit-Limit/-Remaining/-Reset as Kong, GitHub and others send them (Reset: seconds).
LIMIT_HEADER_FORMS = ("none", "ietf", "ietf-dict", "ietf-list", "x-ratelimit")


@dataclass
class FaultSettings:
    """Knobs; all off by default. Rates are probabilities per API request (lost: per write).

    Each knob is a ``custsync sandbox`` flag of its name (``sandbox/command.py`` builds the
    command line from these fields), and a key of ``POST /_sandbox/faults``."""

    rate_limit: float | None = knob(None, "Token bucket: requests per second (429 past it).")
    burst: int | None = knob(None, "Token bucket size (default: one second).")
    # The limit's shape (sandbox/limiters.py): gateways count requests in different ways.
    limiter: str = knob("token-bucket", "Shape of the rate limit.", choices=LIMITER_SHAPES)
    window_s: float = knob(1.0, "Window of the fixed-window and sliding-log limiters, seconds.")
    window_phase: float = knob(
        0.0, "Seconds the fixed windows (and sliding counts' periods) are shifted from the wall "
        "clock's: a gateway counts from when it started.",
    )  # fmt: skip
    # nginx's limit_req and limit_conn answer 503 by default (limit_req_status); S3's SlowDown
    # is a 503 too.
    limit_status: int = knob(
        429, "Status of a refusal for the rate limit or the in-flight cap.", choices=(429, 503)
    )
    limit_headers: str = knob(
        "none", "Rate-limit headers on every API answer.", choices=LIMIT_HEADER_FORMS
    )
    # Requests being handled at once beyond this are answered 429, as gateways that cap
    # concurrency per client do.
    max_in_flight: int | None = knob(None, "Requests in flight at most; beyond it, 429.")
    # How a 429 says when to come back: delay-seconds, an HTTP-date (RFC 9110 allows both,
    # and gateways use both), or not at all.
    retry_after: str = knob("seconds", "Retry-After on 429s.", choices=RETRY_AFTER_FORMS)
    latency_ms: float = knob(0.0, "Added latency per request.")
    # Real APIs answer in varying times: under a cap on requests in flight, a sender paced by
    # rate alone meets it when a few slow answers overlap.
    latency_jitter_ms: float = knob(0.0, "Up to this much more latency per request, at random.")
    error_rate: float = knob(0.0, "Share of requests answered 500.")
    reset_rate: float = knob(0.0, "Share of connections dropped unanswered.")
    lost_response_rate: float = knob(0.0, "Share of writes committed, then their response dropped.")
    # Searches answer at most this many customers a page, whatever page_size asks: the
    # reference sets no cap, but a client must not take a short page for the whole answer.
    max_page_size: int | None = knob(None, "Cap on the customers a search page returns.")
    # Requests whose path and query exceed this many bytes are answered 414, as gateways do.
    max_url_length: int | None = knob(None, "Longer request URLs are answered 414.")
    # A search that matches nothing is answered 404 instead of 200 [] (some APIs do).
    empty_search_404: bool = knob(False, "Answer searches that match nothing 404.")
    # 400s quote the value they refused, as Spring's default validation messages do: a client
    # must keep such echoes of shopper data out of its logs and reports.
    echo_rejected_values: bool = knob(False, "400s quote the values they refuse.")
    # The e-mail address is stored lower-cased, as some APIs normalise it: a client that looks
    # for what it sent, to the letter, no longer finds it.
    lowercase_emails: bool = knob(False, "Store e-mail addresses lower-cased.")

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ValueError naming the first knob out of range."""
        for name in ("error_rate", "reset_rate", "lost_response_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name.replace('_', '-')} must be between 0 and 1")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate-limit must be positive")
        if self.burst is not None and self.burst < 1:
            raise ValueError("burst must be at least 1")
        if self.limiter not in LIMITER_SHAPES:
            raise ValueError(f"limiter must be one of {', '.join(LIMITER_SHAPES)}")
        if not self.window_s > 0:
            raise ValueError("window-s must be positive")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ValueError("max-in-flight must be at least 1")
        if self.max_page_size is not None and self.max_page_size < 1:
            raise ValueError("max-page-size must be at least 1")
        if self.max_url_length is not None and self.max_url_length < 64:
            raise ValueError("max-url-length must be at least 64")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0:
            raise ValueError("latency-ms and latency-jitter-ms must not be negative")
        if self.limit_status not in (429, 503):
            raise ValueError("limit-status must be 429 or 503")
        if self.limit_headers not in LIMIT_HEADER_FORMS:
            raise ValueError(f"limit-headers must be one of {', '.join(LIMIT_HEADER_FORMS)}")
        if self.retry_after not in RETRY_AFTER_FORMS:
            raise ValueError(f"retry-after must be one of {', '.join(RETRY_AFTER_FORMS)}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


def retry_after_header(wait_s: float, form: str = "seconds", now: float | None = None) -> str:
    """``Retry-After`` as whole seconds (never 0, which would invite an instant retry) or as
    the HTTP-date that many seconds on (RFC 9110 allows both)."""
    seconds = max(1, math.ceil(wait_s))
    if form == "date":
        moment = (time.time() if now is None else now) + seconds
        return email.utils.formatdate(math.ceil(moment), usegmt=True)
    return str(seconds)


@dataclass
class SandboxStats:
    """What the sandbox saw, for tests and benchmarks (``GET /_sandbox/stats``)."""

    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    injected_errors: int = 0
    resets: int = 0
    lost_responses: int = 0
    in_flight: int = 0
    peak_concurrency: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_operation": dict(sorted(self.by_operation.items())),
            "writes": {"total": sum(self.writes.values()), **dict(sorted(self.writes.items()))},
            "rate_limited": self.rate_limited,
            "injected_errors": self.injected_errors,
            "resets": self.resets,
            "lost_responses": self.lost_responses,
            "in_flight": self.in_flight,
            "peak_concurrency": self.peak_concurrency,
        }


class FaultInjector:
    """Rolls the dice for each request; seeded for reproducible runs."""

    def __init__(self, settings: FaultSettings, seed: int | None = None) -> None:
        self.settings = settings
        self._random = random.Random(seed)
        self.limiter: Limiter | None = None
        self.reconfigure(settings)

    def reconfigure(self, settings: FaultSettings) -> None:
        """Apply new knobs (a fresh limiter, nothing spent, when a rate limit is set)."""
        self.settings = settings
        if settings.rate_limit is None:
            self.limiter = None
        else:
            self.limiter = build_limiter(
                settings.limiter, settings.rate_limit, settings.burst, settings.window_s,
                settings.window_phase,
            )  # fmt: skip

    def limit_headers(self) -> dict[str, str]:
        """The rate-limit headers an answer carries now (none without a limit or the knob)."""
        form = self.settings.limit_headers
        if form == "none" or self.limiter is None:
            return {}
        limit, remaining, reset = self.limiter.quota()
        left, whole = max(0, remaining), max(0, math.ceil(reset))
        if form == "ietf-dict":
            return {"RateLimit": f"limit={limit}, remaining={left}, reset={whole}"}
        if form == "ietf-list":
            return {"RateLimit": f'"per-window";r={left};t={whole}, "daily";r=86000;t=40000'}
        prefix = "RateLimit-" if form == "ietf" else "X-RateLimit-"
        return {f"{prefix}Limit": str(limit), f"{prefix}Remaining": str(left),
                f"{prefix}Reset": str(whole)}  # fmt: skip

    def rate_limit_wait(self) -> float:
        """0.0 when the request may go on, else seconds until it could."""
        return 0.0 if self.limiter is None else self.limiter.take()

    def roll(self, probability: float) -> bool:
        """True with the given probability."""
        return probability > 0.0 and self._random.random() < probability

    def latency_s(self, settings: FaultSettings) -> float:
        """Seconds one answer is held back: the latency, plus up to the jitter at random."""
        jitter = (
            settings.latency_jitter_ms * self._random.random() if settings.latency_jitter_ms else 0
        )
        return (settings.latency_ms + jitter) / 1000
