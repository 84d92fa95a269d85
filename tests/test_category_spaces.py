"""Text that differs only by the whitespace around it (``"Male "``, ``"Male"``) is one category
for every executor: training's reading, ``edgeml predict`` (Polars), the runtime row by row and
in batches, the ONNX feed (tests/test_contract.py runs the server and the C package too)."""

import numpy as np
import polars as pl

import edgeml
import edgeml.runtime
from edgeml.data import conform, infer_types
from edgeml.runtime.contract import convert_value


def test_training_reads_padded_text_as_one_category(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    sex = rng.choice(["Male", "Male ", " Male", "Female", "Female\t", "\u00a0Female"], n)
    x = rng.normal(size=n)
    y = x + np.where(np.char.strip(sex.astype(str)) == "Male", 2.0, 0.0)
    frame = pl.DataFrame({"sex": sex, "x": x, "y": y})
    result = edgeml.train(frame, target="y", out=tmp_path / "m.edgeml", cv_folds=2)
    column = next(c for c in result.manifest["input_schema"] if c["name"] == "sex")
    assert column["categories"] == ["Female", "Male"], column

    rows = [{"sex": s, "x": 0.5} for s in ("Male", " Male ", "Male\u3000", "Female", "Female ")]
    model = edgeml.runtime.load(result.bundle)
    one_by_one = [model.predict_row(r)["prediction"] for r in rows]
    assert one_by_one[0] == one_by_one[1] == one_by_one[2] != one_by_one[3] == one_by_one[4]
    batch = pl.DataFrame(rows)
    assert model.predict(batch.to_dict(as_series=False))["prediction"].tolist() == one_by_one
    polars = edgeml.load(result.bundle).predict(batch)["prediction"].to_list()
    np.testing.assert_allclose(polars, one_by_one, rtol=1e-12)


def test_every_reader_strips_text_the_same_way():
    padded = [" a", "a ", "\ta\u00a0", "a\u2003", "a"]
    assert infer_types(pl.DataFrame({"c": padded}))["c"].to_list() == ["a"] * 5
    assert conform(pl.DataFrame({"c": padded}), {"c": "str"}, source="t")["c"].to_list() == (
        ["a"] * 5
    )
    as_category = pl.Series("c", padded, dtype=pl.Categorical).to_frame()
    assert conform(as_category, {"c": "str"}, source="t")["c"].to_list() == ["a"] * 5
    assert [convert_value(v, "str") for v in padded] == ["a"] * 5
    # the words for a missing value are categories in a text column, only stripped
    assert convert_value(" - ", "str") == "-"
