"""Signed bundles (issue 10, item 3): a device given a public key runs only bundles signed by it."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import edgeml
import edgeml.runtime
from edgeml.bundle import generate_keypair, read_manifest, sign_bundle, write_bundle
from edgeml.cli import cli
from edgeml.errors import BundleError, ChecksumError, ConfigError
from edgeml.registry import Registry
from tests.conftest import reseal


@pytest.fixture
def bundle(trained_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained_bundle, tmp_path / "churn.edgeml"))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    result = CliRunner().invoke(cli, ["keygen", str(tmp_path / "team.key")])
    assert result.exit_code == 0, result.output
    return tmp_path / "team.key", tmp_path / "team.key.pub"


def test_keygen_writes_a_private_key_only_its_owner_reads(keys):
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    result = CliRunner().invoke(cli, ["keygen", str(private)])
    assert result.exit_code == 2 and "refusing to overwrite a key" in result.output


def test_export_signs_and_load_verifies(bundle, keys, tmp_path):
    private, public = keys
    result = CliRunner().invoke(cli, ["export", str(bundle), "--format", "lightgbm",
                                      "--sign", str(private)])  # fmt: skip
    assert result.exit_code == 0, result.output
    signature = read_manifest(bundle)["signature"]
    assert signature["algorithm"] == "ed25519" and len(signature["key_id"]) == 16
    assert edgeml.runtime.load(bundle, public_key=public).backend_name
    assert edgeml.load(bundle, public_key=public.read_bytes()).task == "binary"
    # A registry copies the manifest byte for byte: the copy is still signed.
    registry = Registry(tmp_path / "registry")
    registry.add("churn", bundle, promote=True)
    edgeml.runtime.load(registry.root / "churn" / "current", public_key=public)


def test_sign_only(bundle, keys):
    private, public = keys
    result = CliRunner().invoke(cli, ["export", str(bundle), "--sign", str(private)])
    assert result.exit_code == 0 and "signed" in result.output
    edgeml.load(bundle, public_key=public)
    result = CliRunner().invoke(cli, ["export", str(bundle)])
    assert result.exit_code == 2 and "--format" in result.output


def test_unsigned_and_wrongly_signed_bundles_are_refused(bundle, keys, tmp_path):
    _, public = keys
    with pytest.raises(BundleError, match="not signed, and a public key was given"):
        edgeml.runtime.load(bundle, public_key=public)
    other, _ = generate_keypair(tmp_path / "other.key")
    sign_bundle(bundle, other)
    with pytest.raises(BundleError, match="does not verify with the public key"):
        edgeml.runtime.load(bundle, public_key=public)
    with pytest.raises(BundleError, match="does not verify"):
        edgeml.load(bundle, public_key=public)
    edgeml.runtime.load(bundle)  # without a key, a signature is not required


def test_an_edit_after_signing_is_refused_even_when_resealed(bundle, keys):
    private, public = keys
    sign_bundle(bundle, private)
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["target"]["classes"].reverse()
    path.write_text(json.dumps(manifest))
    with pytest.raises(ChecksumError, match="digest mismatch"):
        edgeml.runtime.load(bundle, public_key=public)
    reseal(bundle)  # the digest recomputed: only the signature catches it now
    edgeml.runtime.load(bundle)
    with pytest.raises(BundleError, match="does not verify"):
        edgeml.runtime.load(bundle, public_key=public)


def test_a_rewrite_without_the_key_drops_the_signature(bundle, keys):
    private, public = keys
    sign_bundle(bundle, private)
    manifest = read_manifest(bundle)
    write_bundle(bundle, manifest, {n: (bundle / n).read_bytes() for n in manifest["files"]})
    assert "signature" not in read_manifest(bundle)
    with pytest.raises(BundleError, match="not signed"):
        edgeml.load(bundle, public_key=public)


def test_bad_keys_are_clear_errors(bundle, tmp_path):
    (tmp_path / "junk.pem").write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
    with pytest.raises(ConfigError, match="not a PEM public key"):
        edgeml.runtime.load(bundle, public_key=tmp_path / "junk.pem")
    with pytest.raises(ConfigError, match="cannot read the public key"):
        edgeml.runtime.load(bundle, public_key=tmp_path / "missing.pub")
    result = CliRunner().invoke(cli, ["export", str(bundle), "--sign", str(tmp_path / "junk.pem")])
    assert result.exit_code == 2 and "not an unencrypted PEM private key" in result.output
