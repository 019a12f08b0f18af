"""Every flag of every command, given a bad value: one clear line, the documented exit code,
no traceback, nothing sent, no secret in it (issue 14: a table-driven sweep)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connectors.state.store import StateStore
from tests.helpers import custsync, export, people

PASSWORD = "s3cr3t-pa55"
KEY = "api-key-never-shown"
ENV = {"VERIFONE_USER_UID": "u", "VERIFONE_API_KEY": KEY}


def cases(tmp: Path) -> list[tuple[str, list[str], dict[str, str], str]]:
    """(what, arguments, environment, a word the one line must hold): all exit 2."""
    good = str(export(tmp / "good.csv", people(3)))
    (tmp / "bad.toml").write_text("external_id = \n")
    (tmp / "afile").write_text("x")
    (tmp / "adir").mkdir()
    missing = str(tmp / "nope.csv")
    out = ["--out", str(tmp / "o")]
    store = str(tmp / "synced.db")  # backfill-3ds works on a store a sync filled
    StateStore.open(store).close()
    remote = ["--target", "https://api.example.com/oidc/customer-service", "--entity-id", "E1"]
    pg = f"postgresql://custsync:{PASSWORD}@127.0.0.1:1/db?sslmode=bogus"
    common = [
        ("no such source", [missing], {}, "no such file"),
        ("mapping missing", [good, "--mapping", str(tmp / "none.toml")], {}, "mapping"),
        ("mapping not TOML", [good, "--mapping", str(tmp / "bad.toml")], {}, "TOML"),
        ("unknown encoding", [good, "--encoding", "klingon"], {}, "encoding"),
        ("two-character delimiter", [good, "--delimiter", ";;"], {}, "delimiter"),
        ("--out is a file", [good, "--out", str(tmp / "afile")], {}, "--out"),
    ]
    by_command: list[tuple[str, list[str], dict[str, str], str]] = []
    for what, args, env, word in common:
        by_command.append((f"validate: {what}", ["validate", *args], env, word))
        by_command.append((f"sync: {what}", ["sync", *args, "--dry-run"], env, word))
    by_command += [
        ("validate: unknown profile", ["validate", good, "--profile", "x", *out], {}, "profile"),
        ("sync: unknown profile", ["sync", good, "--profile", "x", *out], {}, "profile"),
        ("sync: unknown target", ["sync", good, "--target", "mars", *out], {}, "target"),
        (
            "sync: key in the URL",
            [
                "sync",
                good,
                "--target",
                f"https://u:{KEY}@api.example.com/oidc/customer-service",
                "--entity-id",
                "E1",
                *out,
            ],
            ENV,
            "target",
        ),
        (
            "sync: plain HTTP beyond loopback",
            [
                "sync",
                good,
                "--target",
                "http://api.example.com/oidc/customer-service",
                "--entity-id",
                "E1",
                *out,
            ],
            ENV,
            "http",
        ),
        (
            "sync: newline in the target",
            ["sync", good, "--target", "https://api.example.com/x\nHost: evil", *out],
            ENV,
            "target",
        ),
        ("sync: no credentials", ["sync", good, *remote, *out], {}, "VERIFONE_"),
        ("sync: rate limit 0", ["sync", good, "--rate-limit", "0", *out], {}, "--rate-limit"),
        (
            "sync: rate limit not a number",
            ["sync", good, "--rate-limit", "fast", *out],
            {},
            "rate-limit",
        ),
        ("sync: concurrency 0", ["sync", good, "--concurrency", "0", *out], {}, "--concurrency"),
        (
            "sync: match on no field",
            ["sync", good, "--match-on", "shoe_size", *out],
            {},
            "--match-on",
        ),
        (
            "sync: match required alone",
            ["sync", good, "--match-required", *out],
            {},
            "--match-on",
        ),
        (
            "sync: a malformed PostgreSQL URL",
            ["sync", good, "--state", pg, *out],
            {},
            "PostgreSQL",
        ),
        (
            "sync: state is a folder",
            ["sync", good, "--state", str(tmp / "adir"), *out],
            {},
            "state",
        ),
        ("sync: unknown flag", ["sync", good, "--frobnicate", *out], {}, "frobnicate"),
        (
            "backfill: no such source",
            ["backfill-3ds", missing, "--state", store, *out],
            {},
            "no such file",
        ),
        (
            "backfill: no credentials",
            ["backfill-3ds", good, "--state", store, *remote, *out],
            {},
            "VERIFONE_",
        ),
        (
            "backfill: rate limit 0",
            ["backfill-3ds", good, "--state", store, "--rate-limit", "0", *out],
            {},
            "rate-limit",
        ),
        (
            "backfill: a malformed PostgreSQL URL",
            ["backfill-3ds", good, "--state", pg, *out],
            {},
            "PostgreSQL",
        ),
        (
            "mappings: no such store",
            ["mappings", "export", "--state", str(tmp / "no.db"), *out],
            {},
            "state",
        ),
        ("serve: bad cron", ["serve", good, "--cron", "every night"], {}, "cron"),
    ]
    return by_command


def test_every_bad_flag_is_one_line_exit_2_and_nothing_leaks(tmp_path: Path) -> None:
    table = cases(tmp_path)

    def run(case: tuple[str, list[str], dict[str, str], str]) -> tuple[str, int, str, str]:
        what, args, env, _ = case
        result = custsync(*args, env=env, cwd=tmp_path, timeout=120)
        return what, result.returncode, result.stdout, result.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, table))
    problems = []
    for (what, code, stdout, stderr), (_, _, _, word) in zip(results, table, strict=True):
        errors = [
            line for line in stderr.splitlines() if line.startswith(("custsync: error", "Error"))
        ]
        usage = "Usage:" in stderr  # Click's own usage errors: a usage line and one reason
        one_line = len(errors) == 1 or (usage and "Traceback" not in stderr)
        if code != 2 or not one_line or "Traceback" in stderr + stdout:
            problems.append(f"{what}: exit {code}, stderr {stderr[-300:]!r}")
        elif word.lower() not in stderr.lower():
            problems.append(f"{what}: {word!r} not in {stderr[-300:]!r}")
        for secret in (PASSWORD, KEY):
            if secret in stderr + stdout:
                problems.append(f"{what}: a secret is shown")
        if "unexpected" in stderr or "internal error" in stderr:
            problems.append(f"{what}: {stderr[-200:]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("command", ["validate", "sync", "backfill-3ds"])
def test_an_export_without_its_header_names_no_shopper(tmp_path: Path, command: str) -> None:
    source = tmp_path / "h.csv"
    source.write_text("X1,ann.lee@example.com,Ann,Leeworthy,+442071234567\n")
    extra = ["--dry-run"] if command != "validate" else []
    result = custsync(command, str(source), "--out", str(tmp_path / "o"), *extra, cwd=tmp_path)
    assert result.returncode == 2
    for value in ("ann.lee@example.com", "Leeworthy", "+442071234567"):
        assert value not in result.stderr + result.stdout
