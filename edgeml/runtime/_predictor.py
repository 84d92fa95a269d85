"""The runtime predictor: a bundle's prep plan (NumPy) and its fastest exported backend.

``load`` (``backend="auto"``) measures the exported compiled backends that run on this machine -
``native`` (edgeml's tree engine, through ctypes), ``treelite`` (the TL2cgen library), ``onnx`` -
on the bundle's reference rows and keeps the fastest (``Predictor.choice``; cached per machine,
see :mod:`._choice`); ``lightgbm`` (LightGBM itself: imports lightgbm, the only heavy import
here) only when none runs. ``Predictor.skipped`` says why a backend was left out. Asking for
one by name (``backend="treelite"``) raises instead of skipping.

Outputs follow ``edgeml predict``: ``prediction`` (the class label, or the value for
regression) and, for classification, ``proba_<class>`` per class.

>>> import edgeml.runtime
>>> model = edgeml.runtime.load("churn.edgeml")                              # doctest: +SKIP
>>> model.backend_name                                                       # doctest: +SKIP
'native'
>>> model.predict_row({"tenure": 12, "monthly_charges": 70.5, "contract": "month"})
... # doctest: +SKIP
{'prediction': 'No', 'proba_No': 0.81, 'proba_Yes': 0.19}
>>> model.predict({"tenure": [12, 40], "monthly_charges": [70.5, 20.0],
...                "contract": ["month", "year"]})                           # doctest: +SKIP
{'prediction': array(['No', 'No'], dtype='<U3'), 'proba_No': array([0.81, 0.97]), ...}
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgeml import __version__
from edgeml.bundle import Bundle, open_bundle
from edgeml.errors import ConfigError, EdgeMLError, ExportError, SchemaError
from edgeml.runtime._backend import BACKENDS, Backend
from edgeml.runtime._choice import (
    Choice,
    cached_choice,
    choice_key,
    measure,
    pick,
    reference_columns,
    store_choice,
)
from edgeml.runtime._explain import explanation
from edgeml.runtime._post import Post
from edgeml.runtime._prep import RuntimePrep
from edgeml.spec.manifest import Manifest

__all__ = ["Predictor", "load"]


def load(
    bundle: str | Path | Bundle,
    *,
    backend: str = "auto",
    threads: int = 1,
    verify: bool = True,
    public_key: Any = None,
    prefer: str = "row",
) -> Predictor:
    """Open a bundle for prediction with ``backend`` (``auto`` or one of native, treelite,
    onnx, lightgbm); ``threads`` is used for batches; ``verify`` checks every file's sha256 (the
    model files the backend reads are checked either way); ``public_key`` (a PEM file, or its
    bytes) refuses a bundle not signed by that key.

    ``auto`` measures every exported backend that loads here on the bundle's reference rows and
    keeps the fastest for ``prefer`` ("row": single-row latency, "batch": throughput), cached per
    machine (see :mod:`edgeml.runtime._choice`); :attr:`Predictor.choice` says what it measured.

    A bundle that cannot be trusted (a path outside it, a file not listed or changed, a link)
    raises BundleError: ``auto`` falls back to the next backend only when an export cannot run
    here (ExportError), never past a bundle that was tampered with.
    """
    if isinstance(bundle, Bundle):  # opened (and verified as asked) by the caller
        opened = bundle
        if public_key is not None:
            opened = open_bundle(bundle.root, verify=False, public_key=public_key)
    else:
        opened = open_bundle(bundle, verify=verify, public_key=public_key)
    path, manifest = opened.path, opened.manifest
    prep = RuntimePrep.from_manifest(opened.spec, source=str(path))
    if backend != "auto" and backend not in BACKENDS:
        raise ConfigError(
            f"backend {backend!r} is not known; expected auto or one of: {', '.join(BACKENDS)}"
        )
    if prefer not in ("row", "batch"):
        raise ConfigError(f"prefer {prefer!r} is not known; expected row or batch")
    if backend == "auto":
        return _fastest(opened, prep, threads, prefer)
    exported = set(opened.spec.backends) | {"lightgbm"}  # model.txt is always there
    skipped: dict[str, str] = {}
    for name in (backend,):
        if name not in exported:
            skipped[name] = "not exported"
            if backend != "auto":
                raise ExportError(
                    f"{path}: has no {name} export; edgeml export {path} --format {name}"
                )
            continue
        try:
            loaded = _load_backend(name, opened, threads)
        except ExportError as exc:
            if backend != "auto":
                raise
            skipped[name] = str(exc)
            continue
        return Predictor(
            path=path, manifest=manifest, prep=prep, backend=loaded, skipped=skipped, bundle=opened
        )
    raise ExportError(f"{path}: no backend can run here: {skipped}")  # pragma: no cover


def _fastest(opened: Bundle, prep: RuntimePrep, threads: int, prefer: str) -> Predictor:
    """``auto``: the exported backend measured fastest here (see :mod:`._choice`)."""
    path, manifest = opened.path, opened.manifest

    def predictor(backend: Backend, skipped: dict[str, str], choice: Choice | None) -> Predictor:
        return Predictor(
            path=path, manifest=manifest, prep=prep, backend=backend, skipped=skipped,
            bundle=opened, choice=choice,
        )  # fmt: skip

    exported = [n for n in BACKENDS if n in opened.spec.backends and n != "lightgbm"]
    skipped = {n: "not exported" for n in BACKENDS if n not in exported and n != "lightgbm"}
    columns = reference_columns(opened)
    digest = opened.spec.digest
    key = choice_key(str(digest), threads, __version__) if digest and columns else None
    cached = cached_choice(key, prefer, set(exported), BACKENDS) if key else None
    if cached is not None:
        try:
            return predictor(_load_backend(cached.chosen, opened, threads), skipped, cached)
        except ExportError:
            pass  # the export no longer loads here: measure again
    loaded: dict[str, Backend] = {}
    for name in exported:
        try:
            loaded[name] = _load_backend(name, opened, threads)
        except ExportError as exc:
            skipped[name] = str(exc)
    if not loaded:  # LightGBM itself, the reference every bundle carries
        try:
            return predictor(_load_backend("lightgbm", opened, threads), skipped, None)
        except ExportError as exc:
            skipped["lightgbm"] = str(exc)
            raise ExportError(f"{path}: no backend can run here: {skipped}") from None
    candidates = {name: predictor(b, skipped, None) for name, b in loaded.items()}
    if len(candidates) == 1 or columns is None:
        return next(candidates[n] for n in BACKENDS if n in candidates)
    measurements = {}
    for name, candidate in candidates.items():
        try:
            measurements[name] = measure(candidate.predict_row, candidate.output, columns)
        except EdgeMLError as exc:  # it loads but cannot predict these rows: not a candidate
            skipped[name] = str(exc)
    if not measurements:
        raise ExportError(f"{path}: no backend can predict its reference rows: {skipped}")
    choice = Choice(chosen=pick(measurements, BACKENDS, prefer), prefer=prefer,
                    measurements=measurements)  # fmt: skip
    if key is not None:
        store_choice(key, choice)
    chosen = candidates[choice.chosen]
    chosen.choice = choice
    return chosen


def _load_backend(name: str, bundle: Bundle, threads: int) -> Backend:
    try:
        module = importlib.import_module(f"edgeml.runtime._{name}_backend")
    except ImportError as exc:  # the module, or a package it needs (onnxruntime)
        raise ExportError(f"the {name} backend is not available: {exc}") from None
    loader = getattr(module, "load_backend", None)
    if loader is None:
        raise ExportError(f"edgeml.runtime._{name}_backend has no load_backend(bundle)")
    backend: Backend = loader(bundle, threads=threads)
    return backend


class Predictor:
    """Predictions from raw input rows, as ``edgeml predict`` makes them. Build with :func:`load`.

    ``predict_row`` and ``predict`` are safe to call from several threads at once.
    """

    def __init__(
        self,
        *,
        path: Path,
        manifest: dict[str, Any],
        prep: RuntimePrep,
        backend: Backend,
        skipped: dict[str, str] | None = None,
        bundle: Bundle | None = None,
        choice: Choice | None = None,
    ) -> None:
        self.path = path
        self.choice = choice  # what ``auto`` measured, when it chose
        self.bundle = bundle
        self.manifest = manifest
        self.prep = prep
        self.backend = backend
        self.skipped = dict(skipped or {})
        self.spec = (
            bundle.spec if bundle is not None else Manifest.from_dict(manifest, where=str(path))
        )
        self.task: str = self.spec.task
        classes = self.spec.target.classes
        self.classes: list[Any] | None = list(classes) if classes is not None else None
        self.columns = [f"proba_{c}" for c in self.classes or []]
        self.post = Post.from_manifest(self.spec, source=str(path))
        self._explainer: Backend | None = None  # LightGBM, loaded by the first explain()
        # A whole-pipeline ONNX graph may calibrate inside the graph already.
        self._calibrate = self.post.method != "none" and not getattr(backend, "calibrated", False)
        # Optional single-row fast paths (see ``_backend``): prepared features, or a raw row.
        self._one = None if backend.takes_raw_input else getattr(backend, "predict_one", None)
        self._raw_one = getattr(backend, "predict_row", None) if backend.takes_raw_input else None
        # The native engine takes the raw row: prep, trees and transform in one foreign call.
        row_predictor = getattr(backend, "row_predictor", None)
        self._row = row_predictor(prep) if row_predictor is not None else None
        # ... and, with the native export's CPython extension, this class's answer built there
        spec = self._answer_spec()
        self._answer = None if self._row is None or spec is None else self._row.answering(spec)

    def _answer_spec(self) -> tuple[Any, ...] | None:
        """predict_row's rules below, as NativeRow.answering takes them (None: calibration,
        which stays in Python)."""
        if self.classes is None:
            return ("value",)
        if self.task == "binary":
            if self._calibrate:
                return None
            threshold = float(self.post.threshold)
            return ("binary", threshold, tuple(self.classes), tuple(self.columns))
        return ("classes", tuple(self.classes), tuple(self.columns))

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def input_schema(self) -> dict[str, str]:
        """The columns a row needs and their types (extra keys are ignored)."""
        return self.prep.input_schema

    def __repr__(self) -> str:
        return f"Predictor({self.path}, task={self.task}, backend={self.backend.name})"

    # -- one row -----------------------------------------------------------------------------

    def predict_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """``{"prediction": label or value, "proba_<class>": p, ...}`` for one input row."""
        # The hot path of a service: plain Python floats and lists, no NumPy per call.
        if self._answer is not None:
            answered = self._answer(row)
            if answered is not None:
                return answered
        if self._row is not None:
            raw = self._row(row)
        elif self._one is not None:
            raw = self._one(self.prep.transform_row(row))
        else:
            raw = self.output_row(row).tolist()
        classes = self.classes
        if classes is None:
            return {"prediction": float(raw[0])}
        if self.task == "binary":
            positive = float(raw[0])
            if self._calibrate:
                positive = self.post.calibrate_one(positive)
            no, yes = self.columns
            # p > threshold; at 0.5 that is the argmax of [1 - p, p], first index on a tie
            label = classes[1] if positive > self.post.threshold else classes[0]
            return {"prediction": label, no: 1.0 - positive, yes: positive}
        probabilities = [float(p) for p in raw]
        result = {"prediction": classes[probabilities.index(max(probabilities))]}
        result.update(zip(self.columns, probabilities, strict=True))
        return result

    def output_row(self, row: Mapping[str, Any]) -> np.ndarray:
        """The backend's raw output for one row: ``(1,)``, or ``(K,)`` for multiclass."""
        if self._row is not None:
            return np.array(self._row(row), dtype=np.float64)
        if self._one is not None:
            return np.array(self._one(self.prep.transform_row(row)), dtype=np.float64)
        if self._raw_one is not None:
            return np.asarray(self._raw_one(row), dtype=np.float64).reshape(-1)
        if self.backend.takes_raw_input:
            missing = [c for c in self.prep.input_schema if c not in row]
            if missing:
                raise SchemaError(
                    f"the row lacks column(s) {', '.join(map(repr, missing))}; "
                    f"the model needs: {', '.join(self.prep.input_schema)}"
                )
            columns = {c: [row[c]] for c in self.prep.input_schema}
            return np.asarray(self.backend.predict(columns), dtype=np.float64).reshape(-1)
        matrix = self.prep.transform_row(row)[None, :]
        return np.asarray(self.backend.predict(matrix), dtype=np.float64).reshape(-1)

    # -- a batch -----------------------------------------------------------------------------

    def predict(self, columns: Mapping[str, Any] | np.ndarray) -> dict[str, np.ndarray]:
        """``{"prediction": labels or values, "proba_<class>": probabilities, ...}`` arrays.

        ``columns`` maps each input column to its values (or is a 2-D array whose columns follow
        ``input_schema``), as :meth:`RuntimePrep.transform` takes it.
        """
        output = self.output(columns)
        if self.classes is None:
            return {"prediction": output}
        # output is calibrated already: only the threshold is left to apply
        codes = self.post.positive(output[:, 1]) if self.task == "binary" else output.argmax(axis=1)
        labels = np.asarray(self.classes)[codes.astype(np.int64)]
        return {"prediction": labels, **{c: output[:, k] for k, c in enumerate(self.columns)}}

    def explain(self, columns: Mapping[str, Any] | np.ndarray) -> dict[str, np.ndarray]:
        """Exact TreeSHAP contributions per row (see :mod:`edgeml.runtime._explain`):
        ``contrib_<feature>`` and ``contrib_bias``, summing to the raw score. Needs lightgbm
        (imported on the first call, whatever the prediction backend)."""
        booster = getattr(self.backend, "booster", None)
        if booster is None:
            if self._explainer is None:
                if self.bundle is None:
                    raise ExportError(f"{self.path}: explanations need the opened bundle")
                self._explainer = _load_backend("lightgbm", self.bundle, 1)
            booster = self._explainer.booster  # type: ignore[attr-defined]
        matrix = self.prep.transform(columns)
        return explanation(booster, matrix, self.prep.features, self.classes)

    def output(self, columns: Mapping[str, Any] | np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, K)`` (binary too: calibrated when the bundle says so) or
        values ``(n,)``, as ``edgeml.load``."""
        if self.backend.takes_raw_input:
            if isinstance(columns, np.ndarray):
                columns = {name: columns[:, j] for j, name in enumerate(self.prep.input_schema)}
            raw = self.backend.predict(columns)
        else:
            raw = self.backend.predict(self.prep.transform(columns))
        raw = np.asarray(raw, dtype=np.float64)
        if self.task == "binary":
            return self.post.proba(raw) if self._calibrate else np.column_stack([1.0 - raw, raw])
        return raw
