"""Fetching many customers by UUID: a search per hundred ids, GETs only for what a search left
out; right on an API that caps its pages (it learns the cap), against the sandbox on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from connectors.api.bulk_fetch import Fetched, RecordFetcher
from connectors.api.client import CustomerApi
from connectors.api.targets import Credentials
from sandbox.faults import FaultSettings
from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxProcess]:
    with SandboxProcess(users={USER: KEY}) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def customers(server: SandboxProcess) -> tuple[list[str], list[str]]:
    """250 customers that exist, and 5 that did (deleted)."""
    with httpx.Client(base_url=server.url, auth=(USER, KEY)) as api:
        ids = [
            api.post("/v2/customer", json={"entity_id": "bulk", "company_name": f"C{i}"}).json()[
                "id"
            ]
            for i in range(255)
        ]
        for gone in ids[100:105]:
            assert api.delete(f"/v2/customer/{gone}").status_code == 204
    return ids[:100] + ids[105:], ids[100:105]


def fetch(server: SandboxProcess, fetcher: RecordFetcher, ids: list[str]) -> tuple[Fetched, int]:
    async def go() -> tuple[Fetched, int]:
        async with CustomerApi(server.url, Credentials(user_uid=USER, api_key=KEY)) as api:
            fetched = await fetcher.fetch(api, ids)
            return fetched, api.counters.requests

    return asyncio.run(go())


def test_a_search_per_hundred_ids_and_a_get_per_vanished_one(
    server: SandboxProcess, customers: tuple[list[str], list[str]]
) -> None:
    live, gone = customers
    ids = live[:150] + gone + live[150:]
    fetched, requests = fetch(server, RecordFetcher(), ids)
    assert sorted(r["id"] for r in fetched.records) == sorted(live)
    assert fetched.vanished == 5
    assert requests == 3 + 5  # 255 ids: three searches; the five missing confirmed by GET
    record = next(r for r in fetched.records if r["id"] == live[0])
    assert record["company_name"] == "C0" and record["entity_id"] == "bulk"


def test_short_pages_are_not_taken_for_vanished_customers(
    server: SandboxProcess, customers: tuple[list[str], list[str]]
) -> None:
    live, gone = customers
    server.admin("POST", "/_sandbox/faults", {"max_page_size": 40}).raise_for_status()
    try:
        fetcher = RecordFetcher()
        first, first_requests = fetch(server, fetcher, live + gone)
        assert sorted(r["id"] for r in first.records) == sorted(live) and first.vanished == 5
        # 100 + 100 + 55 asked, 40 + 40 + 40 given: the rest by GET, and the cap is learnt.
        assert first_requests == 3 + (60 + 60 + 15) and fetcher.ids_per_search == 40
        second, second_requests = fetch(server, fetcher, live + gone)
        assert sorted(r["id"] for r in second.records) == sorted(live) and second.vanished == 5
        assert second_requests == 7 + 5  # 255 ids in searches of 40; the vanished by GET
    finally:
        server.admin("POST", "/_sandbox/faults", {}).raise_for_status()


def test_searches_too_long_for_the_gateway_are_narrowed(
    server: SandboxProcess, customers: tuple[list[str], list[str]]
) -> None:
    live, gone = customers
    faults = {"max_url_length": 2000}  # a 100-id search is about 4.5 KB of URL
    server.admin("POST", "/_sandbox/faults", faults).raise_for_status()
    try:
        fetcher = RecordFetcher()
        first, _ = fetch(server, fetcher, live + gone)
        assert sorted(r["id"] for r in first.records) == sorted(live) and first.vanished == 5
        assert fetcher.searching and fetcher.ids_per_search <= 50
        second, requests = fetch(server, fetcher, live + gone)
        assert sorted(r["id"] for r in second.records) == sorted(live) and second.vanished == 5
        searches = -(-255 // fetcher.ids_per_search)
        assert requests == searches + 5  # every search now fits; GETs for the vanished only
    finally:
        server.admin("POST", "/_sandbox/faults", {}).raise_for_status()


def test_a_single_id_is_one_get(
    server: SandboxProcess, customers: tuple[list[str], list[str]]
) -> None:
    live, _ = customers
    fetched, requests = fetch(server, RecordFetcher(), live[:1])
    assert [r["id"] for r in fetched.records] == live[:1] and requests == 1


def test_the_knobs_are_checked() -> None:
    with pytest.raises(ValueError, match="max-page-size"):
        FaultSettings(max_page_size=0)
    with pytest.raises(ValueError, match="max-url-length"):
        FaultSettings(max_url_length=10)
