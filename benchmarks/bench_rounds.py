"""Heavy-tailed regression targets: edgeml's default training against plain LightGBM.

The final model's number of rounds comes from the CV folds; on a heavy-tailed target a fold
whose test part holds a few extreme rows stops early. Each case below is split 80/20 (shuffled
with the seed), plain ``LGBMRegressor()`` and ``edgeml.train`` with default settings (no inner
holdout) fit the same 80% and are scored (r2) on the same 20%, for seeds 0, 1 and 2.

Cases: diamonds (12,000 rows sampled) with price as is, with 1% of prices times 10-50, and times
lognormal noise; the cells measurements with a Pareto-noise and a lognormal target built from
eight of them; scikit-learn's ``make_regression`` with an exponentiated target and with Student-t
(df 1.5) noise; hpc_jobs' heavy-tailed ``compounds`` from the other columns; telco_churn's
``total_charges``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_rounds.py [--seeds 0,1,2] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.datasets import make_regression
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import edgeml


def shared(name: str) -> pl.DataFrame:
    return pl.read_csv(edgeml.datasets.path(name), null_values=["NA"])


def cases(seed: int) -> dict[str, tuple[pl.DataFrame, str]]:
    """Each case's frame and target column for ``seed``."""
    rng = np.random.default_rng(100 + seed)
    out: dict[str, tuple[pl.DataFrame, str]] = {}
    d = shared("diamonds").sample(12000, seed=seed)
    out["diamonds12k_price"] = (d, "price")
    k = rng.random(d.height) < 0.01
    mult = np.where(k, rng.uniform(10, 50, d.height), 1.0)
    out["diamonds12k_outliers"] = (d.with_columns(pl.col("price") * pl.Series(mult)), "price")
    noise = pl.Series(rng.lognormal(0, 0.8, d.height))
    out["diamonds12k_lognoise"] = (d.with_columns(pl.col("price") * noise), "price")
    c = shared("cells").drop(["case", "class"])
    num = c.select(pl.all().cast(pl.Float64)).to_numpy()
    z = (num - num.mean(0)) / num.std(0)
    lin = z[:, :6] @ rng.normal(0, 0.5, 6) + 0.5 * z[:, 6] * z[:, 7]
    pareto = np.exp(lin) * (rng.pareto(2.5, len(lin)) + 1)
    out["cells_pareto"] = (c.with_columns(target=pl.Series(pareto)), "target")
    lognormal = np.exp(lin + rng.normal(0, 0.7, len(lin)))
    out["cells_lognormal"] = (c.with_columns(target=pl.Series(lognormal)), "target")
    x, y = make_regression(
        n_samples=6000, n_features=20, n_informative=10, noise=0.0, random_state=seed
    )
    cols = {f"x{i}": x[:, i] for i in range(x.shape[1])}
    yz = (y - y.mean()) / y.std()
    exp_y = np.exp(1.2 * yz + rng.normal(0, 0.3, len(y)))
    out["mkreg_exp"] = (pl.DataFrame({**cols, "y": exp_y}), "y")
    out["mkreg_t15"] = (pl.DataFrame({**cols, "y": yz + 0.3 * rng.standard_t(1.5, len(y))}), "y")
    out["hpc_compounds"] = (shared("hpc_jobs"), "compounds")
    telco = shared("telco_churn").filter(pl.col("total_charges").is_not_null()).drop("churn")
    out["telco_total_charges"] = (telco, "total_charges")
    return out


def plain(train: pl.DataFrame, test: pl.DataFrame, target: str) -> np.ndarray:
    """``LGBMRegressor()`` defaults, strings as pandas categoricals."""
    table = pl.concat([train, test]).drop(target).to_pandas()
    for column in table.columns:
        if table[column].dtype == object or str(table[column].dtype).startswith("str"):
            table[column] = table[column].astype("category")
    x_train, x_test = table.iloc[: train.height], table.iloc[train.height :]
    model = lgb.LGBMRegressor(verbose=-1).fit(x_train, train[target].to_numpy())
    return np.asarray(model.predict(x_test))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    diffs = []
    print("| case | seed | plain r2 | edgeml r2 | Δ | rounds | edgeml CPU s |")
    print("|---|---|---|---|---|---|---|")
    for seed in (int(s) for s in args.seeds.split(",")):
        for name, (frame, target) in cases(seed).items():
            if args.names and name not in args.names:
                continue
            order = np.random.default_rng(seed).permutation(frame.height)
            n_test = round(frame.height * 0.2)
            train, test = frame[np.sort(order[n_test:])], frame[np.sort(order[:n_test])]
            y = test[target].to_numpy()
            theirs = r2_score(y, plain(train, test, target))
            start = time.process_time()
            result = edgeml.train(train, target=target, out=tmp / "m.edgeml", holdout=0.0,
                                  seed=seed)  # fmt: skip
            cpu = time.process_time() - start
            predicted = edgeml.load(result.bundle).predict(test.drop(target))["prediction"]
            ours = r2_score(y, predicted.to_numpy())
            diffs.append(ours - theirs)
            rounds = result.manifest["model"]["num_iterations"]
            print(f"| {name} | {seed} | {theirs:.4f} | {ours:.4f} | {ours - theirs:+.4f} | "
                  f"{rounds} | {cpu:.1f} |", flush=True)  # fmt: skip
    print(f"\nmean Δ {np.mean(diffs):+.4f}, worst {min(diffs):+.4f}, "
          f"{sum(d < -0.002 for d in diffs)} of {len(diffs)} below -0.002")  # fmt: skip


if __name__ == "__main__":
    main()
