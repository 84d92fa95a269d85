"""``edgeml export --format docker``: the Dockerfile's structure (no container engine runs here)
and the context's server itself, run as the image would run it, with the training stack hidden."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from edgeml.cli import cli
from tests.serving import bundle_copy, free_port, record, wait_ready

HEAVY = (
    "polars",
    "lightgbm",
    "numba",
    "sklearn",
    "optuna",
    "matplotlib",
    "pandas",
    "scipy",
    "treelite",
    "tl2cgen",
    "onnx",
    "rich",
)


@pytest.fixture(scope="module")
def compiled(trained_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared bundle with its treelite export: the image then needs no LightGBM."""
    from edgeml.compile import export

    bundle = bundle_copy(trained_bundle, tmp_path_factory.mktemp("docker") / "churn.edgeml")
    export(bundle, format="treelite")
    return bundle


def export_context(bundle: Path, out: Path) -> Path:
    result = CliRunner().invoke(cli, ["export", str(bundle), "--format", "docker", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote a Docker build context for {bundle} to {out} (" in result.output
    return out


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]
    return [(ln.split(None, 1)[0], ln.split(None, 1)[1] if " " in ln else "") for ln in lines]


def test_dockerfile_is_slim_non_root_and_checked(compiled: Path, tmp_path: Path) -> None:
    context = export_context(compiled, tmp_path / "image")
    steps = instructions((context / "Dockerfile").read_text())
    names = [name for name, _ in steps]
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.\d+-slim-\w+", steps[0][1])
    assert names.count("USER") == 1 and steps[names.index("USER")][1] == "edgeml"
    assert names.index("USER") < names.index("CMD")
    assert names.index("USER") > max(i for i, n in enumerate(names) if n == "RUN")
    health = steps[names.index("HEALTHCHECK")][1]
    assert "CMD" in health and "/health" in health
    assert steps[names.index("EXPOSE")][1] == "8000"
    command = json.loads(steps[names.index("CMD")][1])  # exec form: signals reach the server
    assert command[:4] == ["python", "-m", "edgeml.serve", "/app/bundle"]
    for name, argument in steps:
        if name == "COPY":
            source = shlex.split(argument)[-2]
            assert (context / source).exists(), f"COPY {source} is not in the context"
        if name == "RUN":
            assert "--no-cache-dir" in argument
    requirements = (context / "requirements.txt").read_text().split()
    pinned = [r for r in requirements if "==" in r]
    assert {r.split("==")[0] for r in pinned} >= {
        "numpy",
        "fastapi",
        "uvicorn",
        "prometheus-client",
    }
    assert not any(r.split("==")[0] in HEAVY for r in pinned)
    assert (context / "bundle" / "manifest.json").is_file()
    assert oct((context / "bundle").stat().st_mode)[-3:] == "755"


def test_the_context_serves_without_the_training_stack(
    compiled: Path, tmp_path: Path
) -> None:
    context = export_context(compiled, tmp_path / "image")
    port = free_port()
    # The image's CMD, with every package the image lacks made unimportable.
    program = (
        "import sys, runpy\n"
        f"HEAVY = {HEAVY!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in HEAVY:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (not in the image)')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.argv = ['edgeml.serve', {str(context / 'bundle')!r}, '--port', '{port}',"
        f" '--log', {str(tmp_path / 'data.db')!r}]\n"
        "import edgeml\n"
        f"assert edgeml.__file__.startswith({str(context)!r}), edgeml.__file__\n"
        "runpy.run_module('edgeml.serve', run_name='__main__')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(context)}
    process = subprocess.Popen(
        [sys.executable, "-c", program],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        ready = httpx.get(f"{url}/ready").json()
        assert ready["status"] == "ready" and ready["backend"] == "treelite"
        assert "lightgbm_parity" not in ready["checks"]  # no LightGBM: the recorded parity
        assert ready["checks"]["recorded_parity"]["passed"]
        response = httpx.post(f"{url}/predict", json=record())
        assert response.status_code == 200
        assert set(response.json()) >= {"prediction", "proba_Yes", "model_version"}
    finally:
        process.terminate()
        process.wait(timeout=20)
