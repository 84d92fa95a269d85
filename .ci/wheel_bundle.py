"""CI, in the venv with edgeml[all] from the wheel: a telco bundle with a compiled (treelite)
export, and the probabilities LightGBM gives on 20 rows, for the venv that has no extras."""

import json
import sys
from pathlib import Path

import edgeml
import edgeml.datasets
import edgeml.runtime
from edgeml.compile import export

work = Path(sys.argv[1])
config = edgeml.Config.from_dict({"features": {"mode": "none"}})
data = edgeml.datasets.path("telco_churn")
bundle = edgeml.train(data, target="churn", cv_folds=0, num_boost_round=60, config=config,
                      out=work / "telco.edgeml").bundle  # fmt: skip
export(bundle, format="treelite")
rows = edgeml.datasets.load("telco_churn").head(20).drop("churn").to_dicts()
columns = {c: [r[c] for r in rows] for c in rows[0]}
expected = edgeml.runtime.load(bundle, backend="lightgbm").predict(columns)["proba_Yes"]
(work / "rows.json").write_text(json.dumps({"rows": rows, "proba_Yes": expected.tolist()}))
print(f"{bundle}: treelite export and {len(rows)} reference rows")
