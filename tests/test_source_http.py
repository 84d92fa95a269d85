"""HTTP API sources against a real server on loopback (tests/http_api.py): every paging style,
formats, auth from the environment, retries honouring Retry-After, the data card, and every bad
input as one exit-2 line naming the URL without its secret, with nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from edgeml.batch import scan
from edgeml.cli import cli
from edgeml.config import DataConfig
from edgeml.data import read_data
from edgeml.errors import SchemaError, SourceError
from tests import http_api
from tests.http_api import PAGE, TOKEN, TOTAL


@pytest.fixture(scope="module")
def api() -> Iterator[http_api.ApiServer]:
    server = http_api.start()
    yield server
    server.shutdown()
    server.server_close()


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def config_file(tmp_path: Path, **data: object) -> Path:
    lines = ["[data]", *(f"{k} = {json.dumps(v)}" for k, v in data.items())]
    path = tmp_path / "edgeml.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------- paging


@pytest.mark.parametrize(
    ("path", "config"),
    [
        ("/next", DataConfig()),  # a "next" URL in the body, absolute then relative
        ("/link", DataConfig()),  # Link: <…>; rel="next"
        ("/cursor", DataConfig(cursor_field="meta.cursor", cursor_param="after")),
        ("/offset", DataConfig(offset_param="offset", limit_param="limit", page_size=PAGE)),
        ("/pages", DataConfig(page_param="page")),
    ],
)
def test_every_paging_style_reads_every_row_once_in_order(api, path, config):
    ds = read_data(api.url(path), config=config, keep_raw=["failed"])
    assert ds.frame["id"].to_list() == list(range(1, TOTAL + 1))
    # nested objects are flattened; types inferred as for files
    assert ds.card.schema["sensor.temp"] == "float"
    assert ds.card.schema["updated_at"] == "datetime"
    (source,) = ds.card.sources
    assert source["kind"] == "http" and source["uri"] == api.url(path)
    assert source["rows"] == TOTAL and len(source["sha256"]) == 64
    pages = {"/pages": 5, "/offset": 4}.get(path, 4)  # page numbers stop at an empty page
    assert source["pages"] == pages


def test_the_same_rows_hash_the_same_whatever_the_paging(api, monkeypatch):
    monkeypatch.setenv("EDGEML_TEST_TOKEN", TOKEN)
    by_link = read_data(api.url("/link")).card.sources[0]
    by_offset = read_data(api.url("/offset"), config=DataConfig(
        offset_param="offset", limit_param="limit", page_size=7)).card.sources[0]  # fmt: skip
    assert by_offset["pages"] == 6  # 5 full pages, then an empty one
    by_cursor = read_data(api.url("/cursor"), config=DataConfig(
        cursor_field="meta.cursor", cursor_param="after")).card.sources[0]  # fmt: skip
    assert by_link["sha256"] == by_offset["sha256"] == by_cursor["sha256"]
    fewer = read_data(api.url("/auth"), config=DataConfig(auth_env="EDGEML_TEST_TOKEN"))
    assert fewer.card.sources[0]["sha256"] != by_link["sha256"]


def test_ndjson_and_csv_by_content_type(api):
    nd = read_data(api.url("/ndjson"))
    assert nd.frame.height == TOTAL and "sensor.temp" in nd.frame.columns
    csv = read_data(api.url("/csv"))
    assert csv.frame.columns == ["id", "temp", "failed"] and csv.frame.height == 20


def test_the_format_setting_wins_over_a_wrong_content_type(api):
    with pytest.raises(SourceError, match="Content-Type 'text/html'"):
        read_data(api.url("/html"))
    with pytest.raises(SourceError, match="not JSON"):
        read_data(api.url("/html"), config=DataConfig(format="json"))


def test_a_token_comes_from_the_variable_the_config_names(api, monkeypatch):
    monkeypatch.setenv("EDGEML_TEST_TOKEN", TOKEN)
    ds = read_data(api.url("/auth"), config=DataConfig(auth_env="EDGEML_TEST_TOKEN"))
    assert ds.frame.height == PAGE
    assert TOKEN not in json.dumps(ds.card.to_dict())


def test_429_is_retried_after_the_time_retry_after_asks(api):
    before = api.hits["/ratelimited"]
    ds = read_data(api.url("/ratelimited"))
    assert ds.frame.height == 2 * PAGE
    assert api.hits["/ratelimited"] - before == 4  # each page: a 429, then the page


def test_5xx_is_retried_with_backoff(api):
    assert read_data(api.url("/flaky"), config=DataConfig(http_retries=2)).frame.height == PAGE
    assert api.hits["/flaky"] == 3


def test_predict_scans_an_api_page_by_page(api):
    batches = list(scan(api.url("/next"), numbers=["sensor.temp"], text=["machine"],
                        batch_rows=8))  # fmt: skip
    assert [b.frame.height for b in batches] == [8, 8, 8, 8, 3]
    assert pl.concat([b.frame for b in batches]).columns == ["sensor.temp", "machine"]


# ---------------------------------------------------------------------------------- bad input

BAD = {
    "not json": ("/notjson", {}, "page 2: not JSON"),
    "schema renamed": (
        "/schema",
        {},
        "page 2: the schema changed: column(s) ['temperature.temp', 'temperature.unit']",
    ),
    "schema types": ("/types", {}, "column 'id' holds text values, number on page 1"),
    "401": ("/auth", {}, "HTTP 401 Unauthorized; set [data] auth_env"),
    "401 bad token": ("/auth", {"auth_env": "EDGEML_TEST_BAD_TOKEN"}, "check the token in"),
    "token unset": ("/auth", {"auth_env": "EDGEML_TEST_UNSET"}, "EDGEML_TEST_UNSET"),
    "loop": ("/loop", {}, "(the pagination loops)"),
    "endless": ("/endless", {"max_pages": 5}, "more than 5 pages"),
    "timeout": ("/slow", {"http_timeout": 0.3, "http_retries": 0}, "no answer within 0.3 s"),
    "5xx": ("/down", {"http_retries": 1}, "HTTP 500 Internal Server Error after 2 attempt(s)"),
    "404": ("/missing", {}, "HTTP 404"),
    "no records": ("/cursor", {"records": "nope"}, "[data] records = 'nope' is not a list"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_naming_the_url_without_secrets(
    api, tmp_path, monkeypatch, case
):
    path, settings, expected = BAD[case]
    monkeypatch.setenv("EDGEML_TEST_BAD_TOKEN", "bad-Token-8812")
    monkeypatch.delenv("EDGEML_TEST_UNSET", raising=False)
    url = api.url(path) + "?api_key=Key-Zz91"
    out = tmp_path / "out" / "m.edgeml"
    code, output = run("train", url, "--target", "failed", "--out", out,
                       "--config", config_file(tmp_path, **settings))  # fmt: skip
    assert code == 2, output
    assert output.count("\n") == 1 and expected in output, output
    assert api.url(path) in output and "api_key=***" in output
    assert "Key-Zz91" not in output and "bad-Token-8812" not in output
    assert not (tmp_path / "out").exists()


def test_bad_config_values_are_refused_by_name(tmp_path):
    code, output = run("profile", "http://127.0.0.1:1/x",
                       "--config", config_file(tmp_path, format="xml"))  # fmt: skip
    assert code == 2 and "format" in output, output
    code, output = run("profile", "http://127.0.0.1:1/x",
                       "--config", config_file(tmp_path, max_pages=0))  # fmt: skip
    assert code == 2 and "max_pages" in output, output


def test_a_schema_change_is_a_schema_error(api):
    with pytest.raises(SchemaError):
        read_data(api.url("/schema"))


def test_an_unreachable_api_is_named(tmp_path):
    from tests.pg_server import free_port

    url = f"http://127.0.0.1:{free_port()}/x?token=Tk-5521"
    code, output = run("profile", url, "--config", config_file(tmp_path, http_retries=0))
    assert code == 2 and "cannot connect" in output and "Tk-5521" not in output, output


# ------------------------------------------------------------------- the whole command line


@pytest.mark.slow
def test_train_then_profile_from_an_api(api, tmp_path):
    bundle = tmp_path / "m.edgeml"
    code, output = run("train", api.url("/next"), "--target", "failed", "--out", bundle,
                       "--json")  # fmt: skip
    assert code == 0, output
    (source,) = json.loads((bundle / "manifest.json").read_text())["data_card"]["sources"]
    assert source["uri"] == api.url("/next") and source["rows"] == TOTAL
    code, output = run("profile", api.url("/link"), "--json")
    assert code == 0 and json.loads(output)["rows"] == TOTAL, output


def test_since_keeps_only_newer_records_and_snapshots_them(api, tmp_path):
    config = DataConfig(watermark="id", since="30", since_param="since",
                        snapshot=str(tmp_path / "snap"))  # fmt: skip
    ds = read_data(api.url("/link"), config=config)
    assert ds.frame["id"].to_list() == list(range(31, TOTAL + 1))
    (source,) = ds.card.sources
    assert source["uri"] == api.url("/link")  # the since parameter is the query, not the source
    assert source["watermark"] == {"column": "id", "after": "30", "min": "31", "max": "35"}
    assert pl.read_parquet(source["snapshot"]).equals(ds.frame)
