"""pip install edgeml is NumPy alone; a missing extra is one clear line naming it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from edgeml.errors import DependencyError
from edgeml.util.extras import EXTRAS, extra_of, missing

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# Runs a module or a script with the given top-level modules made impossible to import, as on
# a device where the extra that provides them is not installed.
WITHOUT = """
import importlib.abc, runpy, sys
refused = set(sys.argv[1].split(","))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in refused:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Refuse())
sys.argv = sys.argv[2:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def _modules_of(requirement: str) -> set[str]:
    """Top-level modules the installed distribution of ``requirement`` provides."""
    name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
    files = metadata.distribution(name).files or []
    tops = {f.parts[0].removesuffix(".py") for f in files if f.suffix in {".py", ""} or
            f.parts[0].endswith(".py")}  # fmt: skip
    return {t for t in tops if t.isidentifier() and not t.endswith("-info")}


def test_the_base_install_is_numpy_alone():
    assert [re.split(r"[<>=]", r)[0] for r in PROJECT["dependencies"]] == ["numpy"]
    assert PROJECT["optional-dependencies"]["all"] == ["edgeml[train,serve,dask,postgres]"]


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_the_module_table_matches_pyproject(extra):
    provided = set().union(*(_modules_of(r) for r in PROJECT["optional-dependencies"][extra]))
    assert provided >= EXTRAS[extra], EXTRAS[extra] - provided
    for requirement in PROJECT["optional-dependencies"][extra]:
        assert _modules_of(requirement) & EXTRAS[extra], f"{requirement}: no module listed"


def test_missing_names_the_extra_or_leaves_other_errors_alone():
    error = missing(ModuleNotFoundError(name="fastapi.routing"), "edgeml serve")
    assert isinstance(error, DependencyError)
    assert str(error).endswith("install it: pip install 'edgeml[serve]'")
    unknown = ModuleNotFoundError(name="not_a_dependency")
    assert missing(unknown, "x") is unknown and extra_of("numpy") is None


def test_the_command_line_without_the_train_extra_says_what_to_install():
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT, ",".join(sorted(EXTRAS["train"])), "edgeml", "--help"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        "Error: the edgeml command line needs click, which is not installed; "
        "install it: pip install 'edgeml[train]'"
    ]


def test_the_facade_without_the_train_extra_raises_dependency_error(tmp_path):
    script = tmp_path / "use_train.py"
    script.write_text(
        "import edgeml\n"
        "try:\n    edgeml.train\n"
        "except edgeml.DependencyError as exc:\n    print(exc)\n"
    )
    runner = WITHOUT.replace("run_module", "run_path").replace(", alter_sys=True", "")
    run = subprocess.run(
        [sys.executable, "-c", runner,
         ",".join(sorted(EXTRAS["train"])), str(script)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "pip install 'edgeml[train]'" in run.stdout
