"""``edgeml report``: one self-contained HTML file describing a bundle, from data to model.

Tables come from the manifest; figures are PNGs embedded as base64, styles are inline, and there
is no script and no external link, so the file opens offline and can be mailed or archived as is.
Curves that need labels (ROC, precision-recall, confusion, calibration, residuals) are drawn on
``data`` when given: the bundle stores no target values.

matplotlib is imported inside the functions that draw (``from edgeml.evaluate import _plots``),
so loading this module, and the CLI that imports it, does not pay for it.

>>> from edgeml.evaluate import report
>>> report("churn.edgeml", "churn.html", data="labelled.csv")      # doctest: +SKIP
PosixPath('churn.html')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edgeml.data import conform
from edgeml.errors import BundleError, ConfigError, DataError
from edgeml.evaluate import _report_results as results
from edgeml.evaluate import _report_sections as tables
from edgeml.evaluate._report_explain import contributions
from edgeml.evaluate._report_page import page
from edgeml.learn import predict_proba
from edgeml.pipeline import Model, load
from edgeml.prep import REFERENCE_ROWS, apply_prep, load_reference_rows, to_matrix
from edgeml.spec.manifest import Manifest
from edgeml.spec.metrics import Decision
from edgeml.util.files import write_text_atomically
from edgeml.util.html import Raw, esc, figure, fmt, note

__all__ = ["report"]

Section = tuple[str, str, str]  # (id, title, body HTML)


def report(
    bundle: str | Path,
    out: str | Path,
    *,
    data: str | Path | pl.DataFrame | None = None,
    table: str | None = None,
    query: str | None = None,
) -> Path:
    """Write the HTML report of ``bundle`` to ``out`` (atomically) and return its path.

    ``data``: labelled rows to draw the evaluation plots on (any DATA that ``edgeml evaluate``
    takes, with ``table``/``query`` for SQLite). Without it the report holds everything that
    needs no labels.

    >>> report("churn.edgeml", "report.html")                         # doctest: +SKIP
    PosixPath('report.html')
    """
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"{out}: is a directory; give the report a file name like report.html")
    model = load(bundle)
    source = "<in-memory DataFrame>" if isinstance(data, pl.DataFrame) else str(data)
    evaluation = _evaluate(model, data, table, query) if data is not None else None
    try:
        html = page(model.spec, str(bundle), _sections(model, evaluation, source))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        # The manifest passed its digest and outline checks, yet a value deep in a section
        # (a learning curve, the data card) is not what training writes: edited and re-sealed.
        raise BundleError(
            f"{bundle}: manifest.json holds a value the report cannot show "
            f"({type(exc).__name__}: {exc}); re-train or re-export the bundle"
        ) from None
    write_text_atomically(out, html)
    return out


def _sections(model: Model, evaluation: dict[str, Any] | None, source: str) -> list[Section]:
    """Every section, in pipeline order; search and leaderboard only when the bundle has them."""
    manifest = model.spec
    names = model.booster.feature_name()
    gain = np.asarray(model.booster.feature_importance("gain"), dtype=np.float64)
    ranked = [names[i] for i in np.argsort(-gain, kind="stable")]
    data = tables.data_quality(manifest) + tables.feature_profile(manifest, ranked)
    out = [
        ("data", "Data quality and data card", data + tables.data_card(manifest)),
        ("prep", "Preparation decisions", tables.prep_decisions(manifest)),
        ("features", "Feature decisions", tables.feature_decisions(manifest)),
    ]
    if manifest.leaderboard:
        text = note(
            "Candidate model families scored on the same cross-validation folds; 'within noise' "
            "marks those a paired comparison over the folds cannot tell apart from the best."
        )
        out.append(("leaderboard", "Model comparison", text + results.leaderboard(manifest)))
    if manifest.search:
        out.append(("search", "Hyperparameter search", _search(manifest.search, manifest)))
    out += [
        ("metrics", "Metrics", results.metrics(manifest, evaluation, source)),
    ]
    if manifest.decision:
        out.append(
            ("decision", "Decision threshold and calibration", _decision(manifest.decision, model))
        )
    out += [
        ("evaluation", "Evaluation plots", _evaluation(model, evaluation, source)),
        ("importance", "Feature importance", _importance(names, gain)),
        ("explanations", "Explanations", _explanations(model, evaluation, source)),
        ("learning-curves", "Learning curves", _learning(manifest)),
    ]
    return out


def _evaluate(
    model: Model, data: str | Path | pl.DataFrame, table: str | None, query: str | None
) -> dict[str, Any]:
    """Labels, model output and metrics on the labelled rows of ``data``."""
    # Model._read applies the bundle's own reading rules (text columns stay text), exactly as
    # `edgeml evaluate` reads DATA; the rows are read once and passed on as a DataFrame.
    # (Model's private helpers are used from here, inside the package, on purpose.)
    frame, source = model._read(data, table, query)
    name = model.target.name
    if name not in frame.columns:
        raise DataError(
            f"{source}: target column {name!r} not found; the evaluation plots need labelled "
            "rows (leave out --data for a report without them)"
        )
    frame = frame.filter(pl.col(name).is_not_null())
    if frame.height == 0:
        raise DataError(f"{source}: no row has a value in target column {name!r}")
    scores = model.evaluate(frame)
    # The model's raw output ((n, K) probabilities, or values): unlike predict(), it does not
    # ask for the id columns, which plots do not need.
    output = model._output(frame, source)
    codes = None
    if model.target.classes is not None:
        output, codes = model.post.decide(output)  # calibrated, labels at the threshold
    y = model.target.encode(frame[name], source=source)
    return {**scores, "y": y, "output": output, "codes": codes, "frame": frame}


def _show(png: bytes, **kwargs: Any) -> str:
    """A figure at the common scale (see :func:`edgeml.util.figures.display_width`)."""
    from edgeml.util.figures import display_width

    return figure(png, width=display_width(png), **kwargs)


def _evaluation(model: Model, evaluation: dict[str, Any] | None, source: str) -> str:
    from edgeml.evaluate import _plots as plots
    from edgeml.evaluate import _plots_eval as evaluation_plots

    classes = model.target.classes
    if evaluation is None:
        wanted = "ROC, precision-recall, confusion and calibration" if classes else "residual"
        hint = Raw(
            "These plots need labelled rows, and a bundle stores no target values: run "
            f"<code>edgeml report {esc(model.path)} -o report.html --data LABELLED_DATA</code> "
            f"to add the {wanted} plots."
        )
        return note(hint) + _reference_scores(model)
    y, output = evaluation["y"], evaluation["output"]
    where = f"on {evaluation['rows']:,} labelled rows of {source}"
    if classes is None:
        return _show(
            evaluation_plots.residuals(y, output),
            alt="residual plots",
            ident="residuals",
            caption=f"Residuals, predictions against actual values, and errors {where}.",
        )
    if np.unique(y).size >= 2:
        per_class = " (one-vs-rest per class)" if len(classes) > 2 else ""
        if len(classes) > plots.MAX_CLASS_CURVES:
            per_class = (
                f" (one-vs-rest for the {plots.MAX_CLASS_CURVES} most frequent of "
                f"{len(classes)} classes, and the micro-average over all)"
            )
        out = _show(
            evaluation_plots.roc_pr(y, output, classes),
            alt="ROC and precision-recall curves",
            ident="roc-pr",
            caption=f"ROC and precision-recall curves{per_class} {where}.",
        )
    else:
        only = classes[int(y[0])]
        out = note(f"ROC and precision-recall curves need two classes; {source} has only {only!r}.")
    confusion = _show(
        evaluation_plots.confusion(y, evaluation["codes"], classes),
        alt="confusion matrix",
        ident="confusion",
        caption=f"Confusion matrix {where}.",
    )
    calibration = _show(
        evaluation_plots.calibration(y, output, classes),
        alt="calibration curve",
        ident="calibration",
        caption=f"Calibration {where}.",
    )
    if len(classes) > 6:
        # A large matrix needs the full width to keep its counts readable.
        return out + confusion + calibration
    return out + f'<div class="pair">{confusion}{calibration}</div>'


def _decision(decision: Decision, model: Model) -> str:
    """The threshold, why it was chosen, and the out-of-fold curves it was chosen on."""
    from edgeml.evaluate import _plots_decision as plots

    method = model.post.method
    at = decision.out_of_fold or {}
    positive = (model.target.classes or ["?", "?"])[1]
    text = (
        f"A row is predicted {positive!r} when its probability is above "
        f"{decision.threshold:.4g} (rule {decision.rule}: {decision.reason}); "
        f"calibration: {method}."
    )
    if "f1" in at:
        text += (
            f" On {at['rows']:,} out-of-fold training rows that threshold gives precision "
            f"{at['precision']:.3f}, recall {at['recall']:.3f}, F1 {at['f1']:.3f}."
        )
    out = note(text)
    figures = []
    if decision.curve:
        figures.append(
            _show(
                plots.threshold_curve(decision),
                alt="precision and recall against the threshold",
                ident="threshold",
                caption="Precision and recall of the cross-validation folds' predictions of the "
                "training rows against the threshold; the dot marks the chosen one.",
            )
        )
    if decision.reliability:
        figures.append(
            _show(
                plots.reliability(decision.reliability, method),
                alt="out-of-fold reliability curve",
                ident="reliability",
                caption="Observed positive rate against the predicted probability in ten "
                "equal-count bins of the out-of-fold predictions, with their Brier scores.",
            )
        )
    return out + (f'<div class="pair">{"".join(figures)}</div>' if figures else "")


def _explanations(model: Model, evaluation: dict[str, Any] | None, source: str) -> str:
    if evaluation is not None:
        return contributions(model, evaluation["frame"], f"rows of {source}", _show)
    raw = _reference_frame(model)
    return contributions(model, raw, "the bundle's reference rows", _show)


def _reference_frame(model: Model) -> pl.DataFrame | None:
    """The bundle's reference rows (a sample of training inputs, no labels), if it has them."""
    if REFERENCE_ROWS not in model.bundle.files:
        return None
    columns, rows = load_reference_rows(model.bundle.read(REFERENCE_ROWS))
    if not rows:
        return None
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


def _reference_scores(model: Model) -> str:
    """Predictions on the bundle's reference rows: a sample of training inputs, no labels."""
    from edgeml.evaluate import _plots as plots

    raw = _reference_frame(model)
    if raw is None:
        return ""
    rows = raw.rows()
    conformed = conform(
        raw, model.plan.input_schema, source=REFERENCE_ROWS, formats=model.plan.input_formats
    )
    matrix = to_matrix(apply_prep(model.plan, conformed))
    output = predict_proba(model.booster, matrix, model.task)  # type: ignore[arg-type]
    return _show(
        plots.score_distribution(output, model.target.classes),
        alt="histogram of predictions on training rows",
        ident="reference-scores",
        caption=f"Model output on {len(rows):,} training rows (the bundle's reference sample), "
        "without labels: the spread of the predictions, not their quality. These rows were "
        "used to fit the model.",
    )


def _importance(names: list[str], gain: np.ndarray) -> str:
    from edgeml.evaluate import _plots as plots

    if not gain.size or gain.sum() <= 0:
        return note("The model has no splits, so no feature has any importance.")
    unused = int((gain == 0).sum())
    more = max(0, int((gain > 0).sum()) - plots.TOP_FEATURES)
    text = "Share of the model's total split gain per feature."
    if more:
        text += f" {more} further features with less gain are not shown."
    if unused:
        text += f" {unused} of {gain.size} features are never split on."
    return _show(plots.importance(names, gain), alt="feature importance", caption=text)


def _learning(manifest: Manifest) -> str:
    from edgeml.evaluate import _plots as plots

    curves = {k: v for k, v in (manifest.learning_curves or {}).items() if v}
    if not curves:
        return note("This bundle has no learning curves.")
    rounds = manifest.model.num_iterations
    final = manifest.metrics.rows.final
    rows = "all training rows"
    if final:
        rows = f"all {fmt(final)} labelled rows (training and holdout)"
    return _show(
        plots.learning_curves(curves),
        alt="learning curves",
        caption="Metric per boosting round on the training and validation rows of the run that "
        "decided when to stop (the last CV fold, early-stopped on its own test part; without CV, "
        f"a slice of the training rows). The bundle's model was then refitted on {rows} with "
        f"{fmt(rounds)} rounds.",
    )


def _search(search: dict[str, Any], manifest: Manifest) -> str:
    from edgeml.evaluate import _plots as plots

    body = results.search_summary(search)
    pareto = search.get("pareto") or []
    if not pareto:
        return body
    metric = search.get("metric") or manifest.metrics.primary or "metric"
    budgets = search.get("budgets") or {
        k: search[k] for k in ("max_latency_us", "max_model_kb") if search.get(k)
    }
    plot = _show(
        plots.pareto(pareto, str(metric), budgets),
        alt="Pareto front",
        ident="pareto",
        caption="Trials on the Pareto front of the metric, single-row latency and model size.",
    )
    return plot + body
