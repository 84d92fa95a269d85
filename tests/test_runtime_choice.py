"""``auto`` measures every exported backend here and keeps the fastest, cached per machine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import edgeml
import edgeml.runtime
from edgeml.compile import export
from edgeml.runtime import Choice, Measurement
from edgeml.runtime._choice import pick
from edgeml.spec.manifest import BACKENDS
from tests.conftest import churn_like, reseal


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("choice")
    trained = edgeml.train(churn_like(n=400), target="churn", out=root / "churn.edgeml",
                           cv_folds=0, num_boost_round=30)  # fmt: skip
    for format_ in ("native", "treelite"):
        export(trained.bundle, format=format_)
    return trained.bundle


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDGEML_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_auto_measures_each_exported_backend_and_keeps_the_fastest(bundle, cache):
    model = edgeml.runtime.load(bundle)
    choice = model.choice
    assert isinstance(choice, Choice) and not choice.cached and choice.prefer == "row"
    assert set(choice.measurements) == {"native", "treelite"}  # LightGBM only when none loads
    assert all(m.row_us > 0 and m.batch_us_per_row > 0 for m in choice.measurements.values())
    assert model.backend_name == choice.chosen == pick(choice.measurements, BACKENDS, "row")
    # The choice is kept per machine: the next load reads it and loads only that backend.
    entries = list((cache / "backend-choice").glob("*.json"))
    assert len(entries) == 1
    again = edgeml.runtime.load(bundle)
    assert again.choice is not None and again.choice.cached
    assert again.backend_name == model.backend_name
    batch = edgeml.runtime.load(bundle, prefer="batch")
    assert batch.backend_name == pick(choice.measurements, BACKENDS, "batch")


def test_the_measured_choice_predicts_what_lightgbm_predicts(bundle, cache):
    frame = churn_like(n=50, seed=8).drop("churn")
    columns = {c: frame[c].to_list() for c in frame.columns}
    ours = edgeml.runtime.load(bundle).output(columns)
    reference = edgeml.runtime.load(bundle, backend="lightgbm").output(columns)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


def test_a_cache_naming_what_does_not_load_or_holding_garbage_is_measured_again(bundle, cache):
    first = edgeml.runtime.load(bundle)
    (entry,) = (cache / "backend-choice").glob("*.json")
    data = json.loads(entry.read_text())
    data["measurements"] = {"onnx": {"row_us": 0.1, "batch_us_per_row": 0.1}}  # not exported
    entry.write_text(json.dumps(data))
    second = edgeml.runtime.load(bundle)
    assert second.choice is not None and not second.choice.cached
    entry.write_text("{ not json")
    third = edgeml.runtime.load(bundle)
    assert third.choice is not None and not third.choice.cached
    assert {first.backend_name, second.backend_name, third.backend_name} <= {"native", "treelite"}


def test_a_read_only_cache_is_not_an_error(bundle, tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory would be")
    monkeypatch.setenv("EDGEML_CACHE", str(blocked))
    assert edgeml.runtime.load(bundle).choice is not None


def test_one_export_needs_no_measuring_and_an_unknown_preference_is_refused(
    bundle, cache, tmp_path
):
    alone = Path(shutil.copytree(bundle, tmp_path / "alone.edgeml"))
    shutil.rmtree(alone / "treelite")
    manifest = json.loads((alone / "manifest.json").read_text())
    del manifest["backends"]["treelite"]
    manifest["files"] = {
        k: v for k, v in manifest["files"].items() if not k.startswith("treelite/")
    }
    (alone / "manifest.json").write_text(json.dumps(manifest))
    reseal(alone)
    model = edgeml.runtime.load(alone)
    assert model.backend_name == "native" and model.choice is None
    assert model.skipped == {"treelite": "not exported", "onnx": "not exported"}
    with pytest.raises(edgeml.errors.ConfigError, match="prefer 'fast'"):
        edgeml.runtime.load(bundle, prefer="fast")


def test_pick_keeps_the_backends_order_within_noise() -> None:
    close = {"treelite": Measurement(10.0, 1.0), "native": Measurement(10.4, 1.0)}
    assert pick(close, BACKENDS, "row") == "native"  # 4% slower: noise, order wins
    far = {"treelite": Measurement(10.0, 1.0), "native": Measurement(11.0, 1.0)}
    assert pick(far, BACKENDS, "row") == "treelite"
