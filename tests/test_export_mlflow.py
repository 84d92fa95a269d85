"""``edgeml export --format mlflow``: a python_function model MLflow loads, predicting as edgeml."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import edgeml
from edgeml.bundle import read_manifest
from edgeml.cli import cli
from edgeml.compile import export
from edgeml.errors import ConfigError, ExportError
from tests.conftest import churn_like

mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")  # the dev extra installs mlflow-skinny


def test_mlflow_loads_the_model_and_predicts_as_edgeml(trained_bundle: Path, tmp_path: Path):
    out = tmp_path / "churn-mlflow"
    result = export(trained_bundle, format="mlflow", out=out)
    assert {"MLmodel", "requirements.txt", "python_env.yaml", "conda.yaml"} <= set(result.files)
    assert "bundle/manifest.json" in result.files
    read_manifest(out / "bundle")  # the copy verifies: every checksum as written
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert requirements[0] == f"edgeml=={edgeml.__version__}" and requirements[1].startswith(
        "numpy=="
    )

    model = mlflow_pyfunc.load_model(str(out))
    frame = churn_like(50, seed=4).drop("churn")
    rows = frame.to_pandas()
    got = model.predict(rows)
    expected = edgeml.load(trained_bundle).predict(frame)
    assert list(got["prediction"]) == expected["prediction"].to_list()
    for column in ("proba_No", "proba_Yes"):
        np.testing.assert_allclose(got[column].to_numpy(), expected[column].to_numpy(), atol=1e-9)
    # No signature (MLflow's enforcement would refuse ints for floats); the edgeml flavour
    # lists the inputs instead.
    assert model.metadata.get_input_schema() is None
    inputs = model.metadata.flavors["edgeml"]["inputs"]
    # as the runtime reads them: a column of whole numbers takes any number
    assert inputs["tenure"] == "float" and inputs["contract"] == "str"


def test_rows_as_dicts_and_missing_cells(trained_bundle: Path, tmp_path: Path):
    out = tmp_path / "m"
    export(trained_bundle, format="mlflow", out=out)
    model = mlflow_pyfunc.load_model(str(out))
    rows = churn_like(3, seed=5).drop("churn").to_pandas()
    rows.loc[0, "contract"] = None
    rows.loc[1, "tenure"] = np.nan
    got = model.predict(rows)
    assert got.shape[0] == 3 and got["proba_Yes"].between(0, 1).all()


def test_an_export_never_replaces_what_it_did_not_write(trained_bundle: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match="needs -o DIR"):
        export(trained_bundle, format="mlflow")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not an edgeml MLflow model"):
        export(trained_bundle, format="mlflow", out=mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    again = tmp_path / "again"
    export(trained_bundle, format="mlflow", out=again)
    export(trained_bundle, format="mlflow", out=again)  # an earlier export may be replaced
    assert (again / "MLmodel").is_file()


def test_cli(trained_bundle: Path, tmp_path: Path):
    out = tmp_path / "cli-mlflow"
    run = CliRunner().invoke(
        cli, ["export", str(trained_bundle), "--format", "mlflow", "-o", str(out), "--json"]
    )
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    assert payload["format"] == "mlflow" and payload["info"]["loader_module"].endswith("pyfunc")
    assert (out / "MLmodel").read_text().count("loader_module: edgeml.runtime.pyfunc") == 1
