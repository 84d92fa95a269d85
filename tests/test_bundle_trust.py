"""A bundle is a closed world (issue 10, items 1-3): each attack reproduced, then refused.

Attacks edit manifest.json and then re-seal its digest, as anyone who knows the format can:
the digest catches careless edits (tested at the end), the path rules must hold regardless.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import edgeml
import edgeml.runtime
from edgeml.bundle import open_bundle, read_manifest
from edgeml.cli import cli
from edgeml.compile import export
from edgeml.errors import BundleError, ChecksumError
from edgeml.registry import Registry
from edgeml.serve import ServeSettings, create_app
from tests.conftest import churn_like, reseal
from tests.serving import TOKEN, record

EVIL_C = r"""
#include <stdio.h>
__attribute__((constructor)) static void ran(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) { fputs("constructor ran", f); fclose(f); }
}
int edgeml_abi_version(void) { return 1; }
int edgeml_num_feature(void) { return NUM_FEATURE; }
int edgeml_num_output(void) { return 1; }
void edgeml_predict_row(const double* x, double* out) { out[0] = 0.5; }
int edgeml_predict_batch(const double* x, long n, double* out, int t) {
    for (long i = 0; i < n; i++) out[i] = 0.5;
    return 0;
}
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small bundle with a treelite export (the library a device would load)."""
    root = tmp_path_factory.mktemp("trust")
    trained = edgeml.train(churn_like(n=300), target="churn", out=root / "churn.edgeml",
                           cv_folds=0, num_boost_round=20)  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEML_CACHE", str(root / "cache"))
        export(trained.bundle, format="treelite")
    return trained.bundle


@pytest.fixture
def bundle(exported: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(exported, tmp_path / "work" / "churn.edgeml"))


@pytest.fixture
def evil(exported: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A real shared library whose constructor writes a marker file; (library, marker)."""
    marker = tmp_path / "constructor-ran"
    source = tmp_path / "evil.c"
    source.write_text(EVIL_C)
    width = len(read_manifest(exported)["features"]["model"])
    library = tmp_path / "evil.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", f'-DMARKER="{marker}"', f"-DNUM_FEATURE={width}",
         str(source), "-o", str(library)],
        check=True,
    )  # fmt: skip
    return library, marker


def edit(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change manifest.json and re-seal its digest (the attacker recomputes it)."""
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    reseal(bundle)


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused_everywhere(bundle: Path, match: str) -> None:
    """runtime.load (each backend, verify or not) and edgeml.load all refuse ``bundle``."""
    for kwargs in ({}, {"verify": False}, {"backend": "treelite"}):
        with pytest.raises(BundleError, match=match):
            edgeml.runtime.load(bundle, **kwargs)
    with pytest.raises(BundleError, match=match):
        edgeml.load(bundle)


# -- item 1: code from outside the bundle ----------------------------------------------------


def test_an_absolute_library_path_is_refused_and_never_loaded(bundle, evil):
    library, marker = evil
    edit(bundle, lambda m: m["backends"]["treelite"].update(library=str(library)))
    refused_everywhere(bundle, "not a path inside the bundle")
    assert not marker.exists()


def test_a_library_above_the_bundle_is_refused(bundle, evil):
    library, marker = evil
    shutil.copy(library, bundle.parent / "evil.so")
    edit(bundle, lambda m: m["backends"]["treelite"].update(library="../evil.so"))
    refused_everywhere(bundle, "not a path inside the bundle")
    assert not marker.exists()


def test_a_library_not_listed_in_files_is_refused(bundle, evil):
    library, marker = evil
    shutil.copy(library, bundle / "treelite" / "evil.so")
    edit(bundle, lambda m: m["backends"]["treelite"].update(library="treelite/evil.so"))
    refused_everywhere(bundle, "not listed")
    assert not marker.exists()


def test_a_swapped_library_fails_its_checksum_even_without_verify(bundle, evil):
    library, marker = evil
    shutil.copy(library, bundle / "treelite" / "model.so")
    refused_everywhere(bundle, "treelite/model.so changed")
    assert not marker.exists()


def test_a_library_symlink_with_a_matching_checksum_is_not_followed(bundle, evil):
    library, marker = evil
    (bundle / "treelite" / "model.so").unlink()
    (bundle / "treelite" / "model.so").symlink_to(library)
    edit(bundle, lambda m: m["files"].update({"treelite/model.so": sha256(library)}))
    refused_everywhere(bundle, "symbolic link")
    assert not marker.exists()


def test_a_symlinked_directory_inside_the_bundle_is_not_followed(bundle, evil, tmp_path):
    library, marker = evil
    elsewhere = tmp_path / "elsewhere"
    shutil.move(bundle / "treelite", elsewhere)
    shutil.copy(library, elsewhere / "model.so")
    (bundle / "treelite").symlink_to(elsewhere)
    edit(bundle, lambda m: m["files"].update({"treelite/model.so": sha256(library)}))
    refused_everywhere(bundle, "symbolic link")
    assert not marker.exists()


def test_the_loaded_library_is_the_verified_bytes_not_the_file(bundle):
    """No gap between hashing and loading: the library is mapped from a sealed memfd holding
    the bytes that were hashed, not from the path in the bundle."""
    model = edgeml.runtime.load(bundle, backend="treelite")
    maps = Path("/proc/self/maps").read_text()
    assert "memfd:edgeml-" in maps
    assert str(bundle / "treelite" / "model.so") not in maps
    row = churn_like(n=5, seed=9).drop("churn").rows(named=True)[0]
    before = model.predict_row(row)
    (bundle / "treelite" / "model.so").write_bytes(b"overwritten after loading")
    assert model.predict_row(row) == before


def test_the_server_refuses_a_reload_instead_of_falling_back(bundle, evil, tmp_path):
    library, marker = evil
    settings = ServeSettings(bundle=bundle, log=tmp_path / "log.db", admin_token=TOKEN)
    headers = {"authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings)) as client:
        before = client.post("/predict", json=record()).json()
        assert client.get("/schema").json()["backend"] == "treelite"
        shutil.copy(library, bundle.parent / "evil.so")
        edit(bundle, lambda m: m["backends"]["treelite"].update(library="../evil.so"))
        response = client.post("/admin/reload", headers=headers)
        assert response.status_code == 409
        assert "not a path inside the bundle" in response.json()["error"]
        metrics = client.get("/metrics").text
        assert 'edgeml_reloads_total{result="refused"} 1.0' in metrics
        after = client.post("/predict", json=record()).json()
        assert client.get("/ready").status_code == 200
    assert after == {**before, "request_id": after["request_id"]}
    assert not marker.exists()


def test_the_cli_refuses_with_exit_2(bundle, evil, tmp_path, churn_csv):
    library, marker = evil
    edit(bundle, lambda m: m["backends"]["treelite"].update(library=str(library)))
    for args in (["predict", str(bundle), str(churn_csv), "-o", str(tmp_path / "p.csv")],
                 ["evaluate", str(bundle), str(churn_csv)]):  # fmt: skip
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert "not a path inside the bundle" in result.output
    assert not marker.exists()


# -- item 2: paths escaping the bundle -------------------------------------------------------


def test_a_model_file_in_another_bundle_is_refused(bundle, tmp_path, churn_csv):
    other = Path(shutil.copytree(bundle, tmp_path / "other.edgeml"))
    edit(bundle, lambda m: m["model"].update(file="../../other.edgeml/model.txt"))
    result = CliRunner().invoke(
        cli, ["predict", str(bundle), str(churn_csv), "-o", str(tmp_path / "p.csv")]
    )
    assert result.exit_code == 2
    assert "model.file" in result.output and "not a path inside the bundle" in result.output
    assert not (tmp_path / "p.csv").exists() and other.is_dir()


@pytest.mark.parametrize("name", ["../victim.txt", "/VICTIM", "a/../../victim.txt", "./x",
                                  "a//b", "", "manifest.json", "a\\..\\victim.txt"])  # fmt: skip
def test_files_outside_the_bundle_are_refused_by_load_export_and_registry(bundle, tmp_path, name):
    victim = bundle.parent / "victim.txt"
    victim.write_text("precious")
    name = str(victim) if name == "/VICTIM" else name
    edit(bundle, lambda m: m["files"].update({name: sha256(victim)}))
    before = sorted(p.name for p in bundle.parent.iterdir())
    with pytest.raises(BundleError, match="not a path inside the bundle"):
        edgeml.runtime.load(bundle)
    with pytest.raises(BundleError, match="not a path inside the bundle"):
        export(bundle, format="lightgbm")
    with pytest.raises(BundleError, match="not a path inside the bundle"):
        Registry(tmp_path / "registry").add("churn", bundle)
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in bundle.parent.iterdir()) == before
    registry = tmp_path / "registry" / "churn"
    assert not registry.exists() or not [p for p in registry.rglob("*") if p.is_file()
                                         and p.name != ".lock"]  # fmt: skip


def test_a_symlinked_file_is_not_copied_by_registry_or_docker(bundle, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("token=hunter2")
    secret.chmod(0o600)
    (bundle / "reference_rows.json").unlink()
    (bundle / "reference_rows.json").symlink_to(secret)
    edit(bundle, lambda m: m["files"].update({"reference_rows.json": sha256(secret)}))
    with pytest.raises(BundleError, match="symbolic link"):
        Registry(tmp_path / "registry").add("churn", bundle)
    with pytest.raises(BundleError, match="symbolic link"):
        export(bundle, format="docker", out=tmp_path / "context")
    assert not (tmp_path / "context").exists()


def test_files_beside_the_manifest_that_it_does_not_list_are_never_copied(bundle, tmp_path):
    (bundle / "stray.txt").write_text("not part of the bundle")
    (bundle / "link").symlink_to("/etc/passwd")
    Registry(tmp_path / "registry").add("churn", bundle)
    copied = tmp_path / "registry" / "churn" / "v1"
    assert not (copied / "stray.txt").exists() and not (copied / "link").exists()
    export(bundle, format="docker", out=tmp_path / "context")
    packaged = tmp_path / "context" / "bundle"
    assert sorted(p.name for p in packaged.iterdir()) == sorted(
        ["manifest.json", *{n.split("/")[0] for n in read_manifest(bundle)["files"]}]
    )


def test_a_writer_never_records_a_path_outside_the_bundle(tmp_path):
    from edgeml.bundle import write_bundle

    with pytest.raises(BundleError, match="not a path inside the bundle"):
        write_bundle(tmp_path / "m.edgeml", {}, {"../escape.txt": b"x"})
    with pytest.raises(BundleError, match="not listed"):
        write_bundle(tmp_path / "m.edgeml", {"model": {"file": "model.txt"}}, {})
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "m.edgeml").exists()


# -- item 3: manifest.json itself ------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["target"].update(classes=m["target"]["classes"][::-1]),
        lambda m: m["metrics"]["holdout"].update(roc_auc=0.999),
        lambda m: m.pop("monitoring"),
        lambda m: m.update(extra=True),
    ],
    ids=["classes", "metric", "deleted-key", "added-key"],
)
def test_an_edited_manifest_fails_its_digest(bundle, tmp_path, churn_csv, change):
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))
    with pytest.raises(ChecksumError, match=f"{bundle}: manifest.json changed"):
        edgeml.load(bundle)
    with pytest.raises(ChecksumError, match="digest mismatch"):
        edgeml.runtime.load(bundle, verify=False)
    result = CliRunner().invoke(cli, ["evaluate", str(bundle), str(churn_csv)])
    assert result.exit_code == 2 and "manifest.json changed" in result.output


def test_reversed_classes_are_refused_on_reload(bundle, tmp_path):
    settings = ServeSettings(bundle=bundle, log=tmp_path / "log.db", admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        before = client.post("/predict", json=record()).json()
        path = bundle / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest["target"]["classes"].reverse()
        path.write_text(json.dumps(manifest))
        response = client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 409 and "digest mismatch" in response.json()["error"]
        after = client.post("/predict", json=record()).json()
    assert after["prediction"] == before["prediction"]


def test_duplicate_keys_and_nan_are_refused(bundle):
    path = bundle / "manifest.json"
    text = path.read_text()
    path.write_text(text.replace('"task":', '"task": "regression", "task":', 1))
    with pytest.raises(BundleError, match="appears twice"):
        read_manifest(bundle)
    path.write_text(text.replace('"task":', '"nan": NaN, "task":', 1))
    with pytest.raises(BundleError, match="NaN is not a JSON number"):
        read_manifest(bundle)


def test_a_fifo_in_place_of_a_file_does_not_hang(bundle):
    (bundle / "model.txt").unlink()
    os.mkfifo(bundle / "model.txt")
    with pytest.raises(BundleError, match="model.txt is not a regular file"):
        open_bundle(bundle)
