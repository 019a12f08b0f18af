"""A new or lost state store never makes twins (issue 33): before the first create of an entity
the store knows no customer of, one search asks the API whether it holds any; if it does, the
run stops in one line (exit 2) before anything is written, naming both ways out."""

from __future__ import annotations

from pathlib import Path

from sandbox.process import SandboxProcess
from tests.helpers import KEY, USER, export, on_server, people, sync


def test_a_second_store_on_the_same_api_stops_before_making_twins(tmp_path: Path) -> None:
    source = export(tmp_path / "a.csv", people(12))
    with SandboxProcess(users={USER: KEY}) as server:
        code, report, _, stderr = sync(server, tmp_path / "first", source, "one")
        assert code == 0 and report["created"] == 12, stderr
        # The same export, a store that knows nothing (a new machine, a lost file).
        lost = tmp_path / "lost"
        code, report, mappings, stderr = sync(server, lost, source, "two")
        assert code == 2
        lines = [line for line in stderr.splitlines() if line.startswith("custsync: error")]
        assert len(lines) == 1 and "entity E1" in lines[0] and "twin" in lines[0]
        assert "--match-on" in lines[0] and "--ignore-existing" in lines[0]
        assert len(on_server(server)) == 12  # nothing made
        assert report == {} and mappings == []
        # The way out that adopts them: every customer found by its e-mail, none created.
        code, report, mappings, stderr = sync(server, lost, source, "three", "--match-on",
                                              "email_address")  # fmt: skip
        assert code == 0, stderr
        assert (report["adopted"], report["created"]) == (12, 0)
        assert len(on_server(server)) == 12
        # A store that now knows them syncs as any night does.
        code, report, _, stderr = sync(server, lost, source, "four")
        assert code == 0 and report["unchanged"] == 12, stderr


def test_the_api_s_customers_declared_not_this_export_s_are_created_beside(
    tmp_path: Path,
) -> None:
    with SandboxProcess(users={USER: KEY}) as server:
        sync(server, tmp_path / "checkout", export(tmp_path / "c.csv", people(3, "Leeds")), "c")
        ours = export(tmp_path / "a.csv", [[f"Y{n}", *row[1:]] for n, row in
                                           enumerate(people(5))])  # fmt: skip
        code, _, _, _ = sync(server, tmp_path / "crm", ours, "one")
        assert code == 2 and len(on_server(server)) == 3
        code, report, _, stderr = sync(server, tmp_path / "crm", ours, "two", "--ignore-existing")
        assert code == 0 and report["created"] == 5, stderr
        assert len(on_server(server)) == 8


def test_a_dry_run_and_a_store_that_made_them_never_ask(tmp_path: Path) -> None:
    source = export(tmp_path / "a.csv", people(4))
    with SandboxProcess(users={USER: KEY}) as server:
        code, _, _, _ = sync(server, tmp_path / "s", source, "one")
        assert code == 0
        requests_before = server.stats()["requests"]
        code, _, _, stderr = sync(server, tmp_path / "other", source, "dry", "--dry-run")
        assert code == 0, stderr
        code, report, _, stderr = sync(server, tmp_path / "s", source, "again")
        assert code == 0 and report["requests"] == 0, stderr
        assert server.stats()["requests"] == requests_before  # no search from either
