"""The layout is the architecture: checks that keep it so."""

from __future__ import annotations

import ast
import re
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


LONG = 400  # lines: a smell to look at, never a reason to move code (README, "Long modules")


def test_every_long_module_is_named_in_the_readme_with_why() -> None:
    """Length is reported, not enforced: a module past LONG lines is one concept that is long
    (httpx's _client.py), and the README says so; or it is two, and wants splitting by concept."""
    readme = (ROOT / "README.md").read_text()
    section = readme.partition("### Long modules")[2].partition("\n#")[0]
    named = set(re.findall(r"^- `([\w/]+\.py)`: \S", section, re.M))
    long = {
        str(p.relative_to(ROOT))
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if len(p.read_text().splitlines()) > LONG
    }
    assert sorted(long - named) == []
    assert sorted(name for name in named if not (ROOT / name).exists()) == []


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


def test_helpers_live_in_helpers_modules_and_fixtures_in_conftest() -> None:
    """Shared code is imported from a ``helpers`` module (httpx's tests/common.py), never from
    another test module or a conftest (fixtures reach tests by name, not by import)."""
    imported = [
        f"{path.relative_to(ROOT)}: {node.module}"
        for path in (ROOT / "tests").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("tests.")
        and node.module.rpartition(".")[2] != "helpers"
    ]
    assert imported == []


def test_every_test_module_of_a_package_module_mirrors_one_and_scenarios_are_e2e() -> None:
    """``tests/X/test_m.py`` tests ``X/m.py``; a test of several parts together lives in
    ``tests/e2e/`` (dlt's tests/e2e), or beside the module it exercises under another name."""
    strays = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests" / "flows").glob("test_*.py")
        if not (ROOT / "flows" / path.name.removeprefix("test_")).exists()
    ]
    assert strays == []


def listed_in(init: Path) -> set[str]:
    """The modules and sub-packages a package's docstring lists, a line each (``name.py`` or
    ``name/`` first on a line; ``a.py, b.py`` lines too)."""
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    names: set[str] = set()
    for line in doc.splitlines():
        head = re.match(r"^((?:[\w.]+\.py|\w+/)(?:, (?:[\w.]+\.py|\w+/))*)(?:\s|$)", line)
        if head:
            names.update(name.strip() for name in head.group(1).split(","))
    return names


def indexed_packages() -> list[Path]:
    return sorted(
        init
        for pkg in ("connectors", "engine", "flows")
        for init in (ROOT / pkg).rglob("__init__.py")
    )


@pytest.mark.parametrize("init", indexed_packages(), ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_a_package_docstring_lists_what_is_inside_and_nothing_else(init: Path) -> None:
    folder = init.parent
    inside = {p.name for p in folder.glob("*.py") if p.name != "__init__.py"}
    inside |= {f"{p.name}/" for p in folder.iterdir() if (p / "__init__.py").exists()}
    assert listed_in(init) == inside
