"""CI, in a venv with the wheel and no extras (NumPy alone): predict through edgeml.runtime on
the compiled export, equal to LightGBM, importing nothing heavy; the training API says which
extra it needs."""

import json
import sys
from pathlib import Path

import numpy as np

import edgeml
import edgeml.runtime

bundle, rows_file = sys.argv[1], sys.argv[2]
data = json.loads(Path(rows_file).read_text(encoding="utf-8"))
rows = data["rows"]
model = edgeml.runtime.load(bundle)
if model.backend_name != "treelite":
    sys.exit(f"expected the treelite backend, got {model.backend_name}: {model.skipped}")
out = model.predict({c: [r[c] for r in rows] for c in rows[0]})
np.testing.assert_allclose(out["proba_Yes"], data["proba_Yes"], atol=1e-9)
first = model.predict_row(rows[0])
heavy = ("polars", "lightgbm", "numba", "sklearn", "click", "rich", "pandas", "onnxruntime")
loaded = sorted(m for m in heavy if m in sys.modules)
if loaded:
    sys.exit(f"edgeml.runtime imported {loaded}")
print(f"{len(rows)} rows through {model.backend_name} equal LightGBM; first row: {first}")
try:
    edgeml.train  # noqa: B018 - the attribute access is the test
except edgeml.DependencyError as exc:
    print(f"without the train extra: {exc}")
else:
    sys.exit("edgeml.train without the train extra did not raise DependencyError")
