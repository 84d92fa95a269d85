"""The HTML report: parses, embeds only decodable PNGs, has every section, needs no network."""

import base64
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from PIL import Image

import edgeml
from edgeml.cli import cli
from edgeml.config import Config
from edgeml.errors import BundleError, ConfigError, DataError
from edgeml.evaluate import report
from edgeml.util.html import MAX_ROWS, VISIBLE_ROWS, table
from edgeml.util.progress import SILENT
from tests.conftest import reseal

TASKS = ("binary", "multiclass", "regression")
ALWAYS = ("summary", "data", "data-card", "prep", "features", "metrics", "evaluation",
          "importance", "learning-curves")  # fmt: skip
LABELLED = {"binary": ("roc-pr", "confusion", "calibration"),
            "multiclass": ("roc-pr", "confusion", "calibration"),
            "regression": ("residuals",)}  # fmt: skip
PNG = b"\x89PNG\r\n\x1a\n"


def frame(task: str, n: int, seed: int) -> pl.DataFrame:
    """A small problem of ``task`` with an id column and a constant one (both dropped)."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.uniform(0, 10, n)
    colour = rng.choice(["red", "green", "blue"], n)
    score = x + 0.3 * z + np.where(colour == "red", 1.0, 0.0) + rng.normal(scale=0.5, size=n)
    if task == "regression":
        target = score * 10
    elif task == "multiclass":
        target = np.array(["low", "mid", "high"])[
            np.digitize(score, np.quantile(score, [0.4, 0.7]))
        ]
    else:
        target = np.where(score > np.median(score), "Yes", "No")
    return pl.DataFrame(
        {"row_id": [f"R{i}" for i in range(n)], "x": x, "z": z, "colour": colour,
         "constant": np.ones(n), "y": target}
    )  # fmt: skip


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Per task: a bundle trained on 300 rows, and a CSV of 120 other labelled rows."""
    root = tmp_path_factory.mktemp("report")
    config = Config.from_dict({"train": {"params": {"num_threads": 1}}})
    out = {}
    for task in TASKS:
        frame(task, 300, 0).write_csv(root / f"{task}.csv")
        frame(task, 120, 1).write_csv(root / f"{task}_new.csv")
        bundle = edgeml.train(
            root / f"{task}.csv", target="y", out=root / f"{task}.edgeml", config=config,
            reporter=SILENT,
        ).bundle  # fmt: skip
        out[task] = (Path(bundle), root / f"{task}_new.csv")
    return out


class Page(HTMLParser):
    """Collects ids, image sources, every src/href, the text, and counts open sections."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()
        self.open_sections = 0
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "img":
            self.images.append(values.get("src") or "")
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        self.open_sections += tag == "section"

    def handle_data(self, data: str) -> None:
        self.text += data

    def handle_endtag(self, tag: str) -> None:
        self.open_sections -= tag == "section"


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def decode_images(page: Page) -> list[Image.Image]:
    images = []
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), src[:40]
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png.startswith(PNG)
        image = Image.open(io.BytesIO(png))
        image.load()  # decodes every pixel: a truncated PNG raises here
        assert image.width > 100 and image.height > 100
        images.append(image)
    return images


@pytest.mark.parametrize("with_data", [True, False], ids=["with-data", "without-data"])
@pytest.mark.parametrize("task", TASKS)
def test_report_is_complete_and_self_contained(bundles, tmp_path, task, with_data):
    bundle, labelled = bundles[task]
    out = report(bundle, tmp_path / "report.html", data=labelled if with_data else None)
    assert out == tmp_path / "report.html"
    page = parse(out)
    text = out.read_text(encoding="utf-8")

    assert page.open_sections == 0
    expected = set(ALWAYS) | (set(LABELLED[task]) if with_data else {"reference-scores"})
    assert expected <= page.ids, expected - page.ids
    if not with_data:
        assert not set(LABELLED[task]) & page.ids
        assert "--data LABELLED_DATA" in text
    # importance, learning curves, contributions, reference scores or evaluation plots, and a
    # binary model's threshold and reliability curves: all decode.
    decision = {"threshold", "reliability"} if task == "binary" else set()
    assert decision | {"contributions", "reasons"} <= page.ids
    expected_images = 3 + len(decision) + (len(LABELLED[task]) if with_data else 1)
    assert len(decode_images(page)) == expected_images
    # Offline: nothing fetched, nothing run.
    assert not [link for link in page.links if link.startswith(("http://", "https://", "//"))]
    assert "script" not in page.tags and "link" not in page.tags
    # The decisions are in the text: the id column was dropped, and why.
    assert "row_id" in page.text and "looks like an identifier" in page.text
    # which rows the shipped model saw: the holdout's too, once it had scored the model
    final = edgeml.load(bundle).spec.metrics.rows.final
    assert f"refitted on all {final:,} labelled rows (training and holdout)" in page.text
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_metrics_table_shows_the_data_scores_beside_the_bundles(bundles, tmp_path):
    bundle, labelled = bundles["binary"]
    text = report(bundle, tmp_path / "r.html", data=labelled).read_text(encoding="utf-8")
    expected = edgeml.load(bundle).evaluate(labelled)["metrics"]["roc_auc"]
    assert f"on {labelled.name}" in text
    assert f"{expected:.4g}" in text


def test_one_class_in_data_gives_a_note_instead_of_roc(bundles, tmp_path):
    bundle, labelled = bundles["binary"]
    only_yes = pl.read_csv(labelled).filter(pl.col("y") == "Yes")
    out = report(bundle, tmp_path / "r.html", data=only_yes)
    page = parse(out)
    assert "roc-pr" not in page.ids and {"confusion", "calibration"} <= page.ids
    assert "need two classes" in out.read_text(encoding="utf-8")
    decode_images(page)


def test_search_and_leaderboard_sections_when_the_manifest_has_them(bundles, tmp_path):
    bundle = shutil.copytree(bundles["binary"][0], tmp_path / "searched.edgeml")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["search"] = {
        "method": "bayes",
        "trials": 12,
        "max_latency_us": 5.0,
        "best_params": {"num_leaves": 15},
        "pareto": [
            {"metric": 0.9 + i / 100, "latency_us": 2.0 + i, "size_kb": 10.0 * (i + 1),
             "params": {"num_leaves": 4 * (i + 1)}, "within_budget": i < 3}
            for i in range(5)
        ],
    }  # fmt: skip
    manifest["leaderboard"] = {"metric": "roc_auc", "shipped": "gbdt", "candidates": [
        {"family": "gbdt", "cv": {"mean": 0.91, "std": 0.02}, "latency_us": 3.0,
         "within_noise": True},
        {"family": "rf", "cv": {"mean": 0.85, "std": 0.03}, "latency_us": 9.0,
         "within_noise": False},
    ]}  # fmt: skip
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    reseal(bundle)
    out = report(bundle, tmp_path / "r.html")
    page = parse(out)
    assert {"leaderboard", "search", "pareto"} <= page.ids
    text = out.read_text(encoding="utf-8")
    assert "latency (µs)" in text and "within noise" in text and "0.91 ± 0.02" in text
    decode_images(page)


def test_long_tables_fold_and_are_capped():
    rows = [[f"feature_{i}", i] for i in range(MAX_ROWS + 40)]
    html = table(["name", "n"], rows, numeric=[1], what="features")
    assert html.count("<tr>") == MAX_ROWS + 2  # two header rows (visible and folded tables)
    assert f"Show {MAX_ROWS - VISIBLE_ROWS:,} more features" in html
    assert "40 further features are left out here" in html


def test_cells_are_escaped():
    assert "&lt;script&gt;" in table(["<script>"], [["<script>alert(1)</script>"]])


def test_bad_inputs_raise_user_errors(bundles, tmp_path):
    bundle, labelled = bundles["regression"]
    with pytest.raises(BundleError, match="not an edgeml bundle"):
        report(tmp_path / "missing.edgeml", tmp_path / "r.html")
    with pytest.raises(ConfigError, match="is a directory"):
        report(bundle, tmp_path)
    unlabelled = pl.read_csv(labelled).drop("y")
    with pytest.raises(DataError, match="target column 'y' not found"):
        report(bundle, tmp_path / "r.html", data=unlabelled)
    assert not (tmp_path / "r.html").exists()


def test_cli_writes_the_report(bundles, tmp_path):
    bundle, labelled = bundles["multiclass"]
    out = tmp_path / "sub" / "report.html"
    result = CliRunner().invoke(cli, ["report", str(bundle), "-o", str(out), "--data", labelled])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {out}"
    assert "confusion" in parse(out).ids


def test_cli_bad_bundle_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "nope"), "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "not an edgeml bundle" in result.stderr


def test_data_without_the_id_columns_is_enough(bundles, tmp_path):
    # Predictions carry the id columns; the plots do not need them, so neither does the report.
    bundle = shutil.copytree(bundles["regression"][0], tmp_path / "ids.edgeml")
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps({**manifest, "id_cols": ["row_id"]}))
    reseal(bundle)
    data = pl.read_csv(bundles["regression"][1]).drop("row_id")
    assert "residuals" in parse(report(bundle, tmp_path / "r.html", data=data)).ids
