"""The kernel suite once more with ``NUMBA_DISABLE_JIT=1``: the njit cores run as plain Python.

That run checks the Python semantics of the cores (what the JIT compiles is the same code, so
the two must agree) and keeps coverage tools and debuggers useful on them. It runs in a
subprocess because the JIT switch is read when numba is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="already the no-JIT run (no recursion)"
)
def test_kernel_suite_passes_without_jit() -> None:
    files = sorted(str(p) for p in HERE.glob("test_kernels_*.py") if p.name != Path(__file__).name)
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "EDGEML_KERNEL_EXAMPLES": "10"}
    # IEEE results such as inf - inf are silent in compiled code but warn on NumPy scalars.
    command = [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider"]
    command += ["-W", "ignore::RuntimeWarning", "-x"]
    result = subprocess.run(
        command, cwd=HERE.parent, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
