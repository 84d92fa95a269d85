"""The package layout holds: stages talk to each other through public names only.

Each package's ``__init__`` (with its ``__all__``) is its interface; a module of one package that
imports another package's ``_private`` module couples to what that package may move or rename.
(The layering itself - who may import whom - is import-linter's contract in pyproject.toml.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import edgeml

PACKAGE = Path(edgeml.__file__).parent


def _private_imports_across_packages(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        home = parts[0] if len(parts) > 1 else ""
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            names = node.module.split(".")
            if names[0] != "edgeml" or len(names) < 3 or names[1] == home:
                continue
            if any(name.startswith("_") for name in names[2:]):
                found.append(f"{path.relative_to(package.parent)}:{node.lineno} {node.module}")
    return found


def test_no_package_imports_another_packages_private_modules():
    assert _private_imports_across_packages() == []


def test_the_check_sees_a_private_import(tmp_path):
    # The check must be able to fail: a module importing a private module of another package.
    fake = tmp_path / "edgeml"
    (fake / "serve").mkdir(parents=True)
    (fake / "serve" / "_x.py").write_text("from edgeml.monitor._log import read_window\n")
    (fake / "monitor").mkdir()
    (fake / "monitor" / "_y.py").write_text("from edgeml.monitor._log import read_window\n")
    assert _private_imports_across_packages(fake) == ["edgeml/serve/_x.py:1 edgeml.monitor._log"]
