"""The domain imports only the standard library (import-linter guards the other layer rules)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import healthmon.domain

DOMAIN = Path(healthmon.domain.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_modules_import_only_the_standard_library_and_the_domain() -> None:
    modules = sorted(DOMAIN.glob("*.py"))
    assert len(modules) >= 5
    for module in modules:
        outside = {
            root
            for root in imported_roots(module)
            if root not in sys.stdlib_module_names and root not in ("__future__", "healthmon")
        }
        assert not outside, f"{module.name} imports {outside}"
        text = module.read_text()
        assert "healthmon.application" not in text, module.name
        assert "healthmon.adapters" not in text, module.name
