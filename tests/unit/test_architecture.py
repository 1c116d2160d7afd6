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


def test_domain_modules_import_one_another_without_a_cycle() -> None:
    imports = {
        module.stem: {
            node.module.removeprefix("healthmon.domain.")
            for node in ast.walk(ast.parse(module.read_text(), str(module)))
            if isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("healthmon.domain.")
        }
        for module in DOMAIN.glob("*.py")
    }
    finished: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module not in finished:
            for imported in imports.get(module, set()):
                visit(imported, (*path, module))
            finished.add(module)

    for module in imports:
        visit(module, ())
