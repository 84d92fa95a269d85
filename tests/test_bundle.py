"""Bundles are written atomically and verified on read."""

import json

import pytest

from edgeml.bundle import SCHEMA_VERSION, read_manifest, write_bundle
from edgeml.errors import BundleError, ChecksumError, VersionError


def test_round_trip_records_checksums(tmp_path):
    path = write_bundle(tmp_path / "m.edgeml", {"note": "x"}, {"model.txt": b"abc"})
    manifest = read_manifest(path)
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["files"] == {
        "model.txt": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    }


def test_undefined_metrics_are_stored_as_null(tmp_path):
    path = write_bundle(tmp_path / "m.edgeml", {"m": {"roc_auc": float("nan")}}, {})
    assert read_manifest(path)["m"] == {"roc_auc": None}


def test_changed_file_is_refused(tmp_path):
    path = write_bundle(tmp_path / "m.edgeml", {}, {"model.txt": b"abc"})
    (path / "model.txt").write_bytes(b"abd")
    with pytest.raises(ChecksumError, match="model.txt changed after the bundle was written"):
        read_manifest(path)


def test_deleted_file_is_refused(tmp_path):
    path = write_bundle(tmp_path / "m.edgeml", {}, {"model.txt": b"abc"})
    (path / "model.txt").unlink()
    with pytest.raises(ChecksumError, match="model.txt is listed in the manifest but missing"):
        read_manifest(path)


@pytest.mark.parametrize("version", [0, 1, 3, None])
def test_unknown_schema_version_is_refused(tmp_path, version):
    path = write_bundle(tmp_path / "m.edgeml", {}, {})
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["schema_version"] = version
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(VersionError, match=f"schema version {version!r} is not supported"):
        read_manifest(path)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="not an edgeml bundle"):
        read_manifest(tmp_path)


def test_rewrite_replaces_whole_bundle_and_leaves_no_temp_dirs(tmp_path):
    path = tmp_path / "m.edgeml"
    write_bundle(path, {"v": 1}, {"old.txt": b"1"})
    write_bundle(path, {"v": 2}, {"new.txt": b"2"})
    assert read_manifest(path)["v"] == 2
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["m.edgeml"]


def test_failed_write_keeps_previous_bundle(tmp_path):
    path = tmp_path / "m.edgeml"
    write_bundle(path, {"v": 1}, {"model.txt": b"1"})
    with pytest.raises(TypeError):
        write_bundle(path, {"v": object()}, {"model.txt": b"2"})
    assert read_manifest(path)["v"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.edgeml"]


def test_refuses_to_overwrite_a_directory_that_is_not_a_bundle(tmp_path):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.txt").write_text("x")
    with pytest.raises(BundleError, match="is not an edgeml bundle; refusing to overwrite"):
        write_bundle(tmp_path / "precious", {}, {})
