"""The layout is the architecture: checks that keep it so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("connectors", "engine", "flows", "sandbox", "schemas")
# What each package may import of ours: the pure core nothing, the shell everything.
MAY_IMPORT = {
    "schemas": set(),
    "sandbox": {"schemas"},  # the reference's fields, shared with the client
    "connectors": {"schemas", "sandbox"},
    "engine": {"connectors", "schemas", "sandbox"},
    "flows": {"connectors", "engine", "schemas", "sandbox"},
}


def modules(package: str) -> list[Path]:
    skip = ("__init__.py", "__main__.py")
    return sorted(p for p in (ROOT / package).rglob("*.py") if p.name not in skip)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_has_its_test_module(package: str) -> None:
    missing = [
        str(path.relative_to(ROOT))
        for path in modules(package)
        if not (ROOT / "tests" / path.relative_to(ROOT).parent / f"test_{path.name}").exists()
    ]
    assert missing == []


def test_no_module_is_over_400_lines_and_flows_stays_thin() -> None:
    lengths = {
        p: len(p.read_text().splitlines()) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
    }
    assert [str(p) for p, n in lengths.items() if n > 400] == []
    assert sum(n for p, n in lengths.items() if p.is_relative_to(ROOT / "flows")) <= 1_000


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_layers(package: str) -> None:
    wrong = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in PACKAGES and top != package and top not in MAY_IMPORT[package]:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_helpers_live_in_conftest_not_in_test_modules() -> None:
    imported = [
        f"{path.relative_to(ROOT)}: {node.module}"
        for path in (ROOT / "tests").rglob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("tests.")
        and ".test_" in node.module
    ]
    assert imported == []
