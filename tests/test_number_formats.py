"""Numbers written with signs or separators ("$1,234.50", "12.5%", "1.234,5 €") are numbers.

Detection at read time, the Polars reader against the runtime's parser (hypothesis), and a
bundle trained on such a file read the same way by every executor: ``edgeml.load``, the NumPy
runtime's backends (batches and single rows), the batch ``edgeml predict`` and the server's
validation; a value in another shape is a clear error naming the column and the format.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import edgeml
import edgeml.runtime
from edgeml.cli import cli
from edgeml.compile import export
from edgeml.data import infer_types
from edgeml.data._numbers import detect_number_format, read_numbers
from edgeml.errors import BundleError, SchemaError
from edgeml.spec.prep_plan import PrepPlan
from edgeml.util.numberformat import check_number_format, parse_number

pytestmark = pytest.mark.usefixtures("private_cache")

BACKENDS = ("native", "treelite", "onnx", "lightgbm")


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["$1,200.50", "$80", "-$3.25", "$12,345,678.9"], "$1,234.5"),
        (["12.5%", "3%", "-0.5%"], "1,234.5%"),
        (["1.234,5 €", "7,25 €", "0 €"], "1.234,5 €"),
        (["€1.234,50", "€99"], "€1.234,5"),
        (["1,234", "12", "999,999"], "1,234.5"),  # ambiguous: thousands, as in the US and UK
        (["1 234,5", "12,75"], "1 234,5"),
        # French exports group with (narrow) no-break spaces, one before the sign too
        (["20\u202f688,47\u00a0€", "950,00\u00a0€", "-1\u00a0234\u00a0€"], "1 234,5 €"),
        (["12\u00a0345,5", "7,25", "1\u2009000,0"], "1 234,5"),
        (["12,5 %", "3 %"], "1.234,5 %"),
        (["£ 12.50", "£ 3"], "£ 1,234.5"),
        # accounting negatives (Excel's accounting and currency formats): "(5.00)" is -5
        (["(1,234.50)", "2,000.00", "(5.00)"], "1,234.5"),
        (["($1,234.50)", "$80.00", "$0.00"], "$1,234.5"),
        (["(12.5%)", "3%"], "1,234.5%"),
    ],
)
def test_a_column_of_written_numbers_gets_its_format(values, fmt):
    assert detect_number_format(pl.Series(values)) == fmt
    typed = infer_types(pl.DataFrame({"v": values}))["v"]
    assert typed.dtype == pl.Float64
    assert typed.to_list() == [parse_number(v, fmt) for v in values]


@pytest.mark.parametrize(
    "values",
    [
        ["A-12", "B-7"],  # codes
        ["555-1234", "555-9876"],  # phone numbers
        ["03/15/2024", "04/01/2024"],  # dates
        ["$12", "€12"],  # two currencies
        ["$12", "12%"],  # a prefix on some, a suffix on others is fine; two signs are not
        ["(12.50", "3)"],  # half an accounting negative
        ["1,2,3", "4,5,6"],  # lists
        ["1,5", "3,5"],  # decimal commas alone: the dialect's ([data] decimal_comma)
    ],
)
def test_other_text_stays_text(values):
    if values == ["$12", "12%"]:
        assert detect_number_format(pl.Series(values)) == "$1,234.5%"
        return
    assert detect_number_format(pl.Series(values)) is None
    assert infer_types(pl.DataFrame({"v": values}))["v"].dtype != pl.Float64


FORMATS = ["$1,234.5", "1,234.5%", "1.234,5 €", "1234,5", "1'234.5", "€ 1 234,5"]
_TEXT = st.text(alphabet="0123456789,.' $€%+-()\u00a0\u202f", max_size=14)


@settings(max_examples=400, deadline=None)
@given(fmt=st.sampled_from(FORMATS), texts=st.lists(_TEXT, min_size=1, max_size=20))
def test_the_runtime_reads_what_polars_reads(fmt, texts):
    polars = pl.DataFrame({"v": texts}).select(read_numbers(pl.col("v"), fmt)).to_series()
    for text, expected in zip(texts, polars.to_list(), strict=True):
        assert parse_number(text, fmt) == expected, (text, fmt)


def test_a_format_must_be_1234_5_written_in_the_columns_shape():
    for bad in ("1.234.5", "1,234,5", "$$1,234.5", "1234.50", "#,##0.00", "%d/%m/%Y"):
        with pytest.raises(ValueError, match="is not a number format"):
            check_number_format(bad)
    plan = {"columns": [{"name": "p", "dtype": "str", "role": "feature"}],
            "steps": [], "formats": {"p": "$1,234.5"}}  # fmt: skip
    with pytest.raises(BundleError, match="formats names 'p', which is not a date"):
        PrepPlan.from_dict(plan)


def money_frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.6, n)
    rate = rng.uniform(-5, 30, n)
    y = (income / 30_000 + rate / 10 + rng.normal(0, 0.4, n) > 2.5).astype(int)
    return pl.DataFrame({
        "income": [f"-${v:,.2f}" if k % 97 == 0 else f"${v:,.2f}" for k, v in enumerate(income)],
        "rate": [f"{v:.1f}%" for v in rate],
        "y": y,
    })  # fmt: skip


@pytest.fixture(scope="module")
def money(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("money")
    train_csv, rows_csv = root / "money.csv", root / "rows.csv"
    money_frame(800, 0).write_csv(train_csv)
    rows = money_frame(60, 5).drop("y")
    rows = rows.with_columns(  # a missing amount and a plain one (no sign, no separator)
        pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("income")).alias("income")
    ).with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("2500")).otherwise(pl.col("income"))
        .alias("income")
    )  # fmt: skip
    rows.write_csv(rows_csv)
    result = edgeml.train(train_csv, target="y", out=root / "money.edgeml", cv_folds=0,
                          num_boost_round=40)  # fmt: skip
    for backend in ("native", "treelite", "onnx"):
        export(result.bundle, format=backend)
    return result.bundle, rows_csv


def test_the_bundle_reads_them_as_numbers_and_records_the_format(money):
    bundle, _ = money
    manifest = json.loads((bundle / "manifest.json").read_text())
    schema = {c["name"]: c for c in manifest["input_schema"]}
    assert (schema["income"]["dtype"], schema["income"]["format"]) == ("float", "$1,234.5")
    assert (schema["rate"]["dtype"], schema["rate"]["format"]) == ("float", "1,234.5%")
    assert manifest["prep"]["formats"] == {"income": "$1,234.5", "rate": "1,234.5%"}
    assert {"income", "rate"} <= set(manifest["features"]["model"])


def test_every_executor_reads_the_text_the_same_way(money, tmp_path):
    bundle, rows_csv = money
    raw = pl.read_csv(rows_csv, infer_schema_length=0)  # text, as a device receives it
    expected = edgeml.load(bundle).predict(raw)
    assert expected["proba_1"].n_unique() > 10
    columns = {c: raw[c].to_list() for c in raw.columns}
    for backend in BACKENDS:
        model = edgeml.runtime.load(bundle, backend=backend)
        assert model.backend_name == backend
        batch = model.predict(columns)
        singles = [model.predict_row(row) for row in raw.rows(named=True)]
        tolerance = 1e-5 if backend == "onnx" else 1e-12  # ONNX Runtime computes in float32
        np.testing.assert_allclose(batch["proba_1"], expected["proba_1"], atol=tolerance)
        np.testing.assert_allclose([r["proba_1"] for r in singles], expected["proba_1"],
                                   atol=tolerance)  # fmt: skip
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(cli, ["predict", str(bundle), str(rows_csv), "-o", str(out)])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(pl.read_parquet(out)["proba_1"], expected["proba_1"], atol=1e-12)


def test_accounting_negatives_read_the_same_in_every_executor(tmp_path):
    # "(1,234.50)" (Excel's accounting format) left the column text: ID-like, left out
    rng = np.random.default_rng(3)
    balance = rng.normal(0, 2_000, 400)
    written = [f"(${-v:,.2f})" if v < 0 else f"${v:,.2f}" for v in balance]
    frame = pl.DataFrame({"balance": written, "y": (balance + rng.normal(0, 300, 400) > 0)})
    frame.write_csv(tmp_path / "ledger.csv")
    result = edgeml.train(tmp_path / "ledger.csv", target="y", out=tmp_path / "m.edgeml",
                          cv_folds=0, num_boost_round=30)  # fmt: skip
    manifest = json.loads((result.bundle / "manifest.json").read_text())
    assert manifest["prep"]["formats"] == {"balance": "$1,234.5"}
    export(result.bundle, format="onnx")
    rows = frame.head(40).drop("y")
    rows.write_csv(tmp_path / "rows.csv")
    expected = edgeml.load(result.bundle).predict(rows)["proba_true"]
    assert expected.n_unique() > 5
    for backend in ("onnx", "lightgbm"):
        model = edgeml.runtime.load(result.bundle, backend=backend)
        singles = [model.predict_row(row)["proba_true"] for row in rows.rows(named=True)]
        np.testing.assert_allclose(singles, expected, atol=1e-5)
    out = tmp_path / "out.csv"
    outcome = CliRunner().invoke(cli, ["predict", str(result.bundle), str(tmp_path / "rows.csv"),
                                       "-o", str(out)])  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    np.testing.assert_allclose(pl.read_csv(out)["proba_true"], expected, atol=1e-12)


def test_a_value_in_another_shape_is_a_clear_error(money, tmp_path):
    bundle, _ = money
    model = edgeml.runtime.load(bundle, backend="native")
    with pytest.raises(SchemaError, match=r"column 'income'.*expected the format \$1,234\.5"):
        model.predict_row({"income": "1.234,50 €", "rate": "5%"})
    bad = tmp_path / "bad.csv"
    pl.DataFrame({"income": ["$5", "EUR 7"], "rate": ["1%", "2%"]}).write_csv(bad)
    result = CliRunner().invoke(cli, ["predict", str(bundle), str(bad), "-o",
                                      str(tmp_path / "o.csv")])  # fmt: skip
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {bad}: column 'income' row 2 (line 3): cannot convert 'EUR 7' to float; "
        "expected the format $1,234.5\n"
    )
    assert not (tmp_path / "o.csv").exists()


def test_the_server_reads_the_format_and_refuses_another_shape(money, tmp_path):
    from fastapi.testclient import TestClient

    from edgeml.serve import ServeSettings, create_app

    bundle, _ = money
    copy = Path(shutil.copytree(bundle, tmp_path / "served.edgeml"))
    settings = ServeSettings(bundle=copy, log=tmp_path / "log.db", admin_token="t" * 32)
    row = {"income": "$12,500.00", "rate": "7.5%"}
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict", json=row)
        assert response.status_code == 200, response.text
        expected = edgeml.runtime.load(copy).predict_row(row)
        assert response.json()["proba_1"] == pytest.approx(expected["proba_1"], abs=1e-12)
        numbers = client.post("/predict", json={"income": 12500.0, "rate": 7.5})
        assert numbers.json()["proba_1"] == pytest.approx(expected["proba_1"], abs=1e-12)
        refused = client.post("/predict", json={"income": "12.500,00 €", "rate": "7.5%"})
        assert refused.status_code == 422
        assert "$1,234.5" in refused.text and "income" in refused.text


def test_retraining_reads_new_rows_with_the_format(money, tmp_path):
    bundle, _ = money
    copy = Path(shutil.copytree(bundle, tmp_path / "champion.edgeml"))
    new = tmp_path / "new.csv"
    money_frame(600, 9).write_csv(new)
    result = CliRunner().invoke(cli, ["retrain", str(copy), str(new), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"]["new"] == 600


def test_the_config_gives_a_columns_number_format(tmp_path):
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(3)
    amount = rng.integers(1, 999, 400)
    pl.DataFrame({  # "1,5" alone fits no format with a sign; as given, it is 1.5
        "amount": [f"{a // 100},{a % 100:02d}" for a in amount],
        "y": (amount > 500).astype(int),
    }).write_csv(data)  # fmt: skip
    config = tmp_path / "edgeml.toml"
    config.write_text('[data]\ndecimal_comma = false\ndate_formats = { amount = "1234,5" }\n')
    out = tmp_path / "m.edgeml"
    result = CliRunner().invoke(cli, ["train", str(data), "--target", "y", "--config",
                                      str(config), "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "m.edgeml" / "manifest.json").read_text())
    assert manifest["prep"]["formats"] == {"amount": "1234,5"}
    model = edgeml.runtime.load(tmp_path / "m.edgeml", backend="lightgbm")
    assert model.predict_row({"amount": "9,99"})["prediction"] == 1
    assert model.predict_row({"amount": "0,05"})["prediction"] == 0
