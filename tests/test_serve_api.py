"""The HTTP API in process (Starlette's TestClient): bodies, errors, feedback, schema, metrics.

The same app runs under uvicorn in tests/test_serve_live.py; here every answer is checked exactly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import edgeml.runtime
from edgeml.serve import ServeSettings, create_app
from tests.serving import TOKEN, bundle_copy, record


@pytest.fixture(scope="module")
def bundle(trained_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundle_copy(trained_bundle, tmp_path_factory.mktemp("serve") / "churn.edgeml")


@pytest.fixture
def client(bundle: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = ServeSettings(
        bundle=bundle, log=tmp_path / "log.db", admin_token=TOKEN, max_body_bytes=64 * 1024
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def logged(client: TestClient) -> list[tuple]:
    client.app.state.log.flush()  # type: ignore[attr-defined]
    path = client.app.state.log.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT request_id, row, batch_size, inputs, outputs, score, label FROM predictions"
        ).fetchall()


def test_one_record_equals_the_runtime_and_is_logged(client: TestClient, bundle: Path) -> None:
    response = client.post("/predict", json=record(), headers={"x-request-id": "req-1"})
    assert response.status_code == 200
    body = response.json()
    expected = edgeml.runtime.load(bundle).predict_row(record())
    assert body == {"request_id": "req-1", "model_version": body["model_version"], **expected}
    assert body["model_version"].startswith("churn.edgeml@")
    assert response.headers["x-request-id"] == "req-1"
    [row] = logged(client)
    assert row[:3] == ("req-1", 0, 1)
    assert json.loads(row[3]) == record()
    assert json.loads(row[4]) == expected
    assert row[5] == pytest.approx(expected["proba_Yes"])


def test_a_list_of_records_and_a_columnar_batch_agree(client: TestClient, bundle: Path) -> None:
    rows = [record(tenure=t, contract=c) for t, c in [(1, "month"), (40, "year"), (70, None)]] * 5
    many = client.post("/predict", json=rows).json()["predictions"]
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    batch = client.post("/predict/batch", json={"columns": columns}).json()
    expected = edgeml.runtime.load(bundle).predict(columns)
    assert batch["rows"] == 15
    assert batch["prediction"] == [m["prediction"] for m in many] == expected["prediction"].tolist()
    np.testing.assert_array_equal(batch["proba_Yes"], expected["proba_Yes"])
    assert [m["proba_Yes"] for m in many] == batch["proba_Yes"]
    assert len(logged(client)) == 30


def test_csv_and_arrow_batches(client: TestClient) -> None:
    csv = (
        "tenure,monthly_charges,total_charges,contract,paperless\n"
        "12,70.5,846,month,true\n3,20,,year,false\n"
    )
    by_csv = client.post("/predict/batch", content=csv, headers={"content-type": "text/csv"})
    assert by_csv.status_code == 200, by_csv.text
    columns = {
        "tenure": [12, 3],
        "monthly_charges": [70.5, 20.0],
        "total_charges": [846.0, None],
        "contract": ["month", "year"],
        "paperless": [True, False],
    }
    by_json = client.post("/predict/batch", json={"columns": columns}).json()
    assert by_csv.json()["proba_Yes"] == by_json["proba_Yes"]
    pa = pytest.importorskip("pyarrow")
    sink = pa.BufferOutputStream()
    table = pa.table(columns)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    by_arrow = client.post(
        "/predict/batch",
        content=sink.getvalue().to_pybytes(),
        headers={"content-type": "application/vnd.apache.arrow.stream"},
    )
    assert by_arrow.json()["proba_Yes"] == by_json["proba_Yes"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "body: not valid JSON"),
        (
            json.dumps(record(tenure="many")).encode(),
            422,
            "tenure: Value error, cannot convert 'many' to float",
        ),
        (json.dumps(record(tenure="1,5")).encode(), 422, "tenure: Value error, cannot convert"),
        (
            json.dumps({k: v for k, v in record().items() if k != "tenure"}).encode(),
            422,
            "tenure: Field required",
        ),
        (b'{"tenure": 12, "monthly_charges": NaN}', 422, "body: NaN is not JSON"),
        (b'{"tenure": 12, "monthly_charges": Infinity}', 422, "body: Infinity is not JSON"),
        (json.dumps(record(monthly_charges=1e400)).encode(), 422, "body: Infinity is not JSON"),
        (
            json.dumps(record(contract=[1])).encode(),
            422,
            "contract: Input should be a valid string",
        ),
        (b"[]", 422, "empty batch: send at least one record"),
        (b'"text"', 422, "body: expected a JSON object"),
        (
            json.dumps([record(), record(paperless="maybe")]).encode(),
            422,
            "1.paperless: Value error, cannot convert 'maybe' to bool",
        ),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_field(
    client: TestClient, body: bytes, status: int, error: str
) -> None:
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.json()["error"].startswith(error), response.json()
    assert client.post("/predict", json=record()).status_code == 200  # still serving
    assert len(logged(client)) == 1  # refused requests are not logged


@pytest.mark.parametrize(
    ("columns", "error"),
    [
        ({"tenure": [1]}, "missing column(s): 'monthly_charges'"),
        ({**{k: [v] for k, v in record().items()}, "tenure": [1, 2]}, "columns differ in length"),
        ({k: [] for k in record()}, "empty batch"),
        (
            {**{k: [v] for k, v in record().items()}, "tenure": ["many"]},
            "column 'tenure' row 1: cannot convert 'many' to float",
        ),
    ],
)
def test_bad_batches(client: TestClient, columns: dict, error: str) -> None:
    response = client.post("/predict/batch", json={"columns": columns})
    assert response.status_code == 422
    assert response.json()["error"].startswith(error), response.json()


def test_unsupported_content_type_and_huge_body(client: TestClient) -> None:
    response = client.post("/predict/batch", content=b"x", headers={"content-type": "image/png"})
    assert response.status_code == 415
    huge = json.dumps([record()] * 2000).encode()  # ~200 KB over the 64 KB limit
    response = client.post("/predict", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "request body over 65536 bytes; send smaller batches"
    assert client.post("/predict", json=record()).status_code == 200


def test_unknown_categories_are_missing_by_default_or_refused(bundle: Path, tmp_path: Path) -> None:
    settings = ServeSettings(bundle=bundle, log=tmp_path / "log.db")
    with TestClient(create_app(settings)) as client:
        unknown = client.post("/predict", json=record(contract="lifetime")).json()
        missing = client.post("/predict", json=record(contract=None)).json()
    assert unknown["proba_Yes"] == missing["proba_Yes"]
    strict = ServeSettings(bundle=bundle, log=tmp_path / "strict.db", unknown_categories="reject")
    with TestClient(create_app(strict)) as client:
        response = client.post("/predict", json=record(contract="lifetime"))
        assert response.status_code == 422
        assert response.json()["error"].startswith(
            "contract: Input should be 'month', 'year' or 'two_year'"
        )
        columns = {**{k: [v] for k, v in record().items()}, "contract": ["lifetime"]}
        response = client.post("/predict/batch", json={"columns": columns})
        assert response.status_code == 422
        assert response.json()["error"].startswith(
            "column 'contract' row 1: unknown category 'lifetime'"
        )


def test_feedback_attaches_labels_and_live_metrics_appear(client: TestClient) -> None:
    for i in range(40):
        client.post("/predict", json=record(tenure=i), headers={"x-request-id": f"r{i}"})
    labels = [{"request_id": f"r{i}", "label": "Yes" if i < 20 else "No"} for i in range(40)]
    response = client.post("/feedback", json=[*labels, {"request_id": "nope", "label": "No"}])
    assert response.json() == {"updated": 40, "unknown": [{"request_id": "nope", "row": 0}]}
    bad = client.post("/feedback", json={"request_id": "r1", "label": "Maybe"})
    assert bad.status_code == 422
    assert (
        bad.json()["error"] == "feedback 0: label 'Maybe' is not a class; expected one of: No, Yes"
    )
    assert sorted({row[6] for row in logged(client)}) == ['"No"', '"Yes"']
    metrics = client.get("/metrics").text
    assert "edgeml_labelled_rows 40.0" in metrics
    assert 'edgeml_live_metric{metric="roc_auc"}' in metrics


def test_metrics_report_traffic_log_and_drift(client: TestClient) -> None:
    for i in range(50):
        client.post("/predict", json=record(tenure=i % 70))
    client.post("/predict", content=b"{", headers={"content-type": "application/json"})
    client.app.state.log.flush()  # type: ignore[attr-defined]  # drift reads the logged window
    text = client.get("/metrics").text
    assert 'edgeml_requests_total{endpoint="/predict",status="200"} 50.0' in text
    assert 'edgeml_requests_total{endpoint="/predict",status="400"} 1.0' in text
    assert "edgeml_predictions_total{model_version=" in text
    assert 'edgeml_feature_psi{feature="tenure"}' in text
    assert "edgeml_prediction_psi " in text
    assert "edgeml_window_rows 50.0" in text
    assert "edgeml_log_rows_dropped 0.0" in text


def _gauge(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[-1])


def test_three_rows_drift_nothing_in_metrics(client: TestClient) -> None:
    for _ in range(3):  # far outside training, an unseen category, every flag the same
        client.post("/predict", json=record(tenure=500, contract="lifetime", paperless="no"))
    client.app.state.log.flush()  # type: ignore[attr-defined]
    text = client.get("/metrics").text
    assert _gauge(text, "edgeml_window_rows") == 3.0
    assert _gauge(text, "edgeml_features_drifted") == 0.0
    assert 'edgeml_unseen_categories_total{column="contract"} 3.0' in text


def test_a_flag_that_drifted_shows_in_metrics(client: TestClient) -> None:
    rows = [record(tenure=i % 70, paperless="Yes") for i in range(250)]  # training: ~half
    assert client.post("/predict", json=rows).status_code == 200
    client.app.state.log.flush()  # type: ignore[attr-defined]
    text = client.get("/metrics").text
    assert _gauge(text, 'edgeml_feature_psi{feature="paperless"}') > 1.0
    assert _gauge(text, "edgeml_features_drifted") >= 1.0


def test_schema_health_ready_and_openapi(client: TestClient) -> None:
    schema = client.get("/schema").json()
    assert [c["name"] for c in schema["inputs"]] == list(record())
    assert schema["task"] == "binary" and schema["classes"] == ["No", "Yes"]
    assert schema["outputs"] == ["prediction", "proba_No", "proba_Yes"]
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["checks"]["reference_rows"]["passed"]
    document = client.get("/openapi.json").json()
    record_schema = document["components"]["schemas"]["Record"]
    assert record_schema["required"] == list(record())
    assert "additionalProperties" not in record_schema  # other keys are ignored (and counted)
    contract = record_schema["properties"]["contract"]
    assert contract["anyOf"][0] == {"type": "string"}  # unseen categories are missing
    assert contract["description"].endswith("one of: month, year, two_year")


def test_admin_reload_needs_the_token(client: TestClient) -> None:
    assert client.post("/admin/reload").status_code == 401
    wrong = client.post("/admin/reload", headers={"authorization": "Bearer " + "x" * 26})
    assert wrong.status_code == 401
    ok = client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["model_version"] == ok.json()["previous"]


def test_admin_is_off_without_a_token(bundle: Path, tmp_path: Path) -> None:
    with TestClient(create_app(ServeSettings(bundle=bundle, log=tmp_path / "l.db"))) as client:
        response = client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403


def test_a_corrupted_bundle_is_refused_on_reload(bundle: Path, tmp_path: Path) -> None:
    live = bundle_copy(bundle, tmp_path / "live.edgeml")
    settings = ServeSettings(bundle=live, log=tmp_path / "log.db", admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        before = client.post("/predict", json=record()).json()
        (live / "model.txt").write_text((live / "model.txt").read_text().replace("0.", "9.", 50))
        response = client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 409
        assert "reload refused" in response.json()["error"]
        assert "still serving" in response.json()["error"]
        after = client.post("/predict", json=record()).json()
    assert after["proba_Yes"] == before["proba_Yes"]
    assert after["model_version"] == before["model_version"]


def test_settings_are_checked() -> None:
    from edgeml.errors import ServeError

    with pytest.raises(ServeError, match="either a BUNDLE or --registry"):
        ServeSettings()
    with pytest.raises(ServeError, match="at least 16 characters"):
        ServeSettings(bundle=Path("x"), admin_token="short")


def test_no_endpoint_takes_a_path_or_a_parameter(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        assert "{" not in path
        for operation in operations.values():
            assert not operation.get("parameters"), (path, operation["parameters"])
    # A reload body naming another bundle is ignored: the server reloads what it was started on.
    headers = {"authorization": f"Bearer {TOKEN}"}
    answer = client.post("/admin/reload", json={"bundle": "/etc"}, headers=headers).json()
    assert answer["model_version"] == answer["previous"]


@pytest.mark.parametrize("depth", [100, 900, 2_000, 20_000])
@pytest.mark.parametrize(
    ("path", "wrap"),
    [
        ("/predict", lambda nested: nested),
        ("/predict", lambda nested: b'{"tenure": ' + nested + b"}"),
        ("/predict/batch", lambda nested: b'{"columns": {"tenure": ' + nested + b"}}"),
        ("/feedback", lambda nested: b'{"request_id": "r", "row": 0, "label": ' + nested + b"}"),
    ],
)
def test_deeply_nested_json_is_a_4xx(client: TestClient, path: str, wrap, depth: int) -> None:
    nested = b"[" * depth + b"1" + b"]" * depth
    response = client.post(path, content=wrap(nested), headers={"content-type": "application/json"})
    if depth < 1000:  # parsed, then refused by the schema: a list is no value of a record
        assert response.status_code == 422, response.text
    else:  # the parser's own cap, a RecursionError (and a 500) before
        assert response.status_code == 400, response.text
        assert "nested deeper than" in response.json()["error"]
    assert client.post("/predict", json=record()).status_code == 200


def reloads(client: TestClient, result: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'edgeml_reloads_total{{result="{result}"}}'):
            return float(line.split()[-1])
    return 0.0


#: Edits that made loading raise TypeError, KeyError or AttributeError (500, not counted).
MANIFEST_EDITS = [
    (("target",), 5),
    (("target", "classes"), 5),
    (("task",), None),
    (("input_schema",), 5),
    (("input_schema", 0), {}),
    (("prep", "steps"), "x"),
    (("features",), 5),
    (("features", "model"), 5),
    (("model", "file"), 5),
    (("backends",), 5),
    (("backends",), "x"),
]


def edit_manifest(bundle: Path, path: tuple, value: object) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    parent = manifest
    for key in path[:-1]:
        parent = parent[key]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("path", "value"), MANIFEST_EDITS)
def test_a_structurally_wrong_manifest_is_refused_on_reload(
    bundle: Path, tmp_path: Path, path: tuple, value: object
) -> None:
    live = bundle_copy(bundle, tmp_path / "live.edgeml")
    settings = ServeSettings(bundle=live, log=tmp_path / "log.db", admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        before = client.post("/predict", json=record()).json()
        edit_manifest(live, path, value)
        response = client.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 409, response.text
        assert "reload refused" in response.json()["error"]
        assert reloads(client, "refused") == 1
        after = client.post("/predict", json=record()).json()
    assert after["proba_Yes"] == before["proba_Yes"]
    assert after["model_version"] == before["model_version"]


@pytest.mark.parametrize(("path", "value"), MANIFEST_EDITS[:4])
def test_a_structurally_wrong_manifest_is_refused_at_start(
    bundle: Path, tmp_path: Path, path: tuple, value: object
) -> None:
    from edgeml.errors import BundleError

    live = bundle_copy(bundle, tmp_path / "live.edgeml")
    edit_manifest(live, path, value)
    with pytest.raises(BundleError, match="live.edgeml"):
        create_app(ServeSettings(bundle=live, log=tmp_path / "log.db"))


@pytest.mark.parametrize("tenure", [2**63 - 2, 2**63 - 1, -(2**63)])
def test_an_int_column_takes_every_int64_its_schema_allows(client: TestClient, tenure: int) -> None:
    """Found by the OpenAPI fuzz: 2**63 - 2 passed the schema's bound but went through a float
    on its way in, rounded to 2**63 and was refused with a 422."""
    response = client.post("/predict", json={**record(), "tenure": tenure})
    assert response.status_code == 200, response.text
