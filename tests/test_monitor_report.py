"""The monitoring report: parses, embeds only decodable PNGs, has its sections, needs no network."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

import pytest

from edgeml.errors import ConfigError
from edgeml.monitor import _plots as _monitor_plots
from edgeml.monitor import connect_log
from edgeml.monitor._report import TOP_FEATURES, write_monitor_report
from edgeml.monitor._summary import monitor_summary
from tests.test_monitor import build_telco, shutil_copy
from tests.test_report import decode_images, parse

SECTIONS = {"summary", "alerts", "traffic", "drift", "prediction", "accuracy"}
FIGURES = {"latency", "psi-over-time", "prediction-distribution", "accuracy-over-time"}


@pytest.fixture(scope="module")
def telco(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_telco(tmp_path_factory)


def offline(page: Any) -> bool:
    return not [link for link in page.links if link.startswith(("http://", "https://", "//"))]


@pytest.mark.parametrize("log", ["ok", "drift"])
def test_report_is_complete_and_self_contained(telco, tmp_path, log):
    out = write_monitor_report(telco["bundle"], tmp_path / "monitor.html", log=telco[log])
    assert out == tmp_path / "monitor.html"
    page = parse(out)
    assert page.open_sections == 0
    assert page.ids >= SECTIONS | FIGURES, (SECTIONS | FIGURES) - page.ids
    assert len(decode_images(page)) == len(FIGURES)
    assert offline(page) and "script" not in page.tags and "link" not in page.tags
    text = out.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    # Every feature is in the drift table; the alerts are listed.
    assert "tenure" in page.text and "payment_method" in page.text
    if log == "drift":
        assert "feature 'tenure': PSI" in page.text and "alert" in page.text
    else:
        assert "No alerts" in page.text
    # Written atomically: no temporary file is left beside it.
    assert [p.name for p in tmp_path.iterdir()] == ["monitor.html"]


def test_drift_plot_shows_the_top_features_only(telco, tmp_path, monkeypatch):
    seen: dict[str, Any] = {}
    original = _monitor_plots.psi_over_time

    def spy(times: Any, psi: Any, *args: Any) -> bytes:
        seen["psi"] = psi
        return original(times, psi, *args)

    monkeypatch.setattr(_monitor_plots, "psi_over_time", spy)
    summary = monitor_summary(telco["bundle"], log=telco["drift"])
    assert len(summary.features) > TOP_FEATURES
    write_monitor_report(summary, tmp_path / "m.html")
    assert list(seen["psi"]) == [d.name for d in summary.top_features(TOP_FEATURES)]
    assert list(seen["psi"])[:2] == ["tenure", "monthly_charges"]


def test_an_empty_log_gives_a_report_with_notes(telco, tmp_path):
    connect_log(tmp_path / "empty.db").close()
    out = write_monitor_report(telco["bundle"], tmp_path / "m.html", log=tmp_path / "empty.db")
    page = parse(out)
    assert page.ids >= SECTIONS and page.images == []
    assert "holds no predictions yet" in page.text and "No logged row has a label" in page.text


def test_report_without_labels(telco, tmp_path):
    log = tmp_path / "unlabelled.db"
    shutil_copy(telco["ok"], log)
    connection = sqlite3.connect(log)
    with connection:
        connection.execute("UPDATE predictions SET label = NULL")
    connection.close()
    page = parse(write_monitor_report(telco["bundle"], tmp_path / "m.html", log=log))
    assert "accuracy-over-time" not in page.ids and "POST /feedback" in page.text
    assert len(decode_images(page)) == len(FIGURES) - 1


def test_out_path_that_is_a_directory(telco, tmp_path):
    with pytest.raises(ConfigError, match="directory"):
        write_monitor_report(telco["bundle"], tmp_path, log=telco["ok"])


def test_names_are_escaped(telco, tmp_path):
    summary = monitor_summary(telco["bundle"], log=telco["ok"])
    odd = dataclasses.replace(summary, target="<script>x</script>", alerts=["<b>bad</b>"])
    text = write_monitor_report(odd, tmp_path / "m.html").read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;b&gt;bad&lt;/b&gt;" in text
