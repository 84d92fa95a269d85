"""The model registry: numbered verified versions, an atomic ``current``, promote and rollback."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeml.bundle import read_manifest, write_bundle
from edgeml.cli._registry import registry as registry_cli
from edgeml.errors import ChecksumError, RegistryError
from edgeml.registry import Registry, parse_version

CREATED = "2026-01-01T00:00:00+00:00"


def fake_bundle(path: Path, value: float = 0.8) -> Path:
    """A small but complete bundle (the registry only reads the manifest's facts)."""
    manifest = {
        "created_at": CREATED,
        "task": "binary",
        "target": {"name": "churn", "classes": ["No", "Yes"]},
        "model": {"file": "model.txt"},
        "prep": {"columns": [], "steps": []},
        "metrics": {"primary": "roc_auc", "holdout": {"roc_auc": value}},
    }
    files = {"model.txt": f"tree {value}".encode(), "c/model.c": b"int x;"}
    return write_bundle(path, manifest, files)


@pytest.fixture
def bundles(tmp_path):
    return [fake_bundle(tmp_path / f"b{i}.edgeml", v) for i, v in enumerate((0.8, 0.9, 0.95), 1)]


def test_add_numbers_versions_and_promote_moves_current(tmp_path, bundles):
    reg = Registry(tmp_path / "reg")
    first = reg.add("churn", bundles[0], promote=True)
    second = reg.add("churn", bundles[1])
    assert (first.version, first.is_current, second.version, second.is_current) == (
        1,
        True,
        2,
        False,
    )
    assert reg.current("churn") == tmp_path / "reg" / "churn" / "v1"
    assert os.readlink(tmp_path / "reg" / "churn" / "current") == "v1"  # relative: movable
    reg.promote("churn", "v2")
    assert reg.current("churn").name == "v2"
    listed = reg.versions("churn")
    assert [(v.version, v.is_current, v.value) for v in listed] == [(1, False, 0.8), (2, True, 0.9)]
    assert (listed[0].task, listed[0].metric, listed[0].created_at) == (
        "binary",
        "roc_auc",
        CREATED,
    )
    assert reg.names() == ["churn"]
    # A version is the bundle's files and manifest, copied and verified.
    read_manifest(reg.current("churn"), verify=True)
    assert (reg.current("churn") / "c" / "model.c").read_bytes() == b"int x;"


def test_rollback_walks_back_through_promotions(tmp_path, bundles):
    reg = Registry(tmp_path)
    for bundle in bundles:
        reg.add("churn", bundle, promote=True)
    assert reg.rollback("churn").version == 2
    assert reg.rollback("churn").version == 1
    with pytest.raises(RegistryError) as err:
        reg.rollback("churn")
    assert str(err.value) == (
        f"{tmp_path / 'churn'}: no earlier promoted version to roll back to (current is v1)"
    )
    actions = [(e["action"], e["version"]) for e in reg.history("churn")]
    assert actions == [
        ("add", 1), ("promote", 1), ("add", 2), ("promote", 2), ("add", 3), ("promote", 3),
        ("rollback", 2), ("rollback", 1),
    ]  # fmt: skip


def test_rollback_trusts_the_symlink_when_the_history_is_behind(tmp_path, bundles):
    reg = Registry(tmp_path)
    for i, bundle in enumerate(bundles):
        reg.add("churn", bundle, promote=i < 2)
    # As if killed between switching `current` to v3 and recording it.
    os.symlink("v3", tmp_path / "churn" / "tmp-link")
    os.replace(tmp_path / "churn" / "tmp-link", tmp_path / "churn" / "current")
    assert reg.rollback("churn").version == 2


def test_promoting_the_current_version_changes_nothing(tmp_path, bundles):
    reg = Registry(tmp_path)
    reg.add("churn", bundles[0], promote=True)
    reg.promote("churn", 1)
    assert [e["action"] for e in reg.history("churn")] == ["add", "promote"]


def test_a_tampered_bundle_is_refused_and_no_version_appears(tmp_path, bundles):
    (bundles[0] / "model.txt").write_bytes(b"changed")
    reg = Registry(tmp_path / "reg")
    with pytest.raises(ChecksumError, match="model.txt changed after the bundle was written"):
        reg.add("churn", bundles[0])
    assert not list((tmp_path / "reg" / "churn").glob("v*"))


@pytest.mark.parametrize("name", ["../evil", "a/b", "", ".hidden", "-x", "a" * 101, "x y"])
def test_unsafe_names_are_refused(tmp_path, bundles, name):
    with pytest.raises(RegistryError) as err:
        Registry(tmp_path).add(name, bundles[0])
    assert str(err.value) == (
        f"model name {name!r} is not valid; expected letters, digits, '.', '_' or '-', "
        "starting with a letter or digit (at most 100 characters)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b1.edgeml", "b2.edgeml", "b3.edgeml"]


@pytest.mark.parametrize("version", ["v0", "two", "v-1", "1.5", "../v1"])
def test_bad_version_strings_are_refused(version):
    with pytest.raises(RegistryError) as err:
        parse_version(version)
    assert str(err.value) == f"version {version!r} is not valid; expected a number such as 3 or v3"


def test_unknown_model_version_and_missing_current_name_what_exists(tmp_path, bundles):
    tmp_path = tmp_path / "reg"
    reg = Registry(tmp_path)
    reg.add("churn", bundles[0])
    with pytest.raises(RegistryError) as err:
        reg.current("fraud")
    assert str(err.value) == f"{tmp_path}: no model named 'fraud' in this registry; models: churn"
    with pytest.raises(RegistryError) as err:
        reg.current("churn")
    assert str(err.value) == (
        f"{tmp_path / 'churn'}: model 'churn' has no current version; "
        "promote one with: edgeml registry promote churn VERSION"
    )
    with pytest.raises(RegistryError) as err:
        reg.promote("churn", "v7")
    assert str(err.value) == f"{tmp_path / 'churn'}: no version v7 of 'churn'; versions: v1"


def test_current_is_one_readlink_and_promote_verifies(tmp_path, bundles):
    reg = Registry(tmp_path)
    reg.add("churn", bundles[0], promote=True)
    reg.add("churn", bundles[1])
    (tmp_path / "churn" / "v2" / "model.txt").write_bytes(b"bit rot")
    (tmp_path / "churn" / "v1" / "manifest.json").write_text("not json")
    # current() does not read the bundle: a server polls it cheaply and verifies on load.
    assert reg.current("churn") == tmp_path / "churn" / "v1"
    with pytest.raises(ChecksumError):
        reg.promote("churn", 2)
    assert reg.current("churn").name == "v1"


def test_stray_temporary_dirs_are_ignored_and_cleaned_once_their_process_is_gone(tmp_path, bundles):
    reg = Registry(tmp_path)
    reg.add("churn", bundles[0], promote=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    half = tmp_path / "churn" / f".tmp-{dead}-abc" / "bundle"
    half.mkdir(parents=True)
    (half / "model.txt").write_bytes(b"half a mod")
    mine = tmp_path / "churn" / f".tmp-{os.getpid()}-live"
    mine.mkdir()
    assert [v.version for v in reg.versions("churn")] == [1]
    assert reg.add("churn", bundles[1]).version == 2
    assert not half.parent.exists()
    assert mine.exists()  # a running process's work is left alone


def test_concurrent_adds_get_distinct_complete_versions(tmp_path, bundles):
    reg = Registry(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        added = list(pool.map(lambda i: reg.add("churn", bundles[i % 3]).version, range(8)))
    assert sorted(added) == list(range(1, 9))
    for info in reg.versions("churn"):
        read_manifest(info.path, verify=True)


def test_names_of_an_empty_or_missing_registry(tmp_path):
    assert Registry(tmp_path / "nothing").names() == []


# --- command line ---------------------------------------------------------------------------


def cli(*args, env=None):
    return CliRunner().invoke(registry_cli, [str(a) for a in args], env=env)


def test_cli_add_list_promote_rollback(tmp_path, bundles):
    root = tmp_path / "reg"
    assert cli("list", "--registry", root).stdout == f"no models in {root}\n"
    result = cli("add", "churn", bundles[0], "--promote", "--registry", root)
    assert (result.exit_code, result.stdout) == (0, "added churn v1 (current)\n")
    assert cli("add", "churn", bundles[1], "--registry", root).stdout == "added churn v2\n"
    assert cli("list", "--registry", root).stdout.splitlines() == [
        f"* churn v1  binary  roc_auc 0.8000  {CREATED}",
        f"  churn v2  binary  roc_auc 0.9000  {CREATED}",
    ]
    assert cli("promote", "churn", "2", "--registry", root).stdout == "churn: current is v2\n"
    assert cli("rollback", "churn", "--registry", root).stdout == "churn: rolled back to v1\n"
    payload = json.loads(cli("list", "--json", env={"EDGEML_REGISTRY": str(root)}).stdout)
    assert payload["registry"] == str(root)
    assert [(v["version"], v["is_current"]) for v in payload["models"]["churn"]] == [
        (1, True),
        (2, False),
    ]


def test_cli_user_errors_are_one_line_with_exit_code_2(tmp_path, bundles):
    root = tmp_path / "reg"
    cli("add", "churn", bundles[0], "--registry", root)
    result = cli("promote", "churn", "v9", "--registry", root)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {root / 'churn'}: no version v9 of 'churn'; versions: v1\n"
    result = cli("rollback", "../x", "--registry", root)
    assert result.exit_code == 2 and result.stderr.startswith("Error: model name '../x' is not")
    assert len(result.stderr.splitlines()) == 1
    result = cli("list", env={"EDGEML_REGISTRY": ""})
    assert result.exit_code == 2 and "Missing option '--registry'" in result.stderr


def test_every_command_help_has_an_example():
    for command in ("list", "add", "promote", "rollback"):
        assert "Example:" in cli(command, "--help").stdout
    assert "Example:" in cli("--help").stdout


def test_name_of_a_version_or_current_path(tmp_path, bundles):
    registry = Registry(tmp_path / "models")
    registry.add("churn", bundles[0], promote=True)
    assert registry.name_of(tmp_path / "models" / "churn" / "current") == "churn"
    assert registry.name_of(tmp_path / "models" / "churn" / "v1") == "churn"
    with pytest.raises(RegistryError, match="is not a version in the registry"):
        registry.name_of(bundles[0])
