"""Training end to end on small real files: task, splits, metrics, bundle, determinism."""

import json
import re
import shutil

import numpy as np
import polars as pl
import pytest

import edgeml
from edgeml.data import conform
from edgeml.errors import SchemaError, TargetError
from edgeml.learn import Splitter, fit_target
from edgeml.prep import apply_prep, to_matrix
from tests.conftest import churn_like


@pytest.mark.parametrize(
    ("values", "task", "classes"),
    [
        (["No", "Yes", "No"], "binary", ["No", "Yes"]),
        ([True, False, None], "binary", [False, True]),
        (["VF", "F", "M", "L"], "multiclass", ["F", "L", "M", "VF"]),
        ([0, 1, 2, 1], "multiclass", [0, 1, 2]),
        ([0, 1, 1], "binary", [0, 1]),
        ([3.5, 1.25, 7.0], "regression", None),
        # class codes written as floats (pandas does so when a label is missing): the same
        # classes as the integers, not a regression target and not the labels "0.0", "1.0"
        ([0.0, 1.0, 2.0, None, 1.0], "multiclass", [0, 1, 2]),
        ([1.0, 0.0, float("nan")], "binary", [0, 1]),
        ([2.0, 10.0, 35.0, 41.0, 5.0, 6.0, 7.0, 8.0, 9.0, 11.0, 12.0], "regression", None),
        ([10, 200, 35, 41, 5, 6, 7, 8, 9, 11, 12], "regression", None),
    ],
)
def test_task_detection(values, task, classes):
    encoding = fit_target(pl.Series("y", values))
    assert (encoding.task, encoding.classes) == (task, classes)


@pytest.mark.parametrize(
    ("values", "positive", "classes"),
    [
        (["ok"] * 5 + ["fraud"], None, ["ok", "fraud"]),  # the rarer label is the one to find
        (["fraud"] * 5 + ["ok"], None, ["fraud", "ok"]),
        (["Yes"] * 5 + ["No"], None, ["No", "Yes"]),  # yes/no-style pairs whatever the counts
        (["true", "false", "true"], None, ["false", "true"]),
        (["pos", "neg", "pos"], None, ["neg", "pos"]),
        (["b", "a"], None, ["a", "b"]),  # a tie keeps the sorted order
        ([1, 1, 1, 0], None, [0, 1]),  # numbers and booleans keep 1 and True
        (["ok"] * 5 + ["fraud"], "ok", ["fraud", "ok"]),  # [train] positive_class wins
        (["No", "Yes", "Yes"], "No", ["Yes", "No"]),
    ],
)
def test_the_positive_class_is_the_one_to_find(values, positive, classes):
    assert fit_target(pl.Series("y", values), positive=positive).classes == classes


@pytest.mark.parametrize(
    ("values", "classes"),
    [
        (["Yes", "yes ", " YES", "Yes", "No", "no", "NO ", "No"], ["No", "Yes"]),  # typed by hand
        ([" <=50K", "<=50K", "<=50K", ">50K ", ">50K"], ["<=50K", ">50K"]),
        (["a", "B", "b", "c", "A", "a"], ["B", "a", "c"]),  # each spelt as most rows spell it
        (["x", " ", "", "y", "x"], ["x", "y"]),  # a blank label is no label
    ],
)
def test_text_labels_differing_in_case_or_spaces_are_one_class(values, classes):
    target = fit_target(pl.Series("y", values))
    assert target.classes == classes
    labelled = [v for v in values if v.strip()]
    codes = target.encode(pl.Series("y", labelled)).tolist()
    assert [classes[c].lower() for c in codes] == [v.strip().lower() for v in labelled]


def test_labels_ending_in_a_full_stop_are_the_class_without_it():
    """UCI's Adult test file writes ' >50K.' where its training file writes ' >50K': evaluate
    refused it ("holds '<=50K.', which is not one of the 2 classes seen in training"), and
    training on both files together learned four classes."""
    target = fit_target(pl.Series("income", [" <=50K", " >50K", " <=50K"]))
    assert target.classes == ["<=50K", ">50K"]
    assert target.encode(pl.Series("income", [" >50K.", " <=50K.", ">50K"])).tolist() == [1, 0, 1]
    both = fit_target(pl.Series("income", [" <=50K", " >50K", " <=50K.", " <=50K", " >50K."]))
    assert both.classes == ["<=50K", ">50K"]


def test_float_class_codes_with_a_missing_label_train_as_the_integer_classes(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    codes = np.digitize(x, [-0.5, 0.5]).astype(float)
    codes[::30] = np.nan  # pandas writes the codes as 0.0, 1.0, 2.0 beside a blank
    pl.DataFrame({"x": x, "y": codes}).write_csv(tmp_path / "train.csv")
    result = edgeml.train(tmp_path / "train.csv", target="y", out=tmp_path / "m.edgeml")
    assert (result.spec.task, list(result.spec.target.classes or [])) == ("multiclass", [0, 1, 2])
    model = edgeml.load(result.bundle)
    labelled = pl.DataFrame({"x": x[:60], "y": np.digitize(x[:60], [-0.5, 0.5])})
    assert model.predict(labelled).columns == ["prediction", "proba_0", "proba_1", "proba_2"]
    assert model.evaluate(labelled)["metrics"]["accuracy"] > 0.9


@pytest.mark.parametrize(
    ("codes", "task", "note"),
    [
        ([3, 5, 6, 8], "regression", "4 whole numbers from 3 to 8, trained as a regression"),
        ([0, 1, 2], "multiclass", "3 whole numbers from 0 to 2, trained as 3 classes"),
    ],
)
def test_a_task_guessed_from_whole_numbers_is_said(tmp_path, codes, task, note):
    # wine-quality codes 3..8 train a regression, codes 0..2 classes: say which, and how to
    # choose the other, instead of a silent guess
    rng = np.random.default_rng(2)
    y = rng.choice(codes, 200)
    frame = pl.DataFrame({"x": y + rng.normal(size=200), "y": y})
    result = edgeml.train(frame, target="y", out=tmp_path / "m.edgeml")
    assert result.spec.task == task
    assert f"target 'y': {note}" in " ".join(result.spec.metrics.notes)
    given = edgeml.train(frame, target="y", out=tmp_path / "n.edgeml", task=task)
    assert not any("whole numbers" in n for n in given.spec.metrics.notes)


def test_a_positive_class_matches_whatever_its_case():
    assert fit_target(pl.Series("y", ["ok", "ok", "Fraud"]), positive="fraud ").classes == [
        "ok",
        "Fraud",
    ]


def test_an_unknown_label_names_the_first_classes_only():
    target = fit_target(pl.Series("y", [f"c{i}" for i in range(30)]))
    with pytest.raises(TargetError) as caught:
        target.encode(pl.Series("y", ["zzz"]), source="new.csv")
    assert str(caught.value) == (
        "new.csv: target 'y' holds 'zzz', which is not one of the 30 classes seen in training: "
        f"{[*[f'c{i}' for i in sorted(range(30), key=str)][:20], '...']}"
    )


def test_messy_labels_train_and_evaluate_through_the_cli(tmp_path):
    """Labels typed in several spellings and a number target with "?" and blanks: a binary
    model and a regression model, not a 4-class or a thousand-class one."""
    from click.testing import CliRunner

    from edgeml.cli import cli

    frame = churn_like(n=400)
    spellings = ["{}", "{} ", "{}", " {}"]
    churn = [spellings[i % 4].format(v.upper() if i % 3 == 0 else v)
             for i, v in enumerate(frame["churn"])]  # fmt: skip
    labels = tmp_path / "labels.csv"
    frame.with_columns(pl.Series("churn", churn)).write_csv(labels)
    result = CliRunner().invoke(
        cli, ["train", str(labels), "--target", "churn", "--out", str(tmp_path / "c.edgeml")]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "c.edgeml" / "manifest.json").read_text())
    assert (manifest["task"], manifest["target"]["classes"]) == ("binary", ["No", "Yes"])
    evaluated = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "c.edgeml"), str(labels)])
    assert evaluated.exit_code == 0, evaluated.output

    numbers = _regression_frame().with_columns(pl.col("y").round(3).cast(pl.String))
    marks = ["?", " ", "N/A", "-"]
    numbers = numbers.with_columns(
        pl.when(pl.int_range(pl.len()) < 8)
        .then(pl.Series([marks[i % 4] for i in range(numbers.height)]))
        .otherwise(pl.col("y"))
        .alias("y")
    )
    data = tmp_path / "numbers.csv"
    numbers.write_csv(data)
    out = tmp_path / "r.edgeml"
    result = CliRunner().invoke(cli, ["train", str(data), "--target", "y", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == "regression"
    filters = {f["kind"]: f["rows_removed"] for f in manifest["prep"]["row_filters"]}
    assert filters["unlabelled"] == 8
    scored = CliRunner().invoke(cli, ["evaluate", str(out), str(data), "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.output)["metrics"]["r2"] > 0.5


def test_a_column_that_alone_predicts_the_target_is_pointed_out(tmp_path):
    """A column filled in after the outcome gives a perfect score: training says which one."""
    from click.testing import CliRunner

    from edgeml.cli import cli

    frame = churn_like(n=400)
    rng = np.random.default_rng(1)
    refund = np.where(frame["churn"] == "Yes", 50.0, 0.0) + rng.uniform(0, 5, frame.height)
    data = tmp_path / "leaky.csv"
    frame.with_columns(pl.Series("refund", refund)).write_csv(data)
    args = ["train", str(data), "--target", "churn", "--out", str(tmp_path / "m.edgeml")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: column 'refund' alone predicts 'churn' almost perfectly (majority_accuracy "
        "0.995): if its value is only known after the outcome, it leaks; leave it out with "
        "[data] drop = [...]"
    ]
    clean = tmp_path / "clean.csv"
    frame.write_csv(clean)
    result = CliRunner().invoke(cli, [*args[:1], str(clean), *args[2:]])
    assert result.exit_code == 0, result.output
    assert "note: " not in result.output


def test_a_regression_target_ruled_by_a_few_outliers_is_said(tmp_path):
    # 5 labels of 1e6 among 600 of about -10..10: the folds stopped after one round and the
    # model was the mean (r2 -0.01) without a word; l1 learns (it is what the note suggests)
    rng = np.random.default_rng(3)
    x = rng.normal(size=600)
    y = 3 * x + rng.normal(size=600)
    y[:5] = 1e6
    frame = pl.DataFrame({"x": x, "y": y})
    result = edgeml.train(frame, target="y", out=tmp_path / "m.edgeml", cv_folds=2)
    notes = [n for n in result.spec.metrics.notes if "far outside the rest" in n]
    assert notes and notes[0].startswith("target 'y': 5 labels far outside the rest (1e+06 to")
    assert 'objective = "l1"' in notes[0]
    robust = edgeml.train(frame, target="y", out=tmp_path / "l1.edgeml", cv_folds=2,
                          params={"objective": "l1"})  # fmt: skip
    assert not any("far outside" in n for n in robust.spec.metrics.notes)
    plain = edgeml.train(frame.head(600).with_columns(pl.Series("y", 3 * x)), target="y",
                         out=tmp_path / "p.edgeml", cv_folds=2)  # fmt: skip
    assert not any("far outside" in n for n in plain.spec.metrics.notes)


def test_leaks_are_judged_on_a_sample_of_a_large_frame():
    # past the sample size the check reads a sample of the rows, with their targets: the
    # leaking column is still found, a column of noise is not, for both kinds of target
    from edgeml.learn._prepared import _LEAK_SAMPLE_ROWS, _leak_notes
    from edgeml.learn._target import TargetEncoding

    rng = np.random.default_rng(4)
    n = 3 * _LEAK_SAMPLE_ROWS
    y = rng.integers(0, 2, n)
    frame = pl.DataFrame({"noise": rng.normal(size=n), "refund": y * 50.0 + rng.uniform(0, 5, n)})
    binary = TargetEncoding(name="churn", task="binary", classes=["No", "Yes"])
    notes = _leak_notes(frame, y, binary, ["noise", "refund"])
    assert [note.split(" alone")[0] for note in notes] == ["column 'refund'"]
    amount = rng.normal(size=n)
    frame = frame.with_columns(pl.Series("refund", amount * 3.0 + 1.0))
    regression = TargetEncoding(name="amount", task="regression")
    notes = _leak_notes(frame, amount, regression, ["noise", "refund"])
    assert [note.split(" alone")[0] for note in notes] == ["column 'refund'"]


def test_an_unknown_positive_class_is_named():
    with pytest.raises(TargetError, match=r"positive_class 'fraud' is not a class of target 'y'"):
        fit_target(pl.Series("y", ["a", "b"]), positive="fraud")


def test_a_rare_text_class_is_scored_and_thresholded_as_positive(tmp_path):
    """Precision, recall, F1 and the F1 threshold are about the rare class: with the sorted
    order ("ok" after "fraud"), a fraud model reported the F1 of "ok" and flagged no fraud."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6000, 3))
    fraud = rng.random(6000) < 1 / (1 + np.exp(-(-4.5 + 2 * x[:, 0] + x[:, 1])))
    frame = pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2],
                          "label": np.where(fraud, "fraud", "ok")})  # fmt: skip
    result = edgeml.train(frame, target="label", cv_folds=3, out=tmp_path / "m.edgeml")
    assert result.manifest["target"]["classes"] == ["ok", "fraud"]
    holdout = result.metrics["holdout"]
    assert holdout["recall"] > 0.2 and holdout["f1"] < 0.9  # the F1 of "ok" would be ~0.99
    predicted = edgeml.load(result.bundle).predict(frame.drop("label"))
    assert (predicted["prediction"] == "fraud").sum() > 0


def test_task_override():
    assert fit_target(pl.Series("y", [0, 1, 2]), task="regression").task == "regression"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([None, None], "target 'y' is null on every row"),
        (["a", "a", None], "target 'y' has a single class ('a')"),
    ],
)
def test_unlearnable_targets(values, message):
    with pytest.raises(TargetError, match=re.escape(message)):
        fit_target(pl.Series("y", values, dtype=pl.String))


def test_text_target_cannot_be_regression():
    with pytest.raises(TargetError, match="regression needs numbers"):
        fit_target(pl.Series("y", ["a", "b"]), task="regression")


def test_time_ordered_splits_train_on_the_past():
    splitter = Splitter(seed=0, time_ordered=True)
    train, test = splitter.holdout(100, 0.2)
    assert train.max() < test.min()
    for fold_train, fold_test in splitter.folds(train, 5):
        assert fold_train.max() < fold_test.min()


def test_grouped_splits_keep_groups_together():
    groups = np.repeat(np.arange(20), 5)
    splitter = Splitter(seed=0, groups=groups)
    train, test = splitter.holdout(100, 0.2)
    assert not set(groups[train]) & set(groups[test])
    for fold_train, fold_test in splitter.folds(train, 4):
        assert not set(groups[fold_train]) & set(groups[fold_test])


def test_stratified_splits_keep_class_shares():
    strata = np.array([0] * 90 + [1] * 10)
    splitter = Splitter(seed=0, strata=strata)
    _, test = splitter.holdout(100, 0.2)
    assert strata[test].sum() == 2
    assert splitter.kind == "stratified"


def test_a_class_of_one_row_stays_on_the_training_side_of_every_split():
    strata = np.array([0, 1, 2] * 40 + [3, 4, 4])  # class 3: one row; class 4: two
    splitter = Splitter(seed=0, strata=strata)
    assert splitter.kind == "stratified"
    lone = int(np.flatnonzero(strata == 3)[0])
    for seed in range(20):
        train, test = Splitter(seed=seed, strata=strata).holdout(len(strata), 0.2)
        assert lone in train and lone not in test
        assert sorted(np.bincount(strata[test], minlength=5)[:3]) == [8, 8, 8]  # stratified
    folds = splitter.folds(np.arange(len(strata)), 5)
    assert all(lone in train and 4 in strata[train] for train, _ in folds)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == [i for i in range(len(strata)) if i != lone]


def test_a_rare_class_among_many_keeps_the_holdout_and_every_fold(tmp_path):
    from click.testing import CliRunner

    from edgeml.cli import cli

    rng = np.random.default_rng(0)
    n = 400
    kind = rng.integers(0, 8, n)
    labels = [f"type-{k}" for k in kind]
    labels[:3] = ["rare-one", "rare-two", "rare-two"]
    frame = pl.DataFrame({"x": kind + rng.normal(0, 0.3, n), "z": rng.normal(size=n), "y": labels})
    data = tmp_path / "species.csv"
    frame.write_csv(data)
    args = ["train", str(data), "--target", "y", "--out", str(tmp_path / "m"), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["rows"]["holdout"] == 80
    assert out["notes"] == [
        "class(es) 'rare-one' with 1 training row: trained on in every fold, never tested"
    ]
    assert edgeml.bundle.read_manifest(tmp_path / "m")["metrics"]["cv_folds"] == 5
    assert out["metrics"]["holdout"]["accuracy"] > 0.8


def test_train_writes_an_evaluated_bundle(trained_bundle):
    manifest = edgeml.load(trained_bundle).manifest
    assert manifest["task"] == "binary"
    assert manifest["target"]["classes"] == ["No", "Yes"]
    assert set(manifest["metrics"]["holdout"]) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
    }
    assert set(manifest["metrics"]["cv"]["roc_auc"]) == {"mean", "std"}
    assert manifest["metrics"]["holdout"]["roc_auc"] > manifest["metrics"]["baseline"]["roc_auc"]
    roles = {c["name"]: c["role"] for c in manifest["input_schema"]}
    assert roles == {
        "customer_id": "id",
        "tenure": "feature",
        "monthly_charges": "feature",
        "total_charges": "feature",
        "contract": "feature",
        "paperless": "feature",
        "churn": "target",
    }
    card = manifest["data_card"]
    assert card["rows"] == 600 and len(card["sources"][0]["sha256"]) == 64
    assert set(manifest["monitoring"]["features"]) == set(manifest["features"]["model"])
    assert manifest["files"].keys() == {"model.txt", "reference_rows.json"}


def test_the_shipped_model_is_refitted_on_the_holdout_too(trained_bundle):
    # Holding 20% of a small file out of the shipped model left it below plain LightGBM fitted on
    # the same file; the holdout scores the same settings on the training rows first.
    manifest = edgeml.load(trained_bundle).manifest
    rows = manifest["metrics"]["rows"]
    assert rows["holdout"] > 0
    assert sum(manifest["target"]["class_counts"]) == rows["train"] + rows["holdout"] == 600
    assert rows["final"] == 600
    rounds = manifest["model"]["rounds"]
    assert rounds["rounds"] == manifest["model"]["num_iterations"]


def test_predict_gives_labels_probabilities_and_ids(trained_bundle, tmp_path):
    frame = churn_like(n=50, seed=9).drop("churn")
    out = edgeml.load(trained_bundle).predict(frame)
    assert out.columns == ["customer_id", "prediction", "proba_No", "proba_Yes"]
    assert out["customer_id"].to_list() == frame["customer_id"].to_list()
    np.testing.assert_allclose(out["proba_No"] + out["proba_Yes"], 1.0)
    threshold = edgeml.load(trained_bundle).manifest["decision"]["threshold"]
    expected = np.where(out["proba_Yes"].to_numpy() > threshold, "Yes", "No")
    assert out["prediction"].to_list() == expected.tolist()


def test_predict_matches_booster_on_the_same_rows(trained_bundle):
    model = edgeml.load(trained_bundle)
    frame = churn_like(n=80, seed=3)
    conformed = conform(frame, model.plan.input_schema, source="rows")
    matrix = to_matrix(apply_prep(model.plan, conformed))
    expected = model.booster.predict(matrix)
    np.testing.assert_array_equal(model.predict(frame)["proba_Yes"].to_numpy(), expected)


def test_unseen_categories_nan_and_inf_predict_without_error(trained_bundle):
    frame = churn_like(n=4, seed=1).with_columns(
        pl.Series("contract", ["lifetime", None, "month", "year"]),
        pl.Series("monthly_charges", [float("nan"), float("inf"), float("-inf"), None]),
    )
    out = edgeml.load(trained_bundle).predict(frame)
    assert out["proba_Yes"].is_finite().all()


def test_missing_columns_at_predict_are_all_named(trained_bundle):
    frame = churn_like(n=5).drop("tenure", "contract")
    with pytest.raises(SchemaError, match="tenure") as info:
        edgeml.load(trained_bundle).predict(frame)
    assert "contract" in str(info.value)


def test_evaluate_scores_labelled_data_beside_the_baseline(trained_bundle):
    report = edgeml.load(trained_bundle).evaluate(churn_like(n=300, seed=5))
    assert report["rows"] == 300
    assert report["metrics"]["roc_auc"] > 0.7
    assert report["baseline"]["roc_auc"] == 0.5
    assert report["baseline"]["accuracy"] == pytest.approx(
        (churn_like(n=300, seed=5)["churn"] == "No").mean()
    )


def test_same_seed_same_model_file(tmp_path, churn_csv):
    a = edgeml.train(churn_csv, target="churn", out=tmp_path / "a.edgeml", cv_folds=0, seed=4)
    b = edgeml.train(churn_csv, target="churn", out=tmp_path / "b.edgeml", cv_folds=0, seed=4)
    assert (a.bundle / "model.txt").read_bytes() == (b.bundle / "model.txt").read_bytes()


def test_duplicates_and_unlabelled_rows_are_recorded(tmp_path):
    frame = churn_like(n=300)
    frame = pl.concat([frame, frame.head(10)]).with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("churn")).alias("churn")
    )
    result = edgeml.train(frame, target="churn", out=tmp_path / "m.edgeml", cv_folds=0)
    filters = {f["kind"]: f["rows_removed"] for f in result.manifest["prep"]["row_filters"]}
    assert filters["unlabelled"] == 1
    assert filters["duplicates"] == 9  # row 5 lost its label, so its copy is no longer a twin


def _regression_frame(n: int = 300) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 2))
    return pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": 2 * x[:, 0] + x[:, 1]})


def test_nan_labels_are_unlabelled_rows_in_train_and_evaluate(tmp_path):
    # Parquet and NumPy write a missing number as NaN, not null: those rows have no label.
    frame = _regression_frame().with_columns(
        pl.when(pl.int_range(pl.len()) < 7).then(float("nan")).otherwise(pl.col("y")).alias("y")
    )
    data = tmp_path / "nan_labels.parquet"
    frame.write_parquet(data)
    result = edgeml.train(data, target="y", out=tmp_path / "m.edgeml", cv_folds=3)
    filters = {f["kind"]: f["rows_removed"] for f in result.manifest["prep"]["row_filters"]}
    assert filters["unlabelled"] == 7
    scored = edgeml.load(result.bundle).evaluate(data)
    assert (scored["rows"], scored["unlabelled_rows"]) == (293, 7)
    assert scored["metrics"]["r2"] > 0.5


def test_question_marks_and_na_marks_in_a_text_label_are_unlabelled_rows(tmp_path):
    # UCI files and Excel mark a missing label with "?" or "#N/A": not a third class. Parquet
    # keeps "N/A" as text (a CSV reads it as null).
    frame = churn_like(n=300, seed=3)
    marks = ["?", " ? ", "#N/A", "n/a", "NaN", "??"]
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < len(marks))
        .then(pl.Series(marks + [""] * (frame.height - len(marks))))
        .otherwise(pl.col("churn"))
        .alias("churn")
    )
    data = tmp_path / "marked.parquet"
    frame.write_parquet(data)
    result = edgeml.train(data, target="churn", out=tmp_path / "m.edgeml", cv_folds=3)
    assert result.manifest["target"]["classes"] == ["No", "Yes"]
    filters = {f["kind"]: f["rows_removed"] for f in result.manifest["prep"]["row_filters"]}
    assert filters["unlabelled"] == len(marks)
    scored = edgeml.load(result.bundle).evaluate(data)
    assert (scored["rows"], scored["unlabelled_rows"]) == (294, 6)


def test_evaluate_names_the_files_row_after_unlabelled_rows(tmp_path):
    frame = churn_like(n=100).with_columns(pl.col("tenure").cast(pl.String))
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(None).otherwise(pl.col("churn")).alias("churn"),
        pl.when(pl.int_range(pl.len()) == 60).then(pl.lit("sixty")).otherwise(pl.col("tenure"))
        .alias("tenure"),
    )  # fmt: skip
    data = tmp_path / "labelled.csv"
    frame.write_csv(data)
    model = edgeml.load(edgeml.train(churn_like(n=300), target="churn", cv_folds=0,
                                     out=tmp_path / "m.edgeml").bundle)  # fmt: skip
    with pytest.raises(SchemaError, match=r"column 'tenure' row 61: cannot convert 'sixty'"):
        model.evaluate(data)


def test_an_infinite_label_is_named_with_its_row(tmp_path):
    frame = _regression_frame().with_columns(
        pl.when(pl.int_range(pl.len()) == 41).then(float("-inf")).otherwise(pl.col("y")).alias("y")
    )
    with pytest.raises(TargetError, match=r"target 'y' row 42: -inf is not a label"):
        edgeml.train(frame, target="y", out=tmp_path / "m.edgeml", cv_folds=0)


def test_time_column_orders_the_holdout(tmp_path):
    frame = edgeml.datasets.sensor_fleet(n_machines=6, days=10)
    result = edgeml.train(
        frame,
        target="failure_within_24h",
        time_col="timestamp",
        entity_col="machine_id",
        cv_folds=3,
        out=tmp_path / "m.edgeml",
    )
    metrics = result.manifest["metrics"]
    assert metrics["split"] == "time-ordered"
    roles = result.manifest["roles"]
    assert roles == {"failure_within_24h": "target", "timestamp": "time", "machine_id": "entity"}
    # The entity is a native categorical feature; the time column gives calendar parts.
    assert "machine_id" in result.manifest["features"]["categorical"]
    assert "timestamp_hour" in result.manifest["features"]["model"]
    # Predictions say which machine and time they are for.
    assert result.manifest["id_cols"] == ["machine_id", "timestamp"]
    out = edgeml.load(result.bundle).predict(frame.head(20))
    assert out.columns[:3] == ["machine_id", "timestamp", "prediction"]


def test_regression_and_multiclass(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    frame = pl.DataFrame(
        {
            "a": x[:, 0],
            "b": x[:, 1],
            "c": x[:, 2],
            "value": 3 * x[:, 0] + x[:, 1] ** 2 + rng.normal(scale=0.1, size=400),
            "kind": np.array(["low", "mid", "high"])[np.digitize(x[:, 0], [-0.5, 0.5])],
        }
    )
    reg = edgeml.train(frame.drop("kind"), target="value", out=tmp_path / "r.edgeml", cv_folds=3)
    assert reg.manifest["metrics"]["holdout"]["r2"] > 0.8
    assert reg.manifest["metrics"]["baseline"]["r2"] <= 0.0
    multi = edgeml.train(frame.drop("value"), target="kind", out=tmp_path / "m.edgeml", cv_folds=3)
    assert multi.manifest["task"] == "multiclass"
    assert multi.manifest["metrics"]["holdout"]["accuracy"] > 0.9
    out = edgeml.load(multi.bundle).predict(frame.head(3))
    assert out.columns == ["prediction", "proba_high", "proba_low", "proba_mid"]


def test_all_null_column_is_dropped_with_reason(tmp_path):
    frame = churn_like(n=200).with_columns(pl.lit(None, dtype=pl.Float64).alias("empty"))
    result = edgeml.train(frame, target="churn", out=tmp_path / "m.edgeml", cv_folds=0)
    dropped = {c["name"]: c["reason"] for c in result.manifest["prep"]["columns"]}
    assert dropped["empty"] == "missing in 100.0% of training rows (limit 95%)"


def test_missing_target_column_is_named(churn_csv, tmp_path):
    with pytest.raises(SchemaError, match=r"column 'label' \(from --target\) not found"):
        edgeml.train(churn_csv, target="label", out=tmp_path / "m.edgeml")


def test_bundle_works_from_a_copy(trained_bundle, tmp_path):
    copy = shutil.copytree(trained_bundle, tmp_path / "elsewhere" / "copy.edgeml")
    assert edgeml.load(copy).predict(churn_like(n=3)).height == 3


def test_prediction_batches_keep_training_types(tmp_path):
    # "contract" holds three values in training; a batch with only two of them that look like
    # booleans, and a code column with leading zeros, must still be read as text.
    frame = churn_like(n=300).with_columns(
        pl.col("contract").replace({"month": "Yes", "year": "No"}),
        (pl.lit("0") + (pl.int_range(pl.len()) % 5).cast(pl.String)).alias("plan_code"),
    )
    data = tmp_path / "train.csv"
    frame.write_csv(data)
    config = edgeml.Config.from_dict({"data": {"dtypes": {"plan_code": "category"}}})
    bundle = edgeml.train(data, target="churn", out=tmp_path / "m.edgeml", config=config).bundle
    batch = tmp_path / "batch.csv"
    frame.filter(pl.col("contract") != "two_year").head(20).write_csv(batch)
    model = edgeml.load(bundle)
    expected = model.predict(frame.filter(pl.col("contract") != "two_year").head(20))
    assert model.predict(batch).equals(expected)
    assert model.plan.input_schema["plan_code"] == "str"


def test_reference_rows_are_raw_training_inputs(trained_bundle):
    payload = json.loads((trained_bundle / "reference_rows.json").read_text())
    model = edgeml.load(trained_bundle)
    assert payload["columns"] == list(model.plan.input_schema)
    assert len(payload["rows"]) == 480  # every training row: fewer than the 1000 kept
    contracts = {row[payload["columns"].index("contract")] for row in payload["rows"]}
    assert contracts == {"month", "year", "two_year"}


def test_learning_curves_of_the_final_model_are_stored(trained_bundle):
    curves = edgeml.load(trained_bundle).manifest["learning_curves"]
    train_curve = curves["training"]["binary_logloss"]
    valid_curve = curves["valid"]["binary_logloss"]
    assert len(train_curve) == len(valid_curve) > 1
    assert train_curve[-1] < train_curve[0]  # boosting fits the training rows ever closer


def tiny_frame(n: int, task: str, *, one_member: bool = False) -> pl.DataFrame:
    """``n`` rows with a date, three groups and two features; labels alternate between classes,
    or (``one_member``) the last class has a single row."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    labels = {"binary": ["No", "Yes"], "multiclass": ["a", "b", "c"]}.get(task)
    if labels is None:
        y: list = (x * 2 + rng.normal(size=n)).round(3).tolist()
    elif one_member:
        y = [labels[i % (len(labels) - 1)] for i in range(n - 1)] + [labels[-1]]
    else:
        y = [labels[i % len(labels)] for i in range(n)]
    return pl.DataFrame(
        {
            "day": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
            "shop": [f"g{i % 3}" for i in range(n)],
            "x": x,
            "z": rng.integers(0, 5, n),
            "y": y,
        }
    )


@pytest.mark.parametrize("split", ["", "time", "group"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_tiny_data_trains_and_says_what_it_gave_up(tmp_path, task, split):
    from click.testing import CliRunner

    from edgeml.cli import cli

    cases = [(n, False) for n in (1, 2, 3, 5, 10, 20)]
    if task != "regression":
        cases += [(n, True) for n in (3, 5, 10, 20)]
    for n, one_member in cases:
        data = tmp_path / f"{n}-{one_member}.csv"
        tiny_frame(n, task, one_member=one_member).write_csv(data)
        bundle = tmp_path / f"{n}-{one_member}.edgeml"
        args = ["train", str(data), "--target", "y", "--task", task, "--out", str(bundle)]
        args += {"": [], "time": ["--time-col", "day"], "group": ["--group-col", "shop"]}[split]
        result = CliRunner().invoke(cli, [*args, "--json"])
        where = (n, one_member, result.output[-300:])
        if n == 1:  # one row: nothing to learn; one line saying why
            assert result.exit_code == 2, where
            assert len(result.output.strip().splitlines()) == 1, where
            assert "single class" in result.output or "constant" in result.output, where
            continue
        assert result.exit_code == 0, where
        out = json.loads(result.stdout)
        rows, notes = out["rows"], out["notes"]
        assert rows["train"] + rows["holdout"] == n, where
        assert (rows["holdout"] == 0) == any(note.startswith("no holdout") for note in notes)
        manifest = edgeml.bundle.read_manifest(bundle)
        folds = manifest["metrics"]["cv_folds"]
        assert manifest["config"]["train"]["cv_folds"] == folds
        assert (folds == 5) == (not any("cross-validation" in note for note in notes)), where
        assert manifest["metrics"]["notes"] == notes
        if folds:
            assert set(out["metrics"]["cv"]), where
        evaluated = CliRunner().invoke(cli, ["evaluate", str(bundle), str(data), "--json"])
        assert evaluated.exit_code == 0, (where, evaluated.output[-300:])


def test_tiny_data_notes_are_printed(tmp_path):
    from click.testing import CliRunner

    from edgeml.cli import cli

    data = tmp_path / "five.csv"
    tiny_frame(5, "binary").write_csv(data)
    result = CliRunner().invoke(
        cli, ["train", str(data), "--target", "y", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert "note: no holdout: a 20% holdout of 5 rows is 1; it needs 2" in result.output
    assert "note: 2-fold cross-validation instead of 5: 5 training rows; 5-fold CV needs 10" in (
        result.output
    )


def test_binary_folds_stop_on_the_log_loss_not_a_saturated_auc():
    # One noisy threshold: the AUC peaks after a round or two, while the probabilities still
    # sit near the prior. Stopping on it left folds of 1-10 rounds predicting the majority
    # class everywhere (accuracy 0.54 where the others reached 0.86), and the final model's
    # rounds are sized from the folds'; the log loss keeps boosting until they are right.
    rng = np.random.default_rng(0)
    spend = np.round(rng.lognormal(3, 1, 5000), 2)
    churned = (spend > 30) ^ (rng.random(5000) < 0.1)
    frame = pl.DataFrame({"spend": spend, "churned": np.where(churned, "churn", "stay")})
    config = edgeml.Config.from_dict({"train": {"target": "churned"}})
    rounds: list[tuple[int, int]] = []
    folds = edgeml.learn.prepare(frame, config).cross_validate(rounds=rounds)
    assert min(r["accuracy"] for r in folds) > 0.8, folds
    assert min(best for best, _ in rounds) > 20, rounds
