"""Property test: a mutated manifest.json against every command that opens a bundle.

Random edits (values of other types, paths in and out of the bundle, deleted and added keys),
half of them re-sealed with a recomputed digest (the careless edit is caught by the digest; the
hostile one must be caught by what reads the manifest). Every command either succeeds or fails
with an EdgeMLError (exit 2), never a traceback; no file outside the bundle is touched, and a
library outside it is never loaded. ``FUZZ_EXAMPLES`` examples, each running 10 commands.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import edgeml
import edgeml.runtime
from edgeml.cli import cli
from edgeml.errors import EdgeMLError
from edgeml.serve._served import ServedModel
from tests.conftest import churn_like, reseal
from tests.test_bundle_trust import EVIL_C
from tests.test_monitor import write_log

FUZZ_EXAMPLES = 40

ROOT_PATHS = ["../sentinel/victim.txt", "../../sentinel/victim.txt", "/etc/passwd", "", ".",
              "..", "model.txt", "treelite/model.so", "a/../model.txt", "./model.txt",
              "nested/../../x", "manifest.json", "model.txt\x00", "mod\\el.txt", "ü/ß.txt",
              "x" * 300]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A pristine bundle (treelite exported), data, a prediction log and a sentinel directory
    holding files a hostile manifest may point at, with a library whose constructor leaves a
    marker if it is ever loaded."""
    root = tmp_path_factory.mktemp("fuzz")
    data = root / "data" / "churn.csv"
    data.parent.mkdir()
    churn_like(n=240).write_csv(data)
    churn_like(n=240, seed=7).write_csv(root / "data" / "new.csv")  # what retrain learns from
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEML_CACHE", str(root / "cache"))
        trained = edgeml.train(data, target="churn", out=root / "pristine" / "churn.edgeml",
                               cv_folds=0, num_boost_round=8)  # fmt: skip
        edgeml.compile.export(trained.bundle, format="treelite")
    records = churn_like(n=60, seed=5).drop("churn").rows(named=True)
    log = write_log(root / "log.db", trained.bundle, records, None)
    sentinel = root / "sentinel"
    sentinel.mkdir()
    (sentinel / "victim.txt").write_text("precious")
    marker = root / "constructor-ran"
    (sentinel / "evil.c").write_text(EVIL_C)
    width = len(edgeml.load(trained.bundle).manifest["features"]["model"])
    subprocess.run(
        ["gcc", "-shared", "-fPIC", f'-DMARKER="{marker}"', f"-DNUM_FEATURE={width}",
         str(sentinel / "evil.c"), "-o", str(sentinel / "evil.so")],
        check=True,
    )  # fmt: skip
    pristine = json.loads((trained.bundle / "manifest.json").read_text())
    return {"root": root, "bundle": trained.bundle, "data": data, "log": log,
            "sentinel": sentinel, "marker": marker, "manifest": pristine}  # fmt: skip


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(directory)): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# -- mutations ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(ROOT_PATHS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip


def locations(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into ``value`` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += locations(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:4]):
            found += locations(inner, (*prefix, index))
    return found


@st.composite
def mutations(draw: st.DrawFn, manifest: dict[str, Any]) -> list[tuple[str, tuple, Any]]:
    chosen = []
    # Hypothesis favours the first places of a list: an arbitrary but fixed order, so no key
    # (schema_version is first in the file) takes a large share of the examples.
    places = sorted(locations(manifest), key=lambda p: hashlib.sha256(repr(p).encode()).digest())
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(places))
        kind = draw(st.sampled_from(["value", "path", "delete", "add", "type"]))
        value = draw(json_values if kind != "path" else st.sampled_from(ROOT_PATHS))
        chosen.append((kind, where, value))
    return chosen


def apply(manifest: dict[str, Any], changes: list[tuple[str, tuple, Any]]) -> dict[str, Any]:
    result = copy.deepcopy(manifest)
    for kind, where, value in changes:
        parent: Any = result
        try:
            for key in where[:-1]:
                parent = parent[key]
            last = where[-1]
            current = parent[last]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed it
        if kind == "delete":
            del parent[last]
        elif kind == "add" and isinstance(current, dict):
            current[str(value)[:20] or "k"] = value
        elif kind == "type":
            parent[last] = {"list": [current], "dict": {"v": current}}[
                "dict" if isinstance(current, list) else "list"
            ]
        else:
            parent[last] = value
    return result


# -- the commands ------------------------------------------------------------------------------


def cli_commands(bundle: Path, world: dict[str, Any], out: Path) -> list[list[str]]:
    data, log = str(world["data"]), str(world["log"])
    return [
        ["evaluate", str(bundle), data],
        ["predict", str(bundle), data, "-o", str(out / "p.csv")],
        ["report", str(bundle), "-o", str(out / "r.html")],
        ["monitor", str(bundle), "--log", log, "--json"],
        ["registry", "add", "churn", str(bundle), "--registry", str(out / "registry")],
        [
            "retrain",
            str(bundle),
            str(world["data"].parent / "new.csv"),
            "--out",
            str(out / "challenger.edgeml"),
            "--json",
        ],
        ["export", str(bundle), "--format", "lightgbm"],  # rewrites the bundle: last
    ]


def library_calls(bundle: Path) -> list[Any]:
    row = churn_like(n=3, seed=2).drop("churn").rows(named=True)[0]
    return [
        lambda: edgeml.runtime.load(bundle).predict_row(row),
        lambda: edgeml.runtime.load(bundle, verify=False, backend="treelite"),
        lambda: ServedModel.load(bundle),
    ]


# No shrinking: each example runs ten commands, and the failure message holds the edits.
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])  # fmt: skip
@given(data=st.data())
def test_mutated_manifests_are_refused_cleanly(world, data):
    changes = data.draw(mutations(world["manifest"]))
    sealed = data.draw(st.booleans())
    work = world["root"] / "work"
    shutil.rmtree(work, ignore_errors=True)
    bundle = Path(shutil.copytree(world["bundle"], work / "bundle" / "churn.edgeml"))
    out = work / "out"
    out.mkdir()
    (bundle / "manifest.json").write_text(json.dumps(apply(world["manifest"], changes)))
    if sealed:
        reseal(bundle)
    before = snapshot(world["sentinel"]), snapshot(world["data"].parent)
    try:
        for call in library_calls(bundle):
            with contextlib.suppress(EdgeMLError):
                call()
        for args in cli_commands(bundle, world, out):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code in (0, 2), (args, changes, result.output, result.exception)
            assert "Traceback" not in result.output
        assert (snapshot(world["sentinel"]), snapshot(world["data"].parent)) == before
        assert not world["marker"].exists()
        assert sorted(p.name for p in (work / "bundle").iterdir()) == ["churn.edgeml"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
