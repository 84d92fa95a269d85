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


# -- the manifest is read through edgeml.spec.manifest.Manifest, never by string keys -----------

# The bundle's integrity layer checks the raw JSON before it is typed (its digest, signature,
# schema version, and that every path it names is inside the bundle), for any JSON object.
RAW_MANIFEST_READERS = {
    "edgeml/bundle/_digest.py",
    "edgeml/bundle/_paths.py",
    "edgeml/bundle/_read.py",
    "edgeml/bundle/_sign.py",
    "edgeml/bundle/_write.py",
}


def _is_manifest(node: ast.expr) -> bool:
    """``manifest``, ``x.manifest`` or ``x.raw_manifest``: a manifest as a plain dict."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    return isinstance(name, str) and name.endswith("manifest")


def _string_key_reads(package: Path = PACKAGE) -> dict[str, int]:
    """Per module outside edgeml/spec: ``manifest["key"]`` and ``manifest.get("key")`` reads."""
    found: dict[str, int] = {}
    for path in sorted(package.rglob("*.py")):
        name = str(path.relative_to(package.parent))
        if name.startswith("edgeml/spec/") or name in RAW_MANIFEST_READERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            key = None
            if isinstance(node, ast.Subscript) and _is_manifest(node.value):
                key = node.slice
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "setdefault", "pop")
                and _is_manifest(node.func.value)
                and node.args
            ):
                key = node.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found[name] = found.get(name, 0) + 1
    return found


def test_the_manifest_is_read_through_its_typed_class():
    reads = _string_key_reads()
    assert reads == {}, (
        "read the manifest through edgeml.spec.manifest.Manifest (bundle.spec, model.spec, "
        f"predictor.spec, result.spec), not by string keys: {reads}"
    )


def test_the_check_sees_a_string_key_read(tmp_path):
    # The check must be able to fail: each form of a string-key read, in a module outside spec.
    fake = tmp_path / "edgeml"
    (fake / "serve").mkdir(parents=True)
    (fake / "serve" / "_x.py").write_text(
        "def f(manifest, model, key):\n"
        "    a = manifest['task']\n"
        "    b = model.manifest.get('metrics', {})\n"
        "    manifest.setdefault('x', 1)\n"
        "    return manifest[key], model.spec.task\n"  # neither a string key nor a dict: fine
    )
    (fake / "spec").mkdir()
    (fake / "spec" / "manifest.py").write_text("def f(manifest):\n    return manifest['task']\n")
    assert _string_key_reads(fake) == {"edgeml/serve/_x.py": 3}
