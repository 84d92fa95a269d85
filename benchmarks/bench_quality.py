"""Model quality of edgeml's defaults against what a user would write instead.

Tabular: each shared dataset split 80/20 once (time-ordered for chicago_ridership, shuffled with
seed 0 otherwise); plain LightGBM (``LGBMClassifier()`` / ``LGBMRegressor()`` defaults, strings
as pandas categoricals) and ``edgeml.train`` with default settings fit the same 80% and are
scored on the same 20%.

Time series, one step ahead, on the same time-ordered holdout (the last 20% of the dates): every
method sees the true past targets of a holdout row (as a forecaster scored one day ahead does):

* edgeml default: ``--time-col`` (and ``--entity-col``), ``--features auto``;
* hand-written Polars + LightGBM: the entity as a categorical, calendar parts, per-entity target
  lags 1, 7, 14 and past means over 7 and 28 rows (the issue's "ten lines");
* mlforecast: the same lags and rolling means of the target and calendar parts, built by
  ``MLForecast.preprocess``, the other columns as dynamic exogenous features, LightGBM defaults.

    .venv/bin/python benchmarks/bench_quality.py [--only NAME ...] [--write-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import edgeml
from benchmarks import _sweep
from benchmarks._readme import write_section
from edgeml.metrics import primary_metric

SEED = 0
HOLDOUT = 0.2
TOLERANCE = 0.002  # edgeml default may trail plain LightGBM by at most this


@dataclass(frozen=True)
class Case:
    name: str
    target: str
    task: str
    time_col: str | None = None
    drop: list[str] = field(default_factory=list)


TABULAR = [
    Case("diamonds", "price", "regression"),
    Case("telco_churn", "churn", "binary"),
    Case("hpc_jobs", "class", "multiclass"),
    Case("cells", "class", "binary", drop=["case"]),
    Case("chicago_ridership", "ridership", "regression", "date"),
]


def read(name: str) -> pl.DataFrame:
    """Shared dataset ``name`` with its dates parsed (plain LightGBM leaves dates out)."""
    return pl.read_csv(edgeml.datasets.path(name), null_values=["NA"], try_parse_dates=True)


def scores(task: str, y: np.ndarray, output: np.ndarray, classes: list[Any]) -> dict[str, float]:
    """roc_auc (binary), accuracy + macro_f1 (multiclass), r2 + rmse (regression)."""
    if task == "regression":
        return {"r2": r2_score(y, output), "rmse": float(np.sqrt(mean_squared_error(y, output)))}
    if task == "binary":
        return {"roc_auc": roc_auc_score(y == classes[1], output[:, 1])}
    predicted = np.asarray(classes)[output.argmax(axis=1)]
    return {
        "accuracy": accuracy_score(y, predicted),
        "macro_f1": f1_score(y, predicted, average="macro"),
    }


def split(frame: pl.DataFrame, case: Case) -> tuple[pl.DataFrame, pl.DataFrame]:
    n_test = round(frame.height * HOLDOUT)
    if case.time_col:
        frame = frame.sort(case.time_col, maintain_order=True)
        return frame[:-n_test], frame[-n_test:]
    order = np.random.default_rng(SEED).permutation(frame.height)
    return frame[np.sort(order[n_test:])], frame[np.sort(order[:n_test])]


def plain_lightgbm(train: pl.DataFrame, test: pl.DataFrame, case: Case) -> np.ndarray:
    """LGBM*() defaults; strings as categoricals (same categories in both parts)."""
    both = pl.concat([train, test]).drop([case.target, *case.drop])
    both = both.select(c for c in both.columns if not both[c].dtype.is_temporal())
    table = both.to_pandas()
    for column in table.columns:
        if table[column].dtype == object or str(table[column].dtype).startswith("str"):
            table[column] = table[column].astype("category")
    x_train, x_test = table.iloc[: train.height], table.iloc[train.height :]
    y = train[case.target].to_numpy()
    if case.task == "regression":
        return lgb.LGBMRegressor(verbose=-1).fit(x_train, y).predict(x_test)
    model = lgb.LGBMClassifier(verbose=-1).fit(x_train, y)
    classes = sorted(np.unique(y).tolist())
    return model.predict_proba(x_test)[:, [list(model.classes_).index(c) for c in classes]]


def edgeml_default(
    train: pl.DataFrame,
    test: pl.DataFrame,
    case: Case,
    tmp: Path,
    **options: Any,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``edgeml train`` defaults on the training part (no inner holdout), predictions on the
    test part; with a time column the model sees the whole series (true past targets)."""
    train_csv, test_csv = tmp / f"{case.name}_train.csv", tmp / f"{case.name}_test.csv"
    train.drop(case.drop).write_csv(train_csv)
    result = edgeml.train(
        train_csv,
        target=case.target,
        out=tmp / f"{case.name}.edgeml",
        holdout=0.0,
        time_col=case.time_col,
        **options,
    )
    model = edgeml.load(result.bundle)
    data = pl.concat([train, test]) if case.time_col else test
    data.drop(case.drop).write_csv(test_csv)
    predicted = model.predict(test_csv)[-test.height :]
    if model.task == "regression":
        return predicted["prediction"].to_numpy(), result.manifest
    classes = model.target.classes or []
    return predicted.select(f"proba_{c}" for c in classes).to_numpy(), result.manifest


def classes_of(frame: pl.DataFrame, case: Case) -> list[Any]:
    return [] if case.task == "regression" else sorted(frame[case.target].unique().to_list())


def tabular(case: Case, tmp: Path) -> list[dict[str, Any]]:
    frame = read(case.name)
    train, test = split(frame, case)
    y = test[case.target].to_numpy()
    classes = classes_of(frame, case)
    rows = []
    start = time.perf_counter()
    plain = scores(case.task, y, plain_lightgbm(train, test, case), classes)
    rows.append({"model": "plain LightGBM", **plain, "seconds": time.perf_counter() - start})
    start = time.perf_counter()
    output, manifest = edgeml_default(train, test, case, tmp)
    rows.append(
        {
            "model": "edgeml default",
            **scores(case.task, y, output, classes),
            "seconds": time.perf_counter() - start,
            "rounds": manifest["model"]["num_iterations"],
            "features": len(manifest["features"]["model"]),
        }
    )
    return rows


def sweep(case: Case, tmp: Path) -> dict[str, Any]:
    """Plain LightGBM, then edgeml's default training with each setting of ``_sweep.GRID`` on
    the same split: the primary metric of each (``{"metric", "plain", "settings"}``) and each
    setting's rounds and seconds."""
    frame = read(case.name)
    train, test = split(frame, case)
    y = test[case.target].to_numpy()
    classes = classes_of(frame, case)
    metric = primary_metric(case.task)  # type: ignore[arg-type]
    plain = scores(case.task, y, plain_lightgbm(train, test, case), classes)[metric]
    fixed = None
    if case.time_col:
        start = time.perf_counter()
        fixed = _sweep.with_fixed_features(
            train, test, target=case.target, time_col=case.time_col, tmp=tmp
        )
        print(f"{case.name}: {fixed[2]} features fitted once in "
              f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
    result: dict[str, Any] = {"metric": metric, "plain": plain, "settings": {}, "extra": {}}
    for setting in _sweep.GRID:
        start = time.perf_counter()
        if fixed is not None and case.time_col:
            output, manifest = _sweep.train_setting(
                fixed[0], fixed[1], target=case.target, time_col=case.time_col, tmp=tmp,
                setting=setting,
            )  # fmt: skip
        else:
            output, manifest = edgeml_default(train, test, case, tmp, **setting)
        name = _sweep.label(setting)
        result["settings"][name] = scores(case.task, y, output, classes)[metric]
        result["extra"][name] = {
            "rounds": manifest["model"]["num_iterations"],
            "seconds": time.perf_counter() - start,
        }
        print(f"{case.name}: {name}: {metric} {result['settings'][name]:.4f} "
              f"(plain {plain:.4f}), {result['extra'][name]['rounds']} rounds, "
              f"{result['extra'][name]['seconds']:.1f} s", file=sys.stderr, flush=True)  # fmt: skip
    return result


def sweep_all(names: list[str] | None, tmp: Path, save: Path | None) -> str:
    """The sweep over the tabular datasets (all, or ``names``) as the README's table; with
    ``save``, each dataset's result is kept there as it finishes and not run again."""
    results: dict[str, Any] = json.loads(save.read_text()) if save and save.exists() else {}
    for case in TABULAR:
        if (names and case.name not in names) or case.name in results:
            continue
        results[case.name] = sweep(case, tmp)
        if save:
            save.write_text(json.dumps(results, indent=1))
    results = {c.name: results[c.name] for c in TABULAR if c.name in results}
    scores_ = {n: {k: r[k] for k in ("metric", "plain", "settings")} for n, r in results.items()}
    chosen = _sweep.choose(scores_, current=_sweep.CURRENT, tolerance=TOLERANCE)
    return (
        _sweep.table(
            scores_,
            {n: r["extra"] for n, r in results.items()},
            current=_sweep.CURRENT,
            chosen=chosen,
            tolerance=TOLERANCE,
        )
        + f"\n\nChosen: {chosen} (current default: {_sweep.CURRENT})."
    )


@dataclass(frozen=True)
class Series:
    """A per-entity series for the one-step-ahead comparison."""

    name: str
    load: Callable[[], pl.DataFrame]
    target: str
    task: str
    time_col: str
    entity_col: str | None


LAGS = [1, 7, 14]
MEANS = [7, 28]


def daily_regions(n_regions: int = 20, years: int = 4, seed: int = 0) -> pl.DataFrame:
    """Daily counts per region (like the issue's regions × days): each region its own level
    and trend, a weekly and a yearly cycle, AR(1) swings, Poisson noise."""
    rng = np.random.default_rng(seed)
    days = np.arange(365 * years)
    start = np.datetime64("2015-01-01")
    frames = []
    for r in range(n_regions):
        level = rng.lognormal(4.0, 1.0)
        trend = rng.normal(0, 0.3) / 365
        swing = np.zeros(len(days))
        for t in range(1, len(days)):
            swing[t] = 0.9 * swing[t - 1] + rng.normal(0, 0.05)
        weekly = 1 + 0.25 * np.isin((days + 3) % 7, [5, 6]) * rng.choice([-1, 1])
        yearly = 1 + 0.2 * np.sin(2 * np.pi * days / 365.25 + rng.uniform(0, 6))
        mean = level * np.exp(trend * days + swing) * weekly * yearly
        frames.append(
            pl.DataFrame(
                {
                    "date": start + days,
                    "region": f"region_{r:02d}",
                    "count": rng.poisson(mean).astype(np.float64),
                }
            )
        )
    return pl.concat(frames).with_columns(pl.col("date").cast(pl.Date))


def chicago() -> pl.DataFrame:
    return read("chicago_ridership")


def fleet() -> pl.DataFrame:
    frame = edgeml.datasets.sensor_fleet(n_machines=20, days=20)
    return frame.with_columns(pl.col("failure_within_24h").cast(pl.Int64))


SERIES = [
    Series("regions_daily", daily_regions, "count", "regression", "date", "region"),
    Series("chicago_ridership_ts", chicago, "ridership", "regression", "date", None),
    Series("sensor_fleet", fleet, "failure_within_24h", "binary", "timestamp", "machine_id"),
]


def series_split(frame: pl.DataFrame, case: Series) -> tuple[pl.DataFrame, np.ndarray]:
    """The frame in time order and the mask of its last 20% of distinct times (the holdout)."""
    frame = frame.sort([case.time_col, *([case.entity_col] if case.entity_col else [])])
    times = frame[case.time_col].unique().sort()
    cut = times[int(len(times) * (1 - HOLDOUT))]
    return frame, (frame[case.time_col] >= cut).to_numpy()


def hand_features(frame: pl.DataFrame, case: Series) -> pl.DataFrame:
    """The issue's "ten lines of Polars": target lags and past means per entity, calendar."""
    over = [case.entity_col] if case.entity_col else None
    y = pl.col(case.target)

    def per(e: pl.Expr) -> pl.Expr:
        return e.over(over) if over else e

    t = pl.col(case.time_col)
    return frame.with_columns(
        *[per(y.shift(k)).alias(f"lag_{k}") for k in LAGS],
        *[per(y.shift(1).rolling_mean(w, min_samples=1)).alias(f"mean_{w}") for w in MEANS],
        t.dt.weekday().alias("weekday"),
        t.dt.month().alias("month"),
        t.dt.ordinal_day().alias("day_of_year"),
        *([t.dt.hour().alias("hour")] if frame[case.time_col].dtype == pl.Datetime else []),
    )


def to_pandas_x(frame: pl.DataFrame, drop: list[str]) -> Any:
    table = frame.drop(drop).to_pandas()
    for column in table.columns:
        if table[column].dtype == object or str(table[column].dtype).startswith("str"):
            table[column] = table[column].astype("category")
    return table


def fit_lightgbm(task: str, x_train: Any, y_train: np.ndarray, x_test: Any) -> np.ndarray:
    if task == "regression":
        return lgb.LGBMRegressor(verbose=-1).fit(x_train, y_train).predict(x_test)
    return lgb.LGBMClassifier(verbose=-1).fit(x_train, y_train).predict_proba(x_test)


def hand_written(frame: pl.DataFrame, test: np.ndarray, case: Series) -> np.ndarray:
    data = hand_features(frame, case)
    x = to_pandas_x(data, [case.target, case.time_col])
    y = frame[case.target].to_numpy()
    return fit_lightgbm(case.task, x[~test], y[~test], x[test])


def with_mlforecast(frame: pl.DataFrame, test: np.ndarray, case: Series) -> np.ndarray:
    """mlforecast's own features (``preprocess``) for every row from the true past, LightGBM
    defaults fitted on the training rows: what ``MLForecast.fit`` does, scored one step ahead."""
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    ids = frame[case.entity_col] if case.entity_col else pl.lit("all")
    table = frame.with_columns(ids.alias("unique_id"), pl.col(case.time_col).alias("ds"))
    table = table.rename({case.target: "y"}).drop([c for c in (case.time_col,) if c != "ds"])
    if case.entity_col:
        table = table.drop(case.entity_col)
    table = table.with_row_index("_row")
    hourly = frame[case.time_col].dtype == pl.Datetime
    forecast = MLForecast(
        models=[],
        freq="30m" if hourly else "1d",
        lags=LAGS,
        lag_transforms={1: [RollingMean(window_size=w, min_samples=1) for w in MEANS]},
        date_features=["weekday", "month", "day", *(["hour"] if hourly else [])],
    )
    # The fleet's machines go offline for hours: lags count readings, as edgeml's do, so the
    # regular-grid check is off.
    features = forecast.preprocess(
        table, static_features=[], dropna=False, validate_data=not hourly
    )
    features = features.sort("_row")
    x = to_pandas_x(features, ["unique_id", "ds", "y", "_row"])
    y = features["y"].to_numpy()
    return fit_lightgbm(case.task, x[~test], y[~test], x[test])


def edgeml_series(frame: pl.DataFrame, test: np.ndarray, case: Series, tmp: Path) -> Any:
    train_csv, all_csv = tmp / f"{case.name}_train.csv", tmp / f"{case.name}_all.csv"
    frame.filter(pl.Series(~test)).write_csv(train_csv)
    frame.write_csv(all_csv)
    result = edgeml.train(
        train_csv,
        target=case.target,
        out=tmp / f"{case.name}.edgeml",
        holdout=0.0,
        time_col=case.time_col,
        entity_col=case.entity_col,
    )
    model = edgeml.load(result.bundle)
    predicted = model.predict(all_csv).filter(pl.Series(test))
    if case.task == "regression":
        return predicted["prediction"].to_numpy(), result.manifest
    return predicted.select(f"proba_{c}" for c in model.target.classes or []).to_numpy(), (
        result.manifest
    )


def series(case: Series, tmp: Path) -> list[dict[str, Any]]:
    frame, test = series_split(case.load(), case)
    y = frame[case.target].to_numpy()[test]
    classes = [] if case.task == "regression" else [0, 1]
    rows = []
    for label, run in (
        ("mlforecast", lambda: with_mlforecast(frame, test, case)),
        ("Polars + LightGBM by hand", lambda: hand_written(frame, test, case)),
    ):
        start = time.perf_counter()
        rows.append(
            {
                "model": label,
                **scores(case.task, y, run(), classes),
                "seconds": time.perf_counter() - start,
            }
        )
    start = time.perf_counter()
    output, manifest = edgeml_series(frame, test, case, tmp)
    rows.append(
        {
            "model": "edgeml default",
            **scores(case.task, y, output, classes),
            "seconds": time.perf_counter() - start,
            "rounds": manifest["model"]["num_iterations"],
            "features": len(manifest["features"]["model"]),
        }
    )
    return rows


def fmt(rows: list[dict[str, Any]], metrics: list[str]) -> str:
    head = f"| model | {' | '.join(metrics)} | Δ vs first | rounds | features | seconds |"
    lines = [head, "|---" * (len(metrics) + 5) + "|"]
    first = rows[0][metrics[0]]
    for row in rows:
        values = " | ".join(f"{row[m]:.4f}" for m in metrics)
        delta = row[metrics[0]] - first
        extra = f"{row.get('rounds', '—')} | {row.get('features', '—')}"
        lines.append(
            f"| {row['model']} | {values} | {delta:+.4f} | {extra} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


SWEEP_SECTION = "## Defaults sweep (learning rate, leaves)"
SWEEP_INTRO = (
    "Command: `python benchmarks/bench_quality.py --sweep --save FILE --write-readme`. The same "
    "80/20 "
    "split as the quality table; each setting goes through edgeml's default training (rounds "
    "from the 5 CV folds' best iterations, refit on the 80%) and is scored on the 20%. "
    "chicago_ridership's auto features are fitted once at the run's defaults and every "
    "setting trains on them (the feature selection is what makes that run slow; the grid is "
    "about the booster). Cells: primary metric minus plain LightGBM's (rounds). Rule: among the "
    f"settings no worse than plain − {TOLERANCE} on any dataset, the best mean rank; the current "
    "default wins ties. One split per dataset: differences under ~0.002 are within noise."
)

METRICS = {
    "regression": ["r2", "rmse"],
    "binary": ["roc_auc"],
    "multiclass": ["accuracy", "macro_f1"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument(
        "--sweep", action="store_true", help="edgeml's defaults against nearby settings"
    )
    parser.add_argument(
        "--save", type=Path, default=None, help="--sweep: keep results here, skip datasets done"
    )
    args = parser.parse_args()
    sections: list[str] = []
    runners: dict[str, Callable[[Path], tuple[str, str]]] = {
        c.name: (lambda tmp, c=c: (c.task, fmt(tabular(c, tmp), METRICS[c.task]))) for c in TABULAR
    }
    for case in SERIES:
        runners[case.name] = lambda tmp, c=case: (
            f"{c.task}, one step ahead",
            fmt(series(c, tmp), METRICS[c.task]),
        )
    if args.sweep:
        with tempfile.TemporaryDirectory() as name:
            text = sweep_all(args.only, Path(name), args.save)
        print(text, flush=True)
        if args.write_readme:
            write_section(SWEEP_SECTION, f"{_machine()}\n\n{SWEEP_INTRO}\n\n{text}")
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for key, runner in runners.items():
            if args.only and key not in args.only:
                continue
            task, table = runner(tmp)
            text = f"### {key} ({task})\n\n{table}\n"
            print(text, flush=True)
            sections.append(text)
    if args.write_readme:
        body = (
            f"{_machine()}\n\nCommand: `python benchmarks/bench_quality.py --write-readme`\n\n"
            + "\n".join(sections)
        )
        write_section("## Model quality (defaults)", body)


def _machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}; LightGBM {lgb.__version__}, Polars {pl.__version__}; "
        f"load average at the end {load}."
    )


if __name__ == "__main__":
    main()
