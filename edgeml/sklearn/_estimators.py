"""edgeml as scikit-learn estimators: ``fit`` trains a bundle, ``predict`` reads it.

The constructor only stores its keyword arguments (scikit-learn's rule, so ``clone`` and
``set_params`` work); ``fit`` turns ``X`` (a NumPy array, a Polars or pandas DataFrame) and ``y``
into one Polars frame and calls :func:`edgeml.train` on it, writing the bundle to ``bundle`` or a
temporary directory. Everything learned ends in ``_``: ``bundle_``, ``model_`` (the loaded
:class:`edgeml.Model`), ``n_features_in_``, ``feature_names_in_`` for DataFrames, ``classes_``.

Arrays are checked as scikit-learn checks them (``ValueError`` for empty, ragged or wrongly
shaped input, as its estimators do); a DataFrame keeps its column types (strings become
categories) and goes through edgeml's own checks. A pickled estimator carries its bundle's
files, so it predicts in another process with nothing else on disk.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from edgeml.config import Config
from edgeml.pipeline import load, train

__all__ = ["Classifier", "Regressor"]


class _Estimator(BaseEstimator):
    """What the classifier and the regressor share (see the module docstring)."""

    _task_kind = ""  # "classification" or "regression"

    def __init__(
        self,
        *,
        num_boost_round: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        seed: int = 0,
        threads: int = 1,
        params: dict[str, Any] | None = None,
        config: Config | None = None,
        bundle: str | Path | None = None,
    ) -> None:
        self.num_boost_round = num_boost_round
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.seed = seed
        self.threads = threads
        self.params = params
        self.config = config
        self.bundle = bundle

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # LightGBM learns where missing values go
        return tags

    # -- fitting -------------------------------------------------------------------------------

    def _checked(self, X: Any, y: Any, *, numeric: bool) -> tuple[Any, np.ndarray]:
        """``X`` and ``y`` checked as scikit-learn checks them; a DataFrame ``X`` stays as it is."""
        if _is_frame(X):
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
            y = check_array(y, ensure_2d=False, dtype="numeric" if numeric else None,
                            ensure_min_samples=2)  # fmt: skip
            return X, y
        return validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=numeric,
            ensure_min_samples=2,
        )  # fmt: skip

    def _fit(self, X: Any, y: np.ndarray, task: str) -> None:
        frame = self._frame(X, reset=True)
        target = _free_name(frame.columns)
        frame = frame.with_columns(pl.Series(target, y))
        if self.bundle is not None:
            out = Path(self.bundle)
        else:
            out = Path(_temporary_dir(self)) / "model.edgeml"
        # All rows train the one model: no holdout, no CV, no early stopping, no generated
        # features, as a scikit-learn estimator's fit is expected to do (wrap it for CV).
        config = (self.config or Config()).with_overrides(
            "train",
            task=task,
            holdout=0.0,
            cv_folds=0,
            early_stopping_rounds=0,
            num_boost_round=self.num_boost_round,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            seed=self.seed,
            params={"num_threads": self.threads, **(self.params or {})},
        )
        if self.config is None:
            config = config.with_overrides("features", mode="none")
        result = train(frame, target=target, out=out, config=config)
        self.bundle_ = result.bundle
        self.model_ = load(result.bundle)

    def _frame(self, X: Any, *, reset: bool) -> pl.DataFrame:
        """``X`` as a Polars frame with the column names seen in ``fit``."""
        if _is_frame(X):
            frame = X if isinstance(X, pl.DataFrame) else pl.from_pandas(X)
            names = np.asarray([str(c) for c in frame.columns], dtype=object)
            if reset:
                self.n_features_in_ = frame.width
                self.feature_names_in_ = names
            else:
                check_is_fitted(self)
                expected = getattr(self, "feature_names_in_", None)
                if expected is None or list(expected) != list(names):
                    raise ValueError(
                        f"X has columns {list(names)}; the model was fitted on "
                        f"{None if expected is None else list(expected)}"
                    )
            return frame.rename({c: str(c) for c in frame.columns})
        # fit's arrays were validated (and n_features_in_ set) by _checked already.
        matrix = X if reset else validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
        )  # fmt: skip
        return pl.DataFrame(matrix, schema=[f"x{i}" for i in range(matrix.shape[1])], orient="row")

    def _output(self, X: Any) -> pl.DataFrame:
        check_is_fitted(self, "model_")
        return self.model_.predict(self._frame(X, reset=False))

    # -- pickling: the bundle travels with the estimator --------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        model = state.pop("model_", None)
        if model is not None:
            # Every file as it is on disk (manifest included), so the copy verifies as the original.
            root = Path(model.path)
            state["_bundle_files"] = {
                f.relative_to(root).as_posix(): f.read_bytes()
                for f in sorted(root.rglob("*"))
                if f.is_file()
            }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        files = state.pop("_bundle_files", None)
        self.__dict__.update(state)
        if files is not None:
            out = Path(_temporary_dir(self)) / "model.edgeml"
            for name, content in files.items():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                (out / name).write_bytes(content)
            self.bundle_ = out
            self.model_ = load(out)


class Classifier(ClassifierMixin, _Estimator):
    """A binary or multiclass edgeml model, as a scikit-learn classifier.

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = Classifier(num_boost_round=20).fit(X, y)
    >>> clf.classes_.tolist(), clf.predict(X[:3]).tolist(), clf.predict_proba(X[:1]).shape
    ([0, 1, 2], [0, 0, 0], (1, 3))
    """

    def fit(self, X: Any, y: Any) -> Classifier:
        """Train on ``X`` and labels ``y`` (any labels; ``classes_`` keeps them, sorted)."""
        X, y = self._checked(X, y, numeric=False)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"y holds one class ({classes.tolist()}); a classifier needs at least 2 classes"
            )
        self.classes_ = classes
        # The labels themselves go into the bundle, so it predicts them on its own (runtime, C).
        self._fit(X, y, "binary" if len(classes) == 2 else "multiclass")
        learned = self.model_.target.classes or []
        self._columns = {i: f"proba_{label}" for i, label in _match(classes, learned)}
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class in ``classes_`` order, one row per row of ``X``."""
        check_is_fitted(self)
        output = self._output(X)
        proba = np.zeros((output.height, len(self.classes_)))
        for i, column in self._columns.items():
            proba[:, i] = output[column].to_numpy()
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row (one of ``classes_``)."""
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class Regressor(RegressorMixin, _Estimator):
    """An edgeml regression model, as a scikit-learn regressor.

    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = Regressor(num_boost_round=50).fit(X, y)
    >>> round(reg.score(X, y), 1) > 0.5
    True
    """

    def fit(self, X: Any, y: Any) -> Regressor:
        """Train on ``X`` and numeric targets ``y``."""
        X, y = self._checked(X, y, numeric=True)
        self._fit(X, y, "regression")
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The predicted value of each row of ``X``."""
        return self._output(X)["prediction"].to_numpy().astype(np.float64)


def _match(classes: np.ndarray, learned: list[Any]) -> list[tuple[int, Any]]:
    """``(index in classes_, edgeml's label)`` pairs; edgeml keeps labels as JSON values."""
    index = {str(c): i for i, c in enumerate(classes.tolist())}
    pairs = [(index.get(str(label), -1), label) for label in learned]
    if len(pairs) != len(classes) or any(i < 0 for i, _ in pairs):
        raise ValueError(f"the bundle's classes {learned} differ from y's {classes.tolist()}")
    return pairs


def _free_name(columns: list[str]) -> str:
    """A column name for the target that no feature uses."""
    name = "target"
    while name in columns:
        name = f"_{name}"
    return name


def _is_pandas(X: Any) -> bool:
    return type(X).__module__.startswith("pandas") and hasattr(X, "columns")


def _is_frame(X: Any) -> bool:
    """Whether ``X`` is a table whose column names and types edgeml keeps."""
    return isinstance(X, pl.DataFrame) or _is_pandas(X)


def _temporary_dir(owner: object) -> str:
    """A directory removed when ``owner`` is garbage-collected (or the interpreter exits)."""
    path = tempfile.mkdtemp(prefix="edgeml-sklearn-")
    weakref.finalize(owner, shutil.rmtree, path, ignore_errors=True)
    return path
