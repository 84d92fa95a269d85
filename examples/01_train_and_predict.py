"""Train on the embedded sensor-fleet data, then predict and score new rows from the bundle.

.venv/bin/python examples/01_train_and_predict.py [OUT_DIR]
"""

import sys
import tempfile
from pathlib import Path

import edgeml
from edgeml.config import Config

out = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
fleet = edgeml.datasets.sensor_fleet(n_machines=8, days=16, seed=1)
history = fleet.filter(fleet["timestamp"] < fleet["timestamp"].quantile(0.8))
recent = fleet.filter(fleet["timestamp"] >= fleet["timestamp"].quantile(0.8))
history.write_parquet(out / "history.parquet")

result = edgeml.train(
    out / "history.parquet",
    target="failure_within_24h",
    time_col="timestamp",
    entity_col="machine_id",
    out=out / "fleet.edgeml",
    # The label looks 24 h ahead: a past row's label is not known yet when a new row is scored,
    # so the target's own history would leak the future.
    config=Config.from_dict({"features": {"target_history": False}}),
)
print(f"CV roc_auc: {result.metrics['cv']['roc_auc']['mean']:.3f}")

model = edgeml.load(result.bundle)
predictions = model.predict(recent.drop("failure_within_24h"))
print(predictions.head(3))
report = model.evaluate(recent)
print(
    f"recent rows: roc_auc {report['metrics']['roc_auc']:.3f} "
    f"(baseline {report['baseline']['roc_auc']:.3f})"
)
