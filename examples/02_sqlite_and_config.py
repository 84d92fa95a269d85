"""Read training data from SQLite with an edgeml.toml, as a device box with a local log would.

.venv/bin/python examples/02_sqlite_and_config.py [OUT_DIR]
"""

import sqlite3
import sys
import tempfile
from pathlib import Path

import edgeml

out = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
fleet = edgeml.datasets.sensor_fleet(n_machines=8, days=15, seed=2)
db = out / "fleet.db"
with sqlite3.connect(db) as conn:
    conn.execute(f"CREATE TABLE readings ({', '.join(fleet.columns)})")
    rows = [tuple(str(v) if k == 0 else v for k, v in enumerate(r)) for r in fleet.rows()]
    conn.executemany(f"INSERT INTO readings VALUES ({', '.join('?' * fleet.width)})", rows)

config_path = out / "edgeml.toml"
config_path.write_text(
    """
[data]
assumptions = ["readings arrive every 30 minutes; duplicates are re-sent messages"]

[prep]
outliers = "clip"
missing_indicators = true

[train]
target = "failure_within_24h"
time_col = "timestamp"
entity_col = "machine_id"
cv_folds = 3
"""
)
result = edgeml.train(
    f"sqlite:///{db}",
    table="readings",
    config=edgeml.load_config(config_path),
    out=out / "fleet.edgeml",
)
card = result.manifest["data_card"]
print(f"read {card['rows']} rows from {card['sources'][0]['uri']}")
print(f"holdout roc_auc {result.metrics['holdout']['roc_auc']:.3f}")
for step in result.manifest["prep"]["steps"][:3]:
    print(step["column"], "->", "; ".join(step["reasons"]))
