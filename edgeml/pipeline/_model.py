"""A loaded bundle: verified on load, predicts and scores through the bundle's own prep plan."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from edgeml.bundle import Bundle, open_bundle
from edgeml.config import DataConfig
from edgeml.data import BUNDLE_ID_COLS, column_not_found, conform, read_data
from edgeml.errors import BundleError, SchemaError
from edgeml.learn import TargetEncoding, has_label
from edgeml.prep import PrepPlan, apply_prep, to_matrix
from edgeml.runtime import Post, explanation
from edgeml.spec.feature_plan import FeaturePlan, TargetHistoryStep
from edgeml.spec.metrics import Decision

if TYPE_CHECKING:
    import lightgbm as lgb

# LightGBM, the Numba kernels and the metrics are imported where they are used: a batch run on
# a compiled backend opens the model for its plans and never needs them (their import alone
# raised its resident set from 75 MB to 370 MB).

__all__ = ["Model", "load"]


def load(path: str | Path, *, public_key: Any = None) -> Model:
    """Open a bundle, verifying its schema version, manifest digest and every file's checksum;
    with ``public_key`` (a PEM file or its bytes), also its signature by that key.

    >>> model = load("churn.edgeml")                        # doctest: +SKIP
    >>> model.predict("new_customers.csv").columns         # doctest: +SKIP
    ['prediction', 'proba_No', 'proba_Yes']
    """
    bundle = open_bundle(path, public_key=public_key)
    return Model(path=bundle.path, manifest=bundle.manifest, bundle=bundle)


class Model:
    """A trained pipeline read from a bundle. Build it with :func:`edgeml.load`."""

    def __init__(
        self, *, path: Path, manifest: dict[str, Any], bundle: Bundle | None = None
    ) -> None:
        self.path = path
        self.manifest = manifest
        # Files are read through the bundle opened with this manifest (checked against it):
        # never another version's model.txt found later at the same path.
        self.bundle = bundle if bundle is not None else open_bundle(path, verify=False)
        self.spec = self.bundle.spec
        self.plan: PrepPlan = self.spec.prep
        self.feature_plan: FeaturePlan = self.spec.features.feature_plan
        self.target = TargetEncoding(
            name=self.spec.target.name, task=self.spec.task, classes=self.spec.classes
        )
        self.post = Post.from_manifest(self.spec, source=str(path))

    @property
    def task(self) -> str:
        return self.target.task

    @cached_property
    def booster(self) -> lgb.Booster:
        import lightgbm as lgb

        text = self.bundle.read(self.spec.model_file).decode("utf-8", "replace")
        try:
            return lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise BundleError(f"{self.path}: model file is not a LightGBM model ({exc})") from None

    def predict(
        self, data: str | Path | pl.DataFrame, *, table: str | None = None, query: str | None = None
    ) -> pl.DataFrame:
        """Predictions for every row: id columns, ``prediction``, and ``proba_<class>`` columns."""
        frame, source = self._read(data, table, query)
        output = self._output(frame, source)
        columns = [frame[c] for c in self._id_columns(frame, source)]
        if self.target.classes is None:
            return pl.DataFrame([*columns, pl.Series("prediction", output)])
        output, codes = self.post.decide(output)
        labels = pl.Series("prediction", self.target.classes).gather(codes)
        probas = [
            pl.Series(f"proba_{label}", output[:, k]) for k, label in enumerate(self.target.classes)
        ]
        return pl.DataFrame([*columns, labels, *probas])

    def evaluate(
        self, data: str | Path | pl.DataFrame, *, table: str | None = None, query: str | None = None
    ) -> dict[str, Any]:
        """Metrics on labelled rows, beside the trivial baseline learned in training.

        Rows whose label is missing are left out and counted.
        """
        frame, source = self._read(data, table, query, labelled=True)
        name = self.target.name
        if name not in frame.columns:
            raise SchemaError(f"{source}: target column {name!r} not found; evaluate needs labels")
        labelled = has_label(frame[name], source=source)
        unlabelled = frame.height - int(labelled.sum())
        # Every row is predicted, then the labelled ones scored: an unlabelled row is still an
        # entity's history for time-series features, and an error names the row of the file.
        output = self._output(frame, source)[labelled.to_numpy()]
        frame = frame.filter(labelled)
        y = self.target.encode(frame[name], source=source)
        from edgeml.learn import baseline_of, metrics_of

        return {
            "bundle": str(self.path),
            "task": self.task,
            "rows": frame.height,
            "unlabelled_rows": unlabelled,
            "metrics": metrics_of(output, y, self.target, self.post),
            "baseline": baseline_of(self._training_target(), y, self.target),
            **self.decision_summary(),
        }

    def decision_summary(self) -> dict[str, Any]:
        """How a binary model decides: ``decision`` (threshold, rule, reason) and
        ``calibration`` (method), as every command states them; empty for other tasks."""
        if self.task != "binary":
            return {}
        decision = self.spec.decision or Decision(
            reason="a bundle from before decision thresholds: 0.5"
        )
        return {
            "decision": {
                "threshold": decision.threshold,
                "rule": decision.rule,
                "reason": decision.reason,
            },
            "calibration": {"method": self.post.method},
        }

    def _read(
        self,
        data: str | Path | pl.DataFrame,
        table: str | None,
        query: str | None,
        *,
        labelled: bool = False,
    ) -> tuple[pl.DataFrame, str]:
        """The rows of ``data``; ``labelled``: every file of a glob must hold the target."""
        if isinstance(data, pl.DataFrame):
            return data, "<in-memory DataFrame>"
        stored = self.spec.config.get("data") or {}
        config = DataConfig(
            null_values=stored.get("null_values", DataConfig().null_values),
            infer_schema_length=stored.get("infer_schema_length", DataConfig().infer_schema_length),
        )
        # Text columns stay text, as written: a batch holding only "Yes"/"No" of a categorical
        # column, or "007" of a code, must not be re-inferred as a boolean or a number (as the
        # number 7, "007" was an unseen category: evaluate scored other predictions than predict).
        text = [name for name, dtype in self.input_schema.items() if dtype == "str"]
        dataset = read_data(
            data, config=config, table=table, query=query, keep_raw=[self.target.name],
            as_text=[*self.input_formats, *text], required=[self.target.name] if labelled else (),
        )  # fmt: skip
        return dataset.frame, str(data)

    @cached_property
    def input_formats(self) -> dict[str, str]:
        """The date format of each column of :attr:`input_schema` written as non-ISO text."""
        return {c: f for c, f in self.plan.formats.items() if c in self.input_schema}

    @cached_property
    def input_schema(self) -> dict[str, str]:
        """Columns a prediction needs, with their logical dtypes (computed features excluded).

        Time-series features add the time and entity columns; target-history features need the
        target column too, with past values filled in and the rows to predict left empty.
        """
        generated = set(self.feature_plan.selected)
        schema = {c: t for c, t in self.plan.input_schema.items() if c not in generated}
        dtypes = {c.name: c.dtype for c in self.plan.columns}
        plan = self.feature_plan
        if plan.selected and plan.needs_time:
            for column in (plan.time_col, plan.entity_col):
                if column:
                    schema[column] = dtypes[column]
        # A feature's source column is read even when prep dropped the raw column itself.
        for column in plan.sources if plan.selected else []:
            schema.setdefault(column, dtypes[column])
        return schema

    def explain(
        self, data: str | Path | pl.DataFrame, *, table: str | None = None, query: str | None = None
    ) -> pl.DataFrame:
        """Each prediction's exact TreeSHAP contributions (LightGBM's ``pred_contrib``): id
        columns, ``contrib_<feature>`` per model feature and ``contrib_bias``; they sum to the
        row's raw score (log-odds for binary, the value for regression).

        Multiclass models explain the predicted class (its raw score), named in column
        ``explained_class``: one set of columns whatever the number of classes.

        >>> edgeml.load("churn.edgeml").explain("new.csv").columns[:3]    # doctest: +SKIP
        ['customer_id', 'contrib_tenure', 'contrib_monthly_charges']
        """
        frame, source = self._read(data, table, query)
        matrix = self._matrix(frame, source)
        ids = {c: frame[c] for c in self._id_columns(frame, source)}
        classes = self.target.classes
        return pl.DataFrame(
            {**ids, **explanation(self.booster, matrix, self.plan.features, classes)}
        )

    def _id_columns(self, frame: pl.DataFrame, source: str) -> list[str]:
        ids = self.spec.id_cols
        for column in ids:
            if column not in frame.columns:
                raise SchemaError(
                    column_not_found(column, BUNDLE_ID_COLS, frame.columns, source=source)
                )
        return list(ids)

    def _output(self, frame: pl.DataFrame, source: str) -> np.ndarray:
        from edgeml.learn import predict_proba

        matrix = self._matrix(frame, source)
        return predict_proba(self.booster, matrix, self.target.task)

    def _matrix(self, frame: pl.DataFrame, source: str) -> np.ndarray:
        """The model's feature matrix for raw rows (features, then the prep plan)."""
        conformed = conform(frame, self.input_schema, source=source, formats=self.input_formats)
        if self.feature_plan.selected:
            history = None
            if any(isinstance(s, TargetHistoryStep) for s in self.feature_plan.steps):
                history = self._history(frame, source)
            from edgeml.features import apply_features

            conformed = apply_features(self.feature_plan, conformed, target=history, source=source)
        return to_matrix(apply_prep(self.plan, conformed))

    def _history(self, frame: pl.DataFrame, source: str) -> np.ndarray | None:
        """The target's past values as encoded floats; NaN where a row's label is unknown."""
        name = self.target.name
        if name not in frame.columns:
            return None
        labelled = has_label(frame[name], source=source)
        present = labelled.to_numpy()
        values = np.full(frame.height, np.nan)
        if present.any():
            values[present] = self.target.encode(frame[name].filter(labelled), source=source)
        return values

    def _training_target(self) -> np.ndarray:
        """Stand-in training labels with the same counts or mean: all a baseline needs."""
        stats = self.spec.target
        key = "mean" if self.target.classes is None else "class_counts"
        if getattr(stats, key) is None:
            raise BundleError(f"{self.path}: manifest target has no {key!r}; a baseline needs it")
        if stats.mean is not None and self.target.classes is None:
            return np.array([stats.mean], dtype=np.float64)
        counts = np.asarray(stats.class_counts, dtype=np.int64)
        return np.repeat(np.arange(len(counts)), counts)
