"""Reading many customers by UUID at the price of few requests: one search per hundred ids
(``id=in=(...)``), and a GET only for what a search did not return.

A search cannot tell a deleted customer from one it left out, so every id missing from a search
is asked for by GET: a 404 there is what says "vanished". That also keeps the fetch right on an
API that caps ``page_size`` below what was asked (the next searches ask for no more than it
gave) or that does not search by ``id`` (searching stops; GETs alone, as before).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.api.rsql import one_of
from connectors.errors import ApiStopError

if TYPE_CHECKING:
    from connectors.api.client import ApiResult, CustomerApi

# 100 quoted UUIDs make a query string of about 4 KB: under the 8 KB request line that common
# servers and proxies accept.
SEARCH_IDS = 100


async def every(coroutines: list[Coroutine[Any, Any, ApiResult]]) -> list[ApiResult]:
    """Every result, concurrently (the client paces them); refused credentials cancel the rest
    at once and are raised as themselves."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except* ApiStopError as refused:
        raise refused.exceptions[0] from None
    return [t.result() for t in tasks]


@dataclass
class Fetched:
    """Records found, and how many ids the API no longer knows."""

    records: list[dict[str, Any]]
    vanished: int


class RecordFetcher:
    """Fetches customers by UUID for a whole run, learning how far the API's search can be used."""

    def __init__(self, ids_per_search: int = SEARCH_IDS) -> None:
        self.ids_per_search = ids_per_search
        self.searching = True

    async def fetch(self, api: CustomerApi, ids: list[str]) -> Fetched:
        """The API's records of ``ids`` (in no particular order); and how many have vanished."""
        from connectors.api.answers import Answer

        chunks = self._chunks(ids)
        pages = await every([api.search(one_of("id", c), page_size=len(c)) for c in chunks])
        found: dict[str, dict[str, Any]] = {}
        returned: list[int | None] = []  # per search: customers given, None when it failed
        for chunk, page in zip(chunks, pages, strict=True):
            if page.answer is Answer.ROW_ERROR:
                # The query itself refused (too long a URL, no search by id): ask smaller ones.
                self._narrow(len(chunk) // 2)
            answered = page.answer is Answer.DONE  # (the client reads a 404 as empty)
            body = page.body if answered and isinstance(page.body, list) else []
            wanted = set(chunk)
            hits = [r for r in body if isinstance(r, dict) and r.get("id") in wanted]
            found.update((r["id"], r) for r in hits)
            returned.append(len(hits) if answered else None)
        missing = [i for i in ids if i not in found]
        singles = await every([api.get(i) for i in missing])
        done = [r.answer is Answer.DONE for r in singles]
        self._learn(chunks, returned, {i for i, ok in zip(missing, done, strict=True) if ok})
        records = [*found.values(), *(r.body for r, ok in zip(singles, done, strict=True) if ok)]
        vanished = sum(1 for r in singles if r.answer is Answer.NOT_FOUND)
        return Fetched(records, vanished)

    def _chunks(self, ids: list[str]) -> list[list[str]]:
        if not self.searching or len(ids) < 2:
            return []
        size = self.ids_per_search
        return [ids[i : i + size] for i in range(0, len(ids), size)]

    def _narrow(self, size: int) -> None:
        self.ids_per_search = min(self.ids_per_search, size)
        if self.ids_per_search < 2:
            self.searching = False  # one id a search is no better than a GET

    def _learn(
        self, chunks: list[list[str]], returned: list[int | None], recovered: set[str]
    ) -> None:
        """A search that answered but left out customers a GET then found: it returns at most
        that many (a page-size cap), or, having returned none, cannot search by id at all."""
        for chunk, count in zip(chunks, returned, strict=True):
            if count is None or not recovered.intersection(chunk):
                continue  # failed (nothing learnt), or what it left out had truly vanished
            self._narrow(count)
