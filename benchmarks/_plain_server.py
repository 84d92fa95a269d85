"""The server a user would write by hand: FastAPI, a dict in, Booster.predict out — no schema
validation, no log, no metrics. The baseline of bench_serve.py. Run: python _plain_server.py
MODEL_TXT FEATURES_JSON PORT."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import uvicorn
from fastapi import FastAPI, Request

booster = lgb.Booster(model_file=sys.argv[1])
# The prep a hand-written server would do: category → code from a lookup, numbers as floats.
spec = json.loads(Path(sys.argv[2]).read_text())
columns: list[str] = spec["features"]
codes: dict[str, dict[str, float]] = spec["codes"]
app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> dict[str, float]:
    row = await request.json()
    values = [
        codes[c].get(row[c], np.nan) if c in codes else (np.nan if row[c] is None else row[c])
        for c in columns
    ]
    return {"proba": float(booster.predict(np.array([values], dtype=np.float64))[0])}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", access_log=False)
