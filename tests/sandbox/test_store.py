"""The sandbox's customers in SQLite: stored, replaced whole, searched, with its own clock."""

from __future__ import annotations

from sandbox.rsql import parse
from sandbox.store import CustomerStore


def test_create_replace_delete_with_an_injected_clock() -> None:
    now = [1_800_000_000_000]
    store = CustomerStore(":memory:", clock=lambda: now[0])
    made = store.create({"entity_id": "E1", "company_name": "Acme"})
    assert made["created_at"] == made["updated_at"] == "2027-01-15T08:00:00.000Z"
    now[0] += 1_500
    replaced = store.replace(made["id"], {"entity_id": "E1", "company_name": "Acme Ltd"})
    assert replaced is not None and replaced["created_at"] == made["created_at"]
    assert replaced["updated_at"] == "2027-01-15T08:00:01.500Z"
    assert store.get(made["id"]) == replaced and store.count() == 1
    assert store.replace("00000000-0000-0000-0000-000000000000", {"entity_id": "E1"}) is None
    assert store.delete(made["id"]) and not store.delete(made["id"]) and store.count() == 0
    store.close()


def test_search_pages_in_order() -> None:
    store = CustomerStore(":memory:")
    for n in range(5):
        store.create({"entity_id": "E1", "company_name": f"C{n}"})
    query = parse('entity_id=="E1"')
    pages = [store.search(query, "created_at", False, page, 2) for page in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    names = [c["company_name"] for page in pages for c in page]
    assert names == ["C0", "C1", "C2", "C3", "C4"]
    newest = store.search(query, "created_at", True, 1, 1)
    assert newest[0]["company_name"] == "C4"
    store.close()


def test_the_sandbox_file_is_readable_by_its_owner_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "data" / "sandbox.db"
    store = CustomerStore(path)
    store.create({"entity_id": "E1", "email_address": "a@example.com"})
    modes = {p.name: p.stat().st_mode & 0o777 for p in path.parent.iterdir()}
    store.close()
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert modes and all(mode == 0o600 for mode in modes.values()), modes
