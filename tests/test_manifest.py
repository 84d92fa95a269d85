"""The typed manifest (edgeml.spec.manifest): every section read, checked, and written back as
the same JSON object, for bundles the trainer and the exporters write and for generated ones."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgeml
import edgeml.compile
from edgeml.bundle import open_bundle
from edgeml.errors import BundleError, VersionError
from edgeml.spec.manifest import Manifest
from edgeml.spec.metrics import Decision
from edgeml.spec.monitoring import Histogram
from tests.conftest import reseal

# A manifest written by edgeml before the manifest was typed (edgeml 0.1, schema version 2):
# kept verbatim, so a change to the classes that stops reading such bundles fails here.
BEFORE = Path(__file__).parent / "manifests" / "churn_v2_before_typed.json"


def stored(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fleet_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regression bundle with per-machine time-series features (a feature plan) and a
    lightgbm export recorded in its backends."""
    root = tmp_path_factory.mktemp("manifest")
    frame = edgeml.datasets.sensor_fleet(n_machines=4, days=5).drop("failure_within_24h")
    bundle = edgeml.train(
        frame, target="temperature", out=root / "fleet.edgeml", time_col="timestamp",
        entity_col="machine_id", cv_folds=0, num_boost_round=20,
    ).bundle  # fmt: skip
    edgeml.compile.export(bundle, format="lightgbm")
    return bundle


def test_trained_bundles_round_trip_exactly(trained_bundle, fleet_bundle):
    for bundle in (trained_bundle, fleet_bundle):
        raw = stored(bundle)
        manifest = open_bundle(bundle).spec
        assert manifest.to_dict() == raw
        assert Manifest.from_dict(manifest.to_dict()) == manifest


def test_the_sections_read_as_typed_values(trained_bundle, fleet_bundle):
    churn = open_bundle(trained_bundle).spec
    assert churn.task == "binary" and churn.classes == ["No", "Yes"]
    assert churn.metrics.primary == "roc_auc" and 0 < churn.metrics.holdout["roc_auc"] <= 1
    assert churn.metrics.rows.train + churn.metrics.rows.holdout == churn.data_card.rows_used
    assert set(churn.metrics.cv["roc_auc"]) == {"mean", "std"}
    assert isinstance(churn.decision, Decision) and churn.calibration == {"method": "none"}
    assert churn.model.rounds is not None and churn.model.rounds.rounds == churn.model.num_trees
    assert churn.id_cols == ("customer_id",) and churn.model_file == "model.txt"
    assert all(isinstance(h, Histogram) for h in churn.monitoring.features.values())
    assert churn.monitoring.features["contract"].kind == "categories"
    assert churn.search is None and churn.leaderboard is None and churn.retrain is None
    fleet = open_bundle(fleet_bundle).spec
    assert fleet.task == "regression" and fleet.classes is None and fleet.target.mean is not None
    assert fleet.decision is None and fleet.calibration is None
    assert fleet.features.plan is not None and fleet.features.plan.entity_col == "machine_id"
    assert set(fleet.features.feature_plan.selected) <= set(fleet.features.model)
    assert set(fleet.backends) == {"lightgbm"} and fleet.backends["lightgbm"].parity is not None


def test_a_manifest_written_before_the_typed_class_still_reads():
    raw = json.loads(BEFORE.read_text(encoding="utf-8"))
    manifest = Manifest.from_dict(raw, where=BEFORE.name)
    assert manifest.to_dict() == raw
    assert manifest.metrics.holdout["roc_auc"] == raw["metrics"]["holdout"]["roc_auc"]
    assert manifest.decision is not None and manifest.decision.rule == "fixed"


OPTIONAL = ("decision", "calibration", "learning_curves", "search", "leaderboard", "retrain",
            "edgeml_version", "created_at")  # fmt: skip
EMPTY = ("metrics", "data_card", "monitoring", "backends", "config", "decisions", "roles",
         "libraries", "id_cols", "input_schema", "features")  # fmt: skip


@pytest.mark.parametrize("key", OPTIONAL + EMPTY)
def test_a_section_an_older_bundle_lacks_reads_as_none_or_empty(key):
    raw = json.loads(BEFORE.read_text(encoding="utf-8"))
    raw.pop(key, None)
    manifest = Manifest.from_dict(raw)
    value = getattr(manifest, key)
    if key in OPTIONAL:
        assert value is None
    else:
        assert value == type(value)()  # an empty section, dict or tuple
    assert manifest.to_dict() == raw  # and it stays absent when written back


def test_sections_inside_sections_are_optional_too():
    raw = json.loads(BEFORE.read_text(encoding="utf-8"))
    del raw["monitoring"]["prediction"], raw["model"]["rounds"], raw["features"]["plan"]
    del raw["metrics"]["cv"], raw["data_card"]["rows_used"]
    manifest = Manifest.from_dict(raw)
    assert manifest.monitoring.prediction is None and manifest.model.rounds is None
    assert manifest.features.plan is None and manifest.features.feature_plan.steps == []
    assert manifest.metrics.cv == {} and manifest.data_card.rows_used is None
    assert manifest.to_dict() == raw


def test_unknown_keys_are_kept():
    raw = json.loads(BEFORE.read_text(encoding="utf-8"))
    raw["from_a_newer_edgeml"] = {"x": [1, 2]}
    raw["metrics"]["new_figure"] = 3
    manifest = Manifest.from_dict(raw)
    assert manifest.extra == {"from_a_newer_edgeml": {"x": [1, 2]}}
    assert manifest.to_dict() == raw


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("task",), "ranking", "manifest task is 'ranking'; expected Literal"),
        (("target", "classes"), "NoYes", "manifest target.classes is 'NoYes'; expected a list"),
        (("target", "classes"), ["No", "No"], "target.classes must be distinct"),
        (("target", "classes"), ["Yes"], "fewer than two classes"),
        (("metrics", "holdout"), [0.5], "manifest metrics.holdout is a list; expected an object"),
        (("metrics", "holdout", "f1"), "high", "manifest metrics.holdout.f1 is 'high'"),
        (("metrics", "rows", "train"), 1.5, "manifest metrics.rows.train is 1.5; expected int"),
        (("monitoring", "features", "tenure", "edges"), {}, "monitoring.features.tenure.edges"),
        (("model",), "model.txt", "manifest model is 'model.txt'; expected an object"),
        (("model", "file"), None, "manifest model.file is None; expected str"),
        (("input_schema",), [{"name": "x"}], r"manifest input_schema\[0\] has no 'dtype'"),
        (("decision", "threshold"), True, "manifest decision.threshold is True; expected float"),
        (("features", "model"), ["a", 1], r"manifest features.model\[1\] is 1; expected str"),
        (("prep", "steps"), "none", "prep plan is malformed"),
    ],
)  # fmt: skip
def test_a_wrong_value_is_a_bundle_error_naming_the_key(path, value, message):
    raw = json.loads(BEFORE.read_text(encoding="utf-8"))
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(BundleError, match=f"^churn.edgeml: .*{message}"):
        Manifest.from_dict(raw, where="churn.edgeml")


def test_a_missing_required_key_is_named():
    raw = json.loads(BEFORE.read_text(encoding="utf-8"))
    for key, message in (("target", "manifest has no 'target'"), ("prep", "has no 'prep'")):
        broken = copy.deepcopy(raw)
        del broken[key]
        with pytest.raises(BundleError, match=message):
            Manifest.from_dict(broken)
    del raw["target"]["name"]
    with pytest.raises(BundleError, match="manifest target has no 'name'"):
        Manifest.from_dict(raw)
    with pytest.raises(VersionError):
        Manifest.from_dict({**raw, "schema_version": 3})


def test_opening_a_bundle_checks_its_manifest_by_type(trained_bundle, tmp_path):
    bundle = shutil.copytree(trained_bundle, tmp_path / "edited.edgeml")
    raw = stored(bundle)
    raw["metrics"]["cv"] = {"roc_auc": [0.5]}
    (bundle / "manifest.json").write_text(json.dumps(raw), encoding="utf-8")
    reseal(bundle)  # past the digest: what reads the manifest must refuse it
    with pytest.raises(BundleError, match="manifest metrics.cv.roc_auc is a list"):
        open_bundle(bundle)
    with pytest.raises(BundleError, match="metrics.cv.roc_auc"):
        edgeml.load(bundle)


# -- generated manifests -----------------------------------------------------------------------

names = st.text("abcdefghij_", min_size=1, max_size=8)
numbers = st.floats(allow_nan=False, allow_infinity=False, width=32) | st.integers(-9, 9)
scores = st.dictionaries(names, numbers | st.none(), max_size=3)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, or ``None`` meaning the key is left out."""
    return st.none() | strategy


@st.composite
def histograms(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["quantiles", "values", "categories", "numeric", "classes"]))
    counts = draw(st.lists(st.integers(0, 50), min_size=1, max_size=4))
    out: dict[str, Any] = {"kind": kind, "counts": counts}
    if kind in ("quantiles", "numeric"):
        out["edges"] = sorted(draw(st.lists(numbers, min_size=len(counts) + 1,
                                            max_size=len(counts) + 1)))  # fmt: skip
    if kind == "values":
        out["values"] = draw(st.lists(numbers, min_size=len(counts), max_size=len(counts)))
    if kind == "categories":
        out |= {"column": draw(names), "categories": draw(st.lists(names, min_size=len(counts),
                max_size=len(counts))), "other": draw(st.integers(0, 5))}  # fmt: skip
    if kind != "classes":
        out["missing"] = draw(st.floats(0, 1))
    return out


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    task = draw(st.sampled_from(["binary", "multiclass", "regression"]))
    classes = None if task == "regression" else draw(
        st.lists(names, min_size=2 if task == "binary" else 3, max_size=4, unique=True)
    )  # fmt: skip
    features = draw(st.lists(names, max_size=4, unique=True))
    sections: dict[str, Any] = {
        "edgeml_version": draw(optional(st.just("0.1.0"))),
        "created_at": draw(optional(st.just("2026-12-02T16:00:00+00:00"))),
        "libraries": draw(optional(st.dictionaries(names, names, max_size=2))),
        "id_cols": draw(optional(st.lists(names, max_size=2))),
        "input_schema": draw(optional(st.lists(st.fixed_dictionaries(
            {"name": names, "dtype": st.sampled_from(["float", "int", "str"]),
             "role": st.sampled_from(["feature", "id", "dropped"])},
            optional={"categories": st.lists(names, max_size=3)}), max_size=3))),
        "metrics": draw(optional(st.fixed_dictionaries({}, optional={
            "primary": names, "holdout": scores, "baseline": scores,
            "cv": st.dictionaries(names, st.fixed_dictionaries({"mean": numbers, "std": numbers}),
                                  max_size=2),
            "split": names, "cv_folds": st.integers(0, 10),
            "rows": st.fixed_dictionaries({"train": st.integers(0, 99),
                                           "holdout": st.integers(0, 99)}),
            "notes": st.lists(names, max_size=2)}))),
        "monitoring": draw(optional(st.fixed_dictionaries(
            {"features": st.dictionaries(names, histograms(), max_size=3)},
            optional={"prediction": histograms()}))),
        "backends": draw(optional(st.dictionaries(st.sampled_from(["lightgbm", "onnx", "native"]),
            st.fixed_dictionaries({}, optional={"file": names, "files": st.lists(names, max_size=2),
                "target": names, "parity": st.dictionaries(names, numbers, max_size=2),
                "machine": names, "num_feature": st.integers(0, 9), "cached": st.booleans()}),
            max_size=2))),
        "decision": draw(optional(st.fixed_dictionaries(
            {"threshold": st.floats(0, 1), "rule": names, "reason": names},
            optional={"out_of_fold": st.dictionaries(names, numbers, max_size=2)}))),
        "calibration": draw(optional(st.just({"method": "none"}))),
        "search": draw(optional(st.dictionaries(names, numbers, max_size=2))),
        "retrain": draw(optional(st.dictionaries(names, st.booleans(), max_size=2))),
        "unknown_to_this_edgeml": draw(optional(st.lists(numbers, max_size=2))),
    }  # fmt: skip
    return {
        "schema_version": 2,
        "task": task,
        "target": {"name": draw(names), "task": task, "classes": classes},
        "prep": {"columns": [], "steps": [], "row_filters": []},
        "features": {"model": features, "categorical": features[:1]},
        "model": {"file": "model.txt", "num_trees": draw(st.integers(0, 500))},
        **{key: value for key, value in sections.items() if value is not None},
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests())
def test_generated_manifests_round_trip_exactly(raw):
    manifest = Manifest.from_dict(raw)
    assert manifest.to_dict() == raw
    again = Manifest.from_dict(json.loads(json.dumps(manifest.to_dict())))
    assert again == manifest
