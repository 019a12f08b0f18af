"""One API client for a whole run, shared by every batch and step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.api.pacing.concurrency import default_concurrency
from connectors.api.pacing.pacer import RequestPacer
from engine.target import Target

if TYPE_CHECKING:
    from connectors.api.client import CustomerApi
    from connectors.api.pacing.shared_budget import SharedBudget
    from connectors.state.store import StoreOpener


@dataclass(frozen=True)
class BudgetPlace:
    """Where a run shares its target's API budget with the other runs: the state store (what
    opens it again, on the budget's own thread) and the run's id."""

    store: StoreOpener
    run_id: str


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The uvloop event loop where installed (uvicorn[standard] brings it; not Windows): the client
    spends much of a create in the event loop's own I/O handling, which uvloop does in C
    (bench/RESULTS.md)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return None
    return uvloop.new_event_loop


class ApiSession:
    """The run's client, opened on first use inside the run's event loop: connections, TLS
    set-up and proven credentials carry over from batch to batch (a client per batch re-did
    all three, and its first request went alone). The pacer and the loop are the run's too, so
    the rate limit holds across batches (a limiter belongs to one loop); with a budget place,
    the pacer keeps within this run's share of the target's budget (shared_budget.py)."""

    def __init__(
        self,
        target: Target,
        rate_limit: float | None,
        concurrency: int | None,
        budget: BudgetPlace | None = None,
    ) -> None:
        self.target = target
        self.pacer = RequestPacer(rate_limit)
        self.concurrency = concurrency or default_concurrency(rate_limit)
        self.loop = asyncio.Runner(loop_factory=_loop_factory())
        self.budget_place = budget
        self.budget: SharedBudget | None = None
        self._api: CustomerApi | None = None

    def api(self) -> CustomerApi:
        """The client (call inside the loop)."""
        if self._api is None:
            # Imported here: a run with nothing to send never pays for httpx and tenacity.
            from connectors.api.client import CustomerApi

            target = self.target
            self._api = CustomerApi(
                target.base_url, target.credentials, pacer=self.pacer, concurrency=self.concurrency
            )
            place = self.budget_place
            if place is not None:
                from connectors.api.pacing.shared_budget import SharedBudget, budget_key

                key = budget_key(target.base_url, target.credentials)
                self.budget = SharedBudget(place.store, key, place.run_id, self.pacer)
                self.budget.start()
        return self._api

    def close(self) -> None:
        """Close the client's connections, if it was ever opened, and the loop."""
        if self.budget is not None:
            self.loop.run(self.budget.stop())
            self.budget = None
        if self._api is not None:
            self.loop.run(self._api.aclose())
            self._api = None
        self.loop.close()

    def __enter__(self) -> ApiSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
