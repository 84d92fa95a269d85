"""A model trained on non-ISO date text reads it the same way in every executor.

Real CSV files, trained bundles, every exported backend: the Polars path (``edgeml.load``), the
NumPy runtime (native, treelite, onnx, lightgbm; batches and single rows), and the batch
``edgeml predict`` command give the same outputs; a value in another shape is a clear error.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

import edgeml
import edgeml.runtime
from edgeml.cli import cli
from edgeml.compile import export
from edgeml.config import Config, DataConfig
from edgeml.errors import SchemaError

pytestmark = pytest.mark.usefixtures("private_cache")

# name -> (format the file is written in, format detection must find)
SHAPES = {
    "us": "%m/%d/%Y",
    "day_first": "%d/%m/%Y",
    "us_with_time": "%m/%d/%Y %H:%M",
    "us_12_hour": "%m/%d/%Y %I:%M:%S %p",
    "short_year": "%d-%b-%y",
    "month_name": "%b %d, %Y",
}
BACKENDS = ("native", "treelite", "onnx", "lightgbm")


def stamps(n: int, seed: int) -> list[dt.datetime]:
    rng = np.random.default_rng(seed)
    minutes = rng.integers(0, 2 * 365 * 24 * 60, n)
    return [dt.datetime(2023, 1, 1) + dt.timedelta(minutes=int(m)) for m in minutes]


def dated_frame(fmt: str, n: int = 500, seed: int = 0) -> pl.DataFrame:
    """A target that depends on the weekday and month of ``when`` (and a little on ``x``)."""
    rng = np.random.default_rng(seed + 1)
    when = stamps(n, seed)
    x = rng.normal(size=n)
    weekend = np.array([t.weekday() >= 5 for t in when])
    summer = np.array([t.month in (6, 7, 8) for t in when])
    y = (weekend ^ summer ^ (x > 1.2)).astype(int)
    return pl.DataFrame({"when": [t.strftime(fmt) for t in when], "x": x, "y": y})


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Per shape: a bundle trained from a CSV in that shape (every backend exported), and a CSV
    of new rows in the same shape."""
    root = tmp_path_factory.mktemp("dates")
    out = {}
    for name, fmt in SHAPES.items():
        train_csv, rows_csv = root / f"{name}.csv", root / f"{name}_rows.csv"
        dated_frame(fmt).write_csv(train_csv)
        rows = dated_frame(fmt, n=40, seed=7).drop("y")
        # a missing date and a blank one
        rows = rows.with_columns(
            pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("when")).alias("when")
        )
        rows.write_csv(rows_csv)
        result = edgeml.train(train_csv, target="y", out=root / f"{name}.edgeml", cv_folds=0,
                              num_boost_round=30)  # fmt: skip
        for backend in ("native", "treelite", "onnx"):
            export(result.bundle, format=backend)
        out[name] = (result.bundle, rows_csv)
    return out


@pytest.mark.parametrize("name", SHAPES)
def test_the_plan_has_date_parts_and_the_schema_the_format(bundles, name):
    bundle, _ = bundles[name]
    manifest = json.loads((bundle / "manifest.json").read_text())
    when = next(c for c in manifest["input_schema"] if c["name"] == "when")
    assert when["format"] == SHAPES[name]
    assert when["dtype"] == ("datetime" if "%M" in SHAPES[name] else "date")
    steps = [s for s in manifest["prep"]["steps"] if s["column"] == "when"]
    assert [s["kind"] for s in steps] == ["date_parts"]
    assert "weekday" in steps[0]["parts"] and "when_weekday" in manifest["features"]["model"]
    assert manifest["prep"]["formats"] == {"when": SHAPES[name]}


@pytest.mark.parametrize("name", SHAPES)
def test_every_executor_reads_the_text_the_same_way(bundles, name, tmp_path):
    bundle, rows_csv = bundles[name]
    raw = pl.read_csv(rows_csv, infer_schema_length=0)  # text, as a device receives it
    expected = edgeml.load(bundle).predict(raw)
    columns = {c: raw[c].to_list() for c in ("when", "x")}
    for backend in BACKENDS:
        model = edgeml.runtime.load(bundle, backend=backend)
        assert model.backend_name == backend
        batch = model.predict(columns)
        singles = [model.predict_row(row) for row in raw.rows(named=True)]
        assert batch["prediction"].tolist() == expected["prediction"].to_list(), backend
        assert [r["prediction"] for r in singles] == expected["prediction"].to_list(), backend
        # ONNX Runtime computes in float32
        tolerance = 1e-5 if backend == "onnx" else 1e-9
        np.testing.assert_allclose(batch["proba_1"], expected["proba_1"], atol=tolerance)
        np.testing.assert_allclose([r["proba_1"] for r in singles], expected["proba_1"],
                                   atol=tolerance)  # fmt: skip
    out = tmp_path / "out.csv"
    result = run("predict", bundle, rows_csv, "-o", out, "--backend", "lightgbm")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(pl.read_csv(out)["proba_1"], expected["proba_1"], atol=1e-9)


def test_the_weekday_is_what_the_model_reads(bundles):
    # The same dates written day-first and month-first give the same predictions.
    us, _ = bundles["us"]
    day_first, _ = bundles["day_first"]
    when = [dt.datetime(2024, 3, d) for d in range(10, 20)]

    def rows(fmt: str) -> dict[str, list[object]]:
        return {"when": [t.strftime(fmt) for t in when], "x": [0.0] * len(when)}

    a = edgeml.runtime.load(us, backend="lightgbm").predict(rows("%m/%d/%Y"))
    b = edgeml.runtime.load(day_first, backend="lightgbm").predict(rows("%d/%m/%Y"))
    # both models learned weekend vs weekday (both trained on the same dates)
    np.testing.assert_allclose(a["proba_1"], b["proba_1"], atol=1e-12)
    weekend = np.array([t.weekday() >= 5 for t in when])
    assert (a["proba_1"][weekend].min() > a["proba_1"][~weekend].max()) or (
        a["proba_1"][weekend].max() < a["proba_1"][~weekend].min()
    )


def test_a_value_in_another_shape_is_a_clear_error(bundles, tmp_path):
    bundle, rows_csv = bundles["us"]
    iso = {"when": "2024-03-15", "x": 0.5}
    message = r"column 'when'.*'2024-03-15'.*expected the format %m/%d/%Y \(as 03/15/2024\)"
    for backend in BACKENDS:
        model = edgeml.runtime.load(bundle, backend=backend)
        with pytest.raises(SchemaError, match=message):
            model.predict_row(iso)
        with pytest.raises(SchemaError, match=message):
            model.predict({"when": ["03/15/2024", "2024-03-15"], "x": [0.5, 0.5]})
    bad = pl.read_csv(rows_csv, infer_schema_length=0)
    bad = bad.with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("15/03/2024")).otherwise("when")
        .alias("when")
    )  # fmt: skip
    bad_csv = tmp_path / "bad.csv"
    bad.write_csv(bad_csv)
    with pytest.raises(SchemaError, match=r"'when' row 6: .*'15/03/2024'.*%m/%d/%Y"):
        edgeml.load(bundle).predict(bad_csv)
    result = run("predict", bundle, bad_csv, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "'when'" in result.output and "'15/03/2024'" in result.output
    assert "%m/%d/%Y" in result.output


def test_a_us_time_column_trains_a_time_series_model(tmp_path):
    rng = np.random.default_rng(3)
    n = 600
    start = dt.datetime(2024, 1, 1)
    hours = [start + dt.timedelta(hours=k) for k in range(n)]
    level = np.cumsum(rng.normal(size=n))
    y = np.roll(level, -1) + 0.1 * rng.normal(size=n)
    when = [t.strftime("%m/%d/%Y %H:%M") for t in hours]
    frame = pl.DataFrame({"when": when, "x": level, "y": y})
    path = tmp_path / "series.csv"
    frame.write_csv(path)
    result = edgeml.train(path, target="y", time_col="when", out=tmp_path / "ts.edgeml",
                          cv_folds=0, num_boost_round=30)  # fmt: skip
    manifest = result.manifest
    assert manifest["metrics"]["split"] == "time-ordered"
    assert manifest["roles"]["when"] == "time"
    assert manifest["prep"]["formats"] == {"when": "%m/%d/%Y %H:%M"}
    rows = pl.read_csv(path, infer_schema_length=0).tail(50)
    expected = edgeml.load(result.bundle).predict(rows)["prediction"]
    out = tmp_path / "ts.csv"
    ran = run("predict", result.bundle, path, "-o", out, "--backend", "lightgbm")
    assert ran.exit_code == 0, ran.output
    np.testing.assert_allclose(pl.read_csv(out)["prediction"].tail(50), expected, atol=1e-9)


def test_the_override_wins_and_is_recorded(tmp_path):
    # Only days 1-12, written day-first: every date fits both orders.
    frame = dated_frame("%Y-%m-%d", n=900).filter(pl.col("when").str.slice(8, 2).cast(int) <= 12)
    frame = frame.with_columns(pl.col("when").str.to_date().dt.strftime("%d/%m/%Y").alias("when"))
    path = tmp_path / "a.csv"
    frame.write_csv(path)
    guessed = edgeml.train(path, target="y", out=tmp_path / "g.edgeml", cv_folds=0,
                           num_boost_round=5)  # fmt: skip
    assert guessed.manifest["prep"]["formats"] == {"when": "%m/%d/%Y"}
    assert any("date_formats" in note for note in guessed.manifest["data_card"]["assumptions"])
    config = Config(data=DataConfig(date_formats={"when": "%d/%m/%Y"}))
    result = edgeml.train(path, target="y", config=config, out=tmp_path / "o.edgeml", cv_folds=0,
                          num_boost_round=5)  # fmt: skip
    assert result.manifest["prep"]["formats"] == {"when": "%d/%m/%Y"}
    assert result.manifest["config"]["data"]["date_formats"] == {"when": "%d/%m/%Y"}
    row = {"when": "02/03/2024", "x": 0.0}  # 2 March 2024, a Saturday
    model = edgeml.runtime.load(result.bundle)
    assert model.predict_row(row) == edgeml.runtime.load(result.bundle).predict_row(
        {"when": dt.date(2024, 3, 2), "x": 0.0}
    )
    bad = Config(data=DataConfig(date_formats={"whenn": "%d/%m/%Y"}))
    with pytest.raises(SchemaError, match=r"date_formats names unknown column\(s\) 'whenn'"):
        edgeml.train(path, target="y", config=bad, out=tmp_path / "p.edgeml", cv_folds=0)


def test_an_old_bundle_without_formats_still_loads(bundles, tmp_path):
    # A bundle of ISO dates records no format: the manifest keys are absent, as before.
    frame = dated_frame("%Y-%m-%d", n=200)
    result = edgeml.train(frame, target="y", out=tmp_path / "iso.edgeml", cv_folds=0,
                          num_boost_round=5)  # fmt: skip
    manifest = json.loads((result.bundle / "manifest.json").read_text())
    assert "formats" not in manifest["prep"]
    assert all("format" not in c for c in manifest["input_schema"])
    shutil.copytree(result.bundle, tmp_path / "copy.edgeml")
    assert edgeml.runtime.load(tmp_path / "copy.edgeml").predict_row({"when": "2024-03-15", "x": 0})


def test_training_in_chunks_reads_every_chunk_with_the_format(tmp_path):
    from edgeml.scale import train_stream

    path = tmp_path / "us.csv"
    dated_frame("%m/%d/%Y", n=3000, seed=4).write_csv(path)
    streamed = train_stream(path, target="y", out=tmp_path / "s.edgeml", chunk_rows=500)
    manifest = streamed.manifest
    assert manifest["prep"]["formats"] == {"when": "%m/%d/%Y"}
    assert manifest["data_card"]["date_formats"] == {"when": "%m/%d/%Y"}
    assert "when_weekday" in manifest["features"]["model"]
    rows = pl.read_csv(path, infer_schema_length=0).head(30).drop("y")
    expected = edgeml.load(streamed.bundle).predict(rows)["proba_1"]
    model = edgeml.runtime.load(streamed.bundle, backend="lightgbm")
    got = model.predict({c: rows[c].to_list() for c in ("when", "x")})["proba_1"]
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_the_server_reads_the_format_and_refuses_another_shape(bundles, tmp_path):
    from fastapi.testclient import TestClient

    from edgeml.serve import ServeSettings, create_app

    bundle, _ = bundles["day_first"]
    copy = Path(shutil.copytree(bundle, tmp_path / "served.edgeml"))
    settings = ServeSettings(bundle=copy, log=tmp_path / "log.db", admin_token="t" * 32)
    row = {"when": "25/12/2024", "x": 0.25}
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict", json=row)
        assert response.status_code == 200, response.text
        expected = edgeml.runtime.load(copy).predict_row(row)
        assert response.json()["proba_1"] == pytest.approx(expected["proba_1"], abs=1e-12)
        refused = client.post("/predict", json={"when": "12/25/2024", "x": 0.25})
        assert refused.status_code == 422
        assert "%d/%m/%Y" in refused.text and "when" in refused.text


def test_bigquery_utc_timestamps_are_datetimes_in_every_executor(tmp_path):
    # BigQuery exports a TIMESTAMP as "2024-03-15 14:05:07 UTC" (a fraction when it has one);
    # it stayed text, an ID-like column left out, and a device could not send it either.
    frame = dated_frame("%Y-%m-%d %H:%M:%S UTC")
    with_fraction = pl.col("when").str.replace(" UTC", ".25 UTC")
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(with_fraction).otherwise("when").alias("when")
    )
    frame.write_csv(tmp_path / "bq.csv")
    result = edgeml.train(tmp_path / "bq.csv", target="y", out=tmp_path / "bq.edgeml", cv_folds=0,
                          num_boost_round=30)  # fmt: skip
    manifest = json.loads((result.bundle / "manifest.json").read_text())
    when = next(c for c in manifest["input_schema"] if c["name"] == "when")
    assert when["dtype"] == "datetime" and "format" not in when
    assert "when_weekday" in manifest["features"]["model"]
    export(result.bundle, format="onnx")
    rows = frame.head(40).drop("y")
    rows.write_csv(tmp_path / "rows.csv")
    expected = edgeml.load(result.bundle).predict(rows)
    for backend in ("onnx", "lightgbm"):
        model = edgeml.runtime.load(result.bundle, backend=backend)
        singles = [model.predict_row(row)["proba_1"] for row in rows.rows(named=True)]
        np.testing.assert_allclose(singles, expected["proba_1"], atol=1e-5)
    out = tmp_path / "out.csv"
    outcome = run("predict", result.bundle, tmp_path / "rows.csv", "-o", out)
    assert outcome.exit_code == 0, outcome.output
    np.testing.assert_allclose(pl.read_csv(out)["proba_1"], expected["proba_1"], atol=1e-9)
    from fastapi.testclient import TestClient

    from edgeml.serve import ServeSettings, create_app

    settings = ServeSettings(bundle=result.bundle, log=tmp_path / "log.db")
    row = {"when": "2024-03-16 14:05:07.25 UTC", "x": 0.25}
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict", json=row)
        assert response.status_code == 200, response.text
        served = response.json()["proba_1"]
    assert served == pytest.approx(edgeml.runtime.load(result.bundle).predict_row(row)["proba_1"])
