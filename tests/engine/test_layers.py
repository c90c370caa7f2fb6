"""The engine's layering, read from the source: the store and the domain import nothing of the engine or
the API, and handlers reach the engine only through its public face (`baryon.engine.control`)."""

from __future__ import annotations

import ast
from pathlib import Path

import baryon

SRC = Path(baryon.__file__).parent


def _imports(package: str) -> dict[str, set[str]]:
    """What each module of `package` imports, as absolute dotted names (`from a import b` gives `a.b`)."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / package).rglob("*.py")):
        module = ".".join(("baryon", *path.relative_to(SRC).with_suffix("").parts))
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:
                    base = ".".join([*module.split(".")[: -node.level], node.module])
                names.update(f"{base}.{alias.name}" for alias in node.names)
        found[module] = names
    return found


def _offending(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in _imports(package).items()
        for name in names
        if name.startswith(forbidden) and not name.startswith(allowed)
    )


def test_the_store_imports_neither_the_engine_nor_the_api() -> None:
    assert _offending("store", ("baryon.engine", "baryon.api")) == []


def test_the_domain_imports_nothing_above_it() -> None:
    above = ("baryon.engine", "baryon.api", "baryon.store", "baryon.web", "baryon.cli", "baryon.render")
    assert _offending("domain", above) == []


def test_handlers_reach_the_engine_only_through_its_public_face() -> None:
    assert _offending("api", ("baryon.engine",), allowed=("baryon.engine.control",)) == []
