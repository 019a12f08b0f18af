"""--match-on against the sandbox as a real server: one API customer is never mapped to two
external ids, adopting never blanks what the API has, and rows without the match fields are
never created silently (issue 14's review, each finding reproduced)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from sandbox.process import SandboxProcess
from tests.helpers import ENV, KEY, USER, export, on_server, people, person, read_csv, sync, write

SHARED = "shared@example.com"


def checkout_customer(server: SandboxProcess, **fields: Any) -> dict[str, Any]:
    """A customer made elsewhere (by checkout, say), as the API answers it."""
    body = person(email_address=SHARED, **fields)
    response = httpx.post(f"{server.url}/v2/customer", auth=(USER, KEY), json=body)
    response.raise_for_status()
    created: dict[str, Any] = response.json()
    return created


def test_rows_sharing_a_match_all_conflict_and_none_adopts(tmp_path: Path) -> None:
    # The review's repro: one customer with an e-mail; an export whose first row proves the
    # credentials and whose next 20 share that e-mail. Before: 14 external ids ended adopted
    # with the same UUID, each update overwriting the others.
    with SandboxProcess(users={USER: KEY}) as server:
        existing = checkout_customer(server)
        rows = people(21)
        for row in rows[1:]:
            row[1] = SHARED if int(row[0][1:]) % 2 else SHARED.upper()  # case does not matter
        code, report, mappings, _ = sync(
            server, tmp_path, export(tmp_path / "a.csv", rows), "one", "--match-on",
            "email_address",
        )  # fmt: skip
        assert code == 1
        by_id = {m["external_id"]: m for m in mappings}
        assert by_id["X0"]["status"] == "created"
        assert {by_id[f"X{i}"]["status"] for i in range(1, 21)} == {"failed"}
        assert all(m["customer_id"] != existing["id"] for m in mappings)
        assert report["adopted"] == 0 and report["match_conflicts"] == 20
        reasons = {r["reason"] for r in read_csv(tmp_path / "one" / "rejects.csv")}
        assert any("20 rows of this run match one customer" in r for r in reasons)
        # The customer the rows matched was not touched, and no twin was made of it.
        after = {c["id"]: c for c in on_server(server)}
        assert after[existing["id"]]["billing"] == existing["billing"]
        assert len(after) == 2  # the existing one and X0


def test_adopting_keeps_every_field_the_api_has_and_the_row_lacks(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        existing = checkout_customer(
            server, phone_number="+442071234567",
            billing={"first_name": "Kim", "last_name": "Old", "address_1": "1 High Street",
                     "postal_code": "LS1 1AA", "country_code": "GB"},
        )  # fmt: skip
        source = write(tmp_path / "a.csv", ["external_id", "email_address", "billing.first_name",
                                            "billing.last_name", "billing.city"],
                       [["C1", SHARED, "Kim", "Lee", "Leeds"]])  # fmt: skip
        code, report, mappings, _ = sync(server, tmp_path, source, "one", "--match-on",
                                         "email_address")  # fmt: skip
        assert code == 0 and report["adopted"] == 1
        assert mappings[0]["customer_id"] == existing["id"]
        (held,) = on_server(server)
        # The row had none of these: the API's are kept.
        assert held["phone_number"] == "+442071234567"
        assert held["billing"]["address_1"] == "1 High Street"
        assert held["billing"]["postal_code"] == "LS1 1AA"
        assert held["billing"]["last_name"] == "Lee" and held["billing"]["city"] == "Leeds"


def test_a_customer_mapped_to_one_external_id_is_not_adopted_by_another(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        rows = [["A1", SHARED, "Ann", "Lee", "London", "GB"]]
        assert sync(server, tmp_path, export(tmp_path / "a.csv", rows), "one")[0] == 0
        # Next night a second CRM contact carries the same e-mail: it is not A1's customer.
        rows.append(["A2", SHARED, "Bo", "Lee", "London", "GB"])
        code, _, mappings, _ = sync(server, tmp_path, export(tmp_path / "b.csv", rows),
                                         "two", "--match-on", "email_address")  # fmt: skip
        assert code == 0
        ids = {m["external_id"]: m["customer_id"] for m in mappings}
        assert ids["A1"] != ids["A2"] and len(on_server(server)) == 2


def test_rows_without_the_match_field_are_counted_and_listed_or_rejected(
    tmp_path: Path,
) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        rows = people(10)
        for row in rows[5:]:
            row[1] = ""  # no e-mail: nothing to match on
        source = export(tmp_path / "a.csv", rows)
        code, report, _, _ = sync(server, tmp_path, source, "one", "--match-on", "email_address",
                                  "--match-required")  # fmt: skip
        assert code == 0 and report["created"] == 5 and report["api_rejected"] == 5
        rejected = read_csv(tmp_path / "one" / "rejects.csv")
        assert {r["external_id"] for r in rejected} == {f"X{i}" for i in range(5, 10)}
        assert all("no email_address to match on" in r["reason"] for r in rejected)
        code, report, _, _ = sync(server, tmp_path, source, "two", "--match-on", "email_address")
        assert code == 0 and report["created"] == 5 and report["created_unmatched"] == 5
        listed = read_csv(tmp_path / "two" / "unmatched.csv")
        assert sorted(r["external_id"] for r in listed) == [f"X{i}" for i in range(5, 10)]
        assert all(r["customer_id"] for r in listed)


def test_match_required_needs_match_on(tmp_path: Path) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        source = export(tmp_path / "a.csv", people(1))
        code, _, _, stderr = sync(server, tmp_path, source, "one", "--match-required", env=ENV)
        assert code == 2 and "--match-required needs --match-on" in stderr
        assert server.stats()["requests"] == 0


def test_a_store_filled_against_one_api_is_refused_by_another(tmp_path: Path) -> None:
    # The review's repro: a store filled against the sandbox, pointed at another API with the
    # same entity: "225 unchanged", 0 requests, and UUIDs that do not exist there.
    source = export(tmp_path / "a.csv", people(5))
    with SandboxProcess(users={USER: KEY}) as rehearsal:
        assert sync(rehearsal, tmp_path, source, "one")[0] == 0
    with SandboxProcess(users={USER: KEY}) as production:
        for extra in ((), ("--dry-run",)):
            code, _, _, stderr = sync(production, tmp_path, source, "two", *extra)
            assert code == 2 and production.stats()["requests"] == 0
            line = stderr.strip().splitlines()[-1]
            assert rehearsal.url in line and production.url in line and "--new-target" in line
        code, report, mappings, _ = sync(production, tmp_path, source, "three", "--new-target")
        assert code == 0 and report["created"] == 5
        held = {c["id"] for c in on_server(production)}
        assert {m["customer_id"] for m in mappings} == held
        # Pinned to the new one now: an unchanged rerun there sends nothing.
        code, report, _, _ = sync(production, tmp_path, source, "four")
        assert code == 0 and report["unchanged"] == 5 and report["requests"] == 0
