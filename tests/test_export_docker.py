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


def test_the_context_serves_without_the_training_stack(compiled: Path, tmp_path: Path) -> None:
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


def export_args(bundle: Path, out: Path) -> list[str]:
    return ["export", str(bundle), "--format", "docker", "-o", str(out)]


def test_export_never_deletes_what_the_directory_held(trained_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    result = CliRunner().invoke(cli, export_args(trained_bundle, out))
    assert result.exit_code == 2, result.output
    assert "not an edgeml Docker context" in result.output and str(out) in result.output
    assert (out / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging left behind
    afile = tmp_path / "afile"
    afile.write_text("keep")
    result = CliRunner().invoke(cli, export_args(trained_bundle, afile))
    assert result.exit_code == 2 and afile.read_text() == "keep"


def test_export_replaces_an_empty_directory_or_its_own_context(
    trained_bundle: Path, tmp_path: Path
) -> None:
    out = tmp_path / "image"
    out.mkdir()
    export_context(trained_bundle, out)
    (out / "bundle" / "stale.txt").write_text("from the last export")
    export_context(trained_bundle, out)  # its own earlier context: replaced whole
    assert not (out / "bundle" / "stale.txt").exists()
    assert (out / "Dockerfile").is_file() and (out / ".edgeml-docker").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image"]
    (out / ".edgeml-docker").unlink()  # a context from before the marker: still recognised
    export_context(trained_bundle, out)


def test_a_link_in_the_bundle_is_refused_never_copied(trained_bundle: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_text("PRIVATE KEY")
    secret.chmod(0o600)
    passwd = Path("/etc/passwd").read_bytes()
    # A link beside the listed files, and one standing in for a listed file (same bytes, so
    # the checksum passes): a copy that follows links writes their targets as 0644 files.
    for name, target in [("notes.txt", Path("/etc/passwd")), ("model.txt", None)]:
        bundle = bundle_copy(trained_bundle, tmp_path / f"{name}.edgeml")
        if target is None:
            target = tmp_path / "model-outside.txt"
            (bundle / name).rename(target)
        (bundle / name).symlink_to(target)
        (bundle / "key.pem").symlink_to(secret)
        out = tmp_path / f"{name}-image"
        result = CliRunner().invoke(cli, export_args(bundle, out))
        if result.exit_code == 2:  # refused, and nothing written
            assert "link" in result.output, result.output
            assert not out.exists()
        else:  # or the links skipped: the context holds none of their targets
            assert result.exit_code == 0, result.output
            copied = [p for p in out.rglob("*") if p.is_file() or p.is_symlink()]
            assert not any(p.is_symlink() for p in copied)
            assert not any(p.read_bytes() in (b"PRIVATE KEY", passwd) for p in copied)
        assert name == "notes.txt" or result.exit_code == 2  # a listed file cannot be skipped
    assert oct(secret.stat().st_mode)[-3:] == "600"


def test_a_link_in_the_source_tree_is_refused(tmp_path: Path) -> None:
    from edgeml.compile._docker import _copy_tree
    from edgeml.errors import ExportError

    source = tmp_path / "edgeml"
    (source / "sub").mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "sub" / "passwd.py").symlink_to("/etc/passwd")
    with pytest.raises(ExportError, match=r"passwd\.py: is a symbolic link \(to /etc/passwd\)"):
        _copy_tree(source, tmp_path / "copy")
    fifo = tmp_path / "fifo-src"
    fifo.mkdir()
    os.mkfifo(fifo / "pipe")
    with pytest.raises(ExportError, match="not a regular file"):
        _copy_tree(fifo, tmp_path / "fifo-copy")


def test_context_file_modes_are_sane(trained_bundle: Path, tmp_path: Path) -> None:
    bundle = bundle_copy(trained_bundle, tmp_path / "churn.edgeml")
    (bundle / "extra.bin").write_bytes(b"x")
    (bundle / "extra.bin").chmod(0o4777)  # setuid, world-writable
    context = export_context(bundle, tmp_path / "image")
    for path in [context, *context.rglob("*")]:
        assert not path.is_symlink()
        expected = 0o755 if path.is_dir() else 0o644
        assert path.stat().st_mode & 0o7777 == expected, path
