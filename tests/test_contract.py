"""The input contract (edgeml.runtime.contract), one table of cases over all four executors:
``edgeml predict`` (the CLI, Polars), ``edgeml.runtime.load(...).predict_row``/``predict``, the
server (its app in process) and the exported C package (numbers only: the runtime's conversion
feeds it, and its output must be the runtime's).

Every accepted case must give the same probability everywhere; every refused one must be refused
everywhere, naming the column.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import edgeml.runtime
from edgeml.cli import cli
from edgeml.data import conform
from edgeml.data._schema import _BOOL_WORDS
from edgeml.errors import SchemaError
from edgeml.runtime.contract import BOOL_WORDS, convert_columns, convert_record, convert_value
from edgeml.serve import ServeSettings, create_app
from tests.serving import record

README = Path(__file__).resolve().parents[1] / "README.md"

# (name, record as a client sends it); "same_as" cases must predict as that other record does.
ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("json types", record()),
    ("bool no", record(paperless="no")),
    ("bool Yes", record(paperless="Yes")),
    ("bool ON padded", record(paperless=" ON ")),
    ("bool off", record(paperless="off")),
    ("bool t", record(paperless="t")),
    ("bool F", record(paperless="F")),
    ("bool 0 text", record(paperless="0")),
    ("bool 1 number", record(paperless=1)),
    ("bool y", record(paperless="y")),
    ("int text", record(tenure="12")),
    ("int padded", record(tenure=" 40 ")),
    ("int exponent", record(tenure="1e1")),
    ("int whole float", record(tenure=12.0)),
    # a model reads a column of whole numbers as float: a decimal its training rows happened
    # not to hold is a number to predict on
    ("int column given a fraction", record(tenure=12.5)),
    ("int column given fraction text", record(tenure=" 12.5")),
    ("float padded", record(monthly_charges=" 70.5 ")),
    ("float exponent", record(monthly_charges="7.05e1", total_charges="8.46E2")),
    ("missing empty", record(total_charges="")),
    ("missing blank", record(total_charges="   ")),
    ("missing nan text", record(total_charges="nan")),
    ("missing null", record(total_charges=None, contract=None, paperless=None)),
    ("missing question mark", record(total_charges="?")),
    ("missing N/A padded", record(total_charges=" N/A ")),
    ("missing Excel #N/A", record(total_charges="#N/A")),
    ("int missing", record(tenure=None)),
    ("int missing dash", record(tenure="-")),
    ("bool missing", record(paperless=None)),
    ("bool missing NULL", record(paperless="NULL")),
    ("unseen category", record(contract="lifetime")),
    ("category padded", record(contract=" month\u00a0")),
    ("category missing", record(contract=None)),
    ("target and extras", {**record(), "churn": "Yes", "note": "vip customer"}),
]
# The same prediction as another case: what the contract says the value means.
SAME_AS = {
    "bool no": "bool F",
    "bool Yes": "json types",
    "bool ON padded": "json types",
    "bool 0 text": "bool off",
    "bool 1 number": "json types",
    "int text": "json types",
    "int whole float": "json types",
    "int column given fraction text": "int column given a fraction",
    "float padded": "json types",
    "float exponent": "json types",
    "missing blank": "missing empty",
    "missing nan text": "missing empty",
    "missing question mark": "missing empty",
    "missing N/A padded": "missing empty",
    "missing Excel #N/A": "missing empty",
    "int missing dash": "int missing",
    "bool missing NULL": "bool missing",
    "unseen category": "category missing",
    "category padded": "json types",
    "target and extras": "json types",
}
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("thousands separator", record(tenure="1,234"), "tenure"),
    ("decimal comma", record(monthly_charges="70,5"), "monthly_charges"),
    ("not a bool word", record(paperless="maybe"), "paperless"),
    ("missing column", {k: v for k, v in record().items() if k != "monthly_charges"},
     "monthly_charges"),
]  # fmt: skip


@pytest.fixture(scope="module")
def bundle(trained_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("contract") / "churn.edgeml"
    shutil.copytree(trained_bundle, target)
    return target


@pytest.fixture(scope="module")
def runtime_p(bundle: Path) -> dict[str, float]:
    """The runtime's probability per accepted case, one row at a time: the reference."""
    model = edgeml.runtime.load(bundle)
    return {name: model.predict_row(row)["proba_Yes"] for name, row in ACCEPTED}


@pytest.fixture
def client(bundle: Path, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ServeSettings(bundle=bundle, log=tmp_path / "log.db"))) as client:
        yield client


def test_the_cases_mean_what_the_contract_says(bundle, runtime_p):
    prep = edgeml.runtime.load_prep(bundle)
    features = {name: prep.transform_row(row) for name, row in ACCEPTED}
    for name, other in SAME_AS.items():
        assert runtime_p[name] == runtime_p[other], name
        np.testing.assert_array_equal(features[name], features[other], err_msg=name)
    assert features["bool no"][-1] == 0.0 and features["json types"][-1] == 1.0
    assert np.isnan(features["missing empty"]).sum() == 1
    assert len(set(runtime_p.values())) > 3


def test_the_bool_words_are_one_list():
    assert {k: float(v) for k, v in _BOOL_WORDS.items()} == BOOL_WORDS
    assert {"yes", "no", "true", "false", "y", "n", "1", "0", "t", "f", "on", "off"} == set(
        BOOL_WORDS
    )
    words = [w.upper() if i % 2 else f" {w} " for i, w in enumerate(BOOL_WORDS)]
    polars = conform(pl.DataFrame({"b": words}), {"b": "bool"}, source="t")["b"].to_list()
    assert [float(v) for v in polars] == [convert_value(w, "bool") for w in words]


def test_runtime_rows_and_batches(bundle, runtime_p):
    model = edgeml.runtime.load(bundle)
    rows = [row for _, row in ACCEPTED]
    keys = list(model.input_schema)
    batch = model.predict({k: [row[k] for row in rows] for k in keys})["proba_Yes"]
    np.testing.assert_array_equal(batch, [runtime_p[name] for name, _ in ACCEPTED])
    for _name, row, column in REFUSED:
        with pytest.raises(SchemaError, match=repr(column)):
            model.predict_row(row)
        with pytest.raises(SchemaError, match=repr(column)):
            convert_record(row, model.input_schema)


def test_the_server_accepts_what_the_runtime_accepts(client, runtime_p):
    for name, row in ACCEPTED:
        response = client.post("/predict", json=row)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["proba_Yes"] == runtime_p[name], name
    rows = [row for _, row in ACCEPTED]
    columns = {k: [row.get(k) for row in rows] for k in {k for row in rows for k in row}}
    batch = client.post("/predict/batch", json={"columns": columns})  # target column included
    assert batch.status_code == 200, batch.text
    assert batch.json()["proba_Yes"] == [runtime_p[name] for name, _ in ACCEPTED]
    for name, row, column in REFUSED:
        response = client.post("/predict", json=row)
        assert response.status_code == 422, name
        assert response.json()["error"].startswith(column), (name, response.json())
        one = client.post("/predict/batch", json={"columns": {k: [v] for k, v in row.items()}})
        assert one.status_code == 422 and column in one.json()["error"], (name, one.json())
    metrics = client.get("/metrics").text
    n = len(ACCEPTED)
    # ignored: the one record with them, then every row of the batch
    assert f'edgeml_ignored_columns_total{{column="churn"}} {1.0 + n}' in metrics
    assert f'edgeml_ignored_columns_total{{column="note"}} {1.0 + n}' in metrics
    assert 'edgeml_unseen_categories_total{column="contract"} 2.0' in metrics  # record + batch


def test_the_cli_accepts_what_the_runtime_accepts(bundle, runtime_p, tmp_path):
    data = tmp_path / "rows.csv"
    names = ["customer_id", *record(), "churn", "note"]
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(names)
        for i, (_, row) in enumerate(ACCEPTED):
            writer.writerow([f"C{i}", *(_cell(row.get(k)) for k in names[1:])])
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["predict", str(bundle), str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    got = pl.read_csv(out)["proba_Yes"].to_list()
    for (name, _), p in zip(ACCEPTED, got, strict=True):
        assert p == pytest.approx(runtime_p[name], abs=1e-12), name
    for name, row, column in REFUSED:
        bad = tmp_path / "bad.csv"
        pl.DataFrame({"customer_id": ["C"], **{k: [_cell(v)] for k, v in row.items()}}).write_csv(
            bad
        )
        result = CliRunner().invoke(cli, ["predict", str(bundle), str(bad), "-o", str(out)])
        assert result.exit_code == 2, (name, result.output)
        assert repr(column) in result.output and result.output.count("\n") == 1, result.output


def test_c_gets_the_runtimes_numbers_and_gives_its_output(bundle, runtime_p, tmp_path):
    import dataclasses

    from edgeml.compile import _cpackage, export
    from edgeml.compile._craw import raw_inputs
    from edgeml.errors import ToolchainError
    from edgeml.spec.prep_plan import PrepPlan

    device = tmp_path / "device.edgeml"
    shutil.copytree(bundle, device)
    try:
        export(device, format="c", target="host", out=tmp_path / "pkg")
    except ToolchainError as exc:  # pragma: no cover - the CI image has a compiler
        pytest.skip(str(exc))
    plan = PrepPlan.from_dict(json.loads((device / "manifest.json").read_text())["prep"])
    inputs = raw_inputs(plan)
    rows = [row for _, row in ACCEPTED]
    model = edgeml.runtime.load(device, backend="lightgbm")
    categories = {s.name: list(s.categories) for s in inputs if s.kind == "category"}
    converted, tally = convert_columns(
        {k: [row.get(k) for row in rows] for k in {k for r in rows for k in r}},
        model.input_schema,
        categories=categories,
    )
    n = len(rows)  # a batch column is ignored for each of its rows
    assert tally.unseen == {"contract": 1} and tally.ignored == {"churn": n, "note": n}
    raw = np.full((len(rows), len(inputs)), np.nan)
    for j, spec in enumerate(inputs):
        values = converted[spec.name]
        if spec.kind == "category":  # the header's codes: index in the vocabulary
            raw[:, j] = [math.nan if v is None else spec.categories.index(v) for v in values]
        else:
            raw[:, j] = values
    # the package's own example program, built as a user builds it
    subprocess.run(["make", "-s", "-C", str(tmp_path / "pkg"), "CC=cc"], check=True,
                   capture_output=True)  # fmt: skip
    tools = dataclasses.replace(_cpackage.find_tools("host"), runner=[])
    c_out = _cpackage.run_example(tmp_path / "pkg", tools, raw).reshape(-1)
    expected = [runtime_p[name] for name, _ in ACCEPTED]
    np.testing.assert_allclose(c_out, expected, rtol=0, atol=1e-6)
    # the contract's numbers are the runtime's own: the same prediction from them
    again = model.predict(converted)["proba_Yes"]
    np.testing.assert_allclose(again, expected, rtol=0, atol=1e-12)


def test_the_readme_curl_example_gets_200(client):
    text = README.read_text(encoding="utf-8")
    match = re.search(r"curl -s localhost:8000/predict .*?-d '(\{.*?\})'", text, re.DOTALL)
    assert match, "the README's /predict example"
    body = json.loads(match.group(1))
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    assert set(response.json()) >= {"prediction", "proba_Yes", "request_id", "model_version"}


def _cell(value: Any) -> str:
    """A value as a CSV file holds it: text, empty for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
