"""Import contracts: the API plane never reaches into engines or the control plane."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KURA = Path(__file__).resolve().parents[2] / "kura"
FORBIDDEN = {
    "services": ("kura.engines", "kura.control", "kura.server"),
    "api": ("kura.engines", "kura.control", "kura.server"),
    "store": ("kura.engines", "kura.control", "kura.services", "kura.api"),
    "engines": ("kura.services", "kura.api", "kura.control"),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package: str) -> None:
    bad = [f"{path.relative_to(KURA)} imports {name}"
           for path in (KURA / package).rglob("*.py")
           for name in _imports(path)
           if name.startswith(FORBIDDEN[package])]
    assert not bad, bad
