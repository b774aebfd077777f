"""The layers point one way: frontend -> app -> designer -> engine."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE_ALLOWED = {
    "pydantic",
    "pydantic_core",
    "networkx",
    "isodate",
    "holidays",
    "jsonschema",
    "engine",
}
FORBIDDEN_EVERYWHERE_IN_ENGINE = {
    "time",
    "os",
    "subprocess",
    "socket",
    "random",
    "sqlalchemy",
    "fastapi",
    "httpx",
}


def imports_of(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {(path.name, alias.name.split(".")[0]) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((path.name, node.module.split(".")[0]))
    return found


LOADER_ALLOWED = {("_native.py", "os")}
"""engine/_native.py reads ``STEPWISE_ENGINE`` once, at import, to choose where the engine's
modules load from; nothing a step runs goes through it."""


def test_engine_imports_only_the_standard_library_and_pure_packages():
    stdlib = set(sys.stdlib_module_names)
    bad = {
        (f, m)
        for f, m in imports_of("engine")
        if (m not in stdlib and m not in ENGINE_ALLOWED) or m in FORBIDDEN_EVERYWHERE_IN_ENGINE
    }
    assert bad - LOADER_ALLOWED == set()


@pytest.mark.parametrize("package", ["engine", "designer"])
def test_lower_layers_never_import_app(package: str):
    assert {(f, m) for f, m in imports_of(package) if m == "app"} == set()


def test_engine_never_reads_the_clock():
    offenders = []
    for path in (ROOT / "engine").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for needle in ("datetime.now(", "date.today(", "time.time(", "utcnow("):
            if needle in text:
                offenders.append((path.name, needle))
    assert offenders == []
