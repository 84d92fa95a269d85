"""PostgreSQL sources against a real server (tests/pg_server.py): reading, streaming, the data
card, credentials from PGPASSWORD or a .pgpass file, and every bad input as one exit-2 line
that never shows the password and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import polars as pl
import pytest
from click.testing import CliRunner

from edgeml.batch import scan
from edgeml.cli import cli
from edgeml.config import DataConfig
from edgeml.data import read_data
from edgeml.errors import ConfigError, SourceError
from tests import pg_server

pytest.importorskip("adbc_driver_postgresql", reason="pip install 'edgeml[postgres]'")

ROWS = 400
# Deterministic rows: the label depends on temp and machine, so a model has something to learn.
READINGS = f"""
CREATE TABLE readings AS
SELECT i AS id,
       (i % 97) / 3.0::float8 AS temp,
       ((i * 37) % 101)::float8 AS humidity,
       'm' || (i % 5) AS machine,
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 hour' AS updated_at,
       (i % 3 = 0) AS door_open,
       CASE WHEN (i % 97) / 3.0 + (i % 5) * 4 > 22 THEN 'yes' ELSE 'no' END AS failed
FROM generate_series(1, {ROWS}) AS i;
CREATE SCHEMA plant;
CREATE TABLE plant."Line Items" (n int, label text);
INSERT INTO plant."Line Items" VALUES (1, 'a'), (2, 'b');
CREATE TABLE empty_t (n int);
"""


@pytest.fixture(scope="module")
def pg() -> Iterator[pg_server.PgServer]:
    bindir, why = pg_server.find_bin()
    if bindir is None:
        pytest.skip(why)
    server = pg_server.start()
    try:
        server.psql(READINGS)
        yield server
    finally:
        server.stop()


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", pg_server.PASSWORD)
    monkeypatch.delenv("PGPASSFILE", raising=False)


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


# ------------------------------------------------------------------------------------ reading


def test_a_table_reads_typed_with_a_card_naming_the_source(pg, password):
    ds = read_data(pg.uri(), table="readings", keep_raw=["failed"])
    assert ds.frame.height == ROWS
    assert ds.card.schema["temp"] == "float"
    assert ds.card.schema["machine"] == "str"
    assert ds.card.schema["door_open"] == "bool"
    assert ds.card.schema["updated_at"] == "datetime"
    (source,) = ds.card.sources
    assert source["kind"] == "postgresql"
    assert source["uri"] == pg.uri()
    assert source["table"] == "readings"
    assert source["rows"] == ROWS
    assert len(source["sha256"]) == 64 and source["fetched_at"]
    again = read_data(pg.uri(), table="readings", keep_raw=["failed"]).card.sources[0]
    assert again["sha256"] == source["sha256"]


def test_a_query_and_a_schema_qualified_quoted_table(pg, password):
    ds = read_data(pg.uri(), query="SELECT id, temp FROM readings WHERE id <= 10;")
    assert ds.frame.columns == ["id", "temp"] and ds.frame.height == 10
    assert ds.card.sources[0]["query"].startswith("SELECT id")
    other = read_data(pg.uri(), query="SELECT id, temp FROM readings WHERE id <= 11")
    assert other.card.sources[0]["sha256"] != ds.card.sources[0]["sha256"]
    items = read_data(pg.uri(), table="plant.Line Items")
    assert items.frame["label"].to_list() == ["a", "b"]


def test_table_and_query_come_from_the_config_too(pg, password):
    ds = read_data(pg.uri(), config=DataConfig(query="SELECT id FROM readings LIMIT 3"))
    assert ds.frame.height == 3


def test_the_password_can_come_from_a_pgpass_file(pg, monkeypatch, tmp_path):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg.port}:*:{pg_server.USER}:{pg_server.PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    assert read_data(pg.uri(), table="readings").frame.height == ROWS


def test_a_password_in_the_uri_works_and_is_kept_out_of_the_card(pg, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    ds = read_data(pg.uri(password=pg_server.PASSWORD), table="readings")
    assert pg_server.PASSWORD not in json.dumps(ds.card.to_dict())
    assert ds.card.sources[0]["uri"].startswith(f"postgresql://{pg_server.USER}:***@")


def test_predict_scans_postgres_in_batches_equal_to_the_one_shot_read(pg, password):
    batches = list(scan(pg.uri(), numbers=["temp", "humidity"], text=["machine"],
                        batch_rows=150, table="readings"))  # fmt: skip
    assert [b.frame.height for b in batches] == [150, 150, 100]
    assert [b.first_row for b in batches] == [0, 150, 300]
    whole = pl.concat([b.frame for b in batches])
    assert whole.columns == ["temp", "humidity", "machine"]
    one_shot = read_data(pg.uri(), table="readings").frame
    assert whole["temp"].to_list() == one_shot["temp"].to_list()
    assert batches[0].where(0) == f"{pg.uri()} row 1"


# ---------------------------------------------------------------------------------- bad input

BAD = {
    "unknown table": (["--table", "nope"], "no table 'nope'"),
    "sql error": (["--query", "SELEC 1"], "syntax error"),
    "unknown column": (["--query", "SELECT nope FROM readings"], 'column "nope" does not exist'),
    "both": (["--table", "readings", "--query", "SELECT 1"], "exactly one of --table or --query"),
    "neither": ([], "exactly one of --table or --query"),
    "no rows": (["--table", "empty_t"], "no rows"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_naming_the_source(pg, password, tmp_path, case):
    args, expected = BAD[case]
    out = tmp_path / "m.edgeml"
    code, output = run("train", pg.uri(), *args, "--target", "failed", "--out", out)
    assert code == 2, output
    assert output.count("\n") == 1 and expected in output, output
    assert pg.uri() in output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_wrong_password_is_refused_without_showing_it(pg, monkeypatch, tmp_path):
    monkeypatch.setenv("PGPASSWORD", "wrong-Pass-5521")
    code, output = run("profile", pg.uri(), "--table", "readings")
    assert code == 2 and output.count("\n") == 1, output
    assert "password authentication failed" in output
    assert "wrong-Pass-5521" not in output
    written = pg.uri(password="Also-Wrong-991")
    code, output = run("train", written, "--table", "readings", "--target", "failed",
                       "--out", tmp_path / "m.edgeml")  # fmt: skip
    assert code == 2 and "password authentication failed" in output, output
    assert "Also-Wrong-991" not in output and ":***@" in output
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_is_named_without_its_password(monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    port = pg_server.free_port()  # nothing listens there
    code, output = run("profile", f"postgresql://user:pw-Qx81@127.0.0.1:{port}/db",
                       "--table", "t")  # fmt: skip
    assert code == 2 and output.count("\n") == 1, output
    assert "cannot connect" in output and f"127.0.0.1:{port}/db" in output
    assert "pw-Qx81" not in output


def test_the_issue_example_prints_no_password():
    """The issue's report: `postgresql://user:pw@host/db --table t` echoed `pw`."""
    code, output = run("profile", "postgresql://user:pw@host.invalid/db", "--table", "t")
    assert code == 2 and output.count("\n") == 1, output
    assert ":pw@" not in output and "user:***@host.invalid/db" in output


def test_a_uri_without_a_database_is_refused():
    with pytest.raises(SourceError, match="expected postgresql://USER@HOST:PORT/DB"):
        read_data("postgresql://ann:secret@host", table="t")


# ------------------------------------------------------------------- the whole command line


@pytest.mark.slow
def test_train_predict_evaluate_profile_on_postgres(pg, password, tmp_path):
    bundle = tmp_path / "m.edgeml"
    code, output = run("train", pg.uri(), "--table", "readings", "--target", "failed",
                       "--out", bundle, "--json")  # fmt: skip
    assert code == 0, output
    manifest = json.loads((bundle / "manifest.json").read_text())
    (source,) = manifest["data_card"]["sources"]
    assert source["uri"] == pg.uri() and source["table"] == "readings"
    assert source["rows"] == ROWS
    assert pg_server.PASSWORD not in (bundle / "manifest.json").read_text()
    out = tmp_path / "p.parquet"
    code, output = run("predict", bundle, pg.uri(), "--query", "SELECT * FROM readings",
                       "-o", out, "--batch-rows", "128")  # fmt: skip
    assert code == 0, output
    assert pl.read_parquet(out).height == ROWS
    code, output = run("evaluate", bundle, pg.uri(), "--table", "readings", "--json")
    assert code == 0, output
    assert "accuracy" in json.loads(output)["metrics"]
    code, output = run("profile", pg.uri(), "--table", "readings", "--json")
    assert code == 0 and json.loads(output)["rows"] == ROWS


@pytest.mark.slow
def test_retrain_fetches_new_rows_and_the_champions_rows_again(pg, password, tmp_path):
    pg.psql("CREATE TABLE retrain_rows AS SELECT * FROM readings")  # this test changes it
    bundle = tmp_path / "m.edgeml"
    old = "SELECT * FROM retrain_rows WHERE id <= 250"
    new = "SELECT * FROM retrain_rows WHERE id > 250"
    code, output = run("train", pg.uri(), "--query", old, "--target", "failed", "--out", bundle)
    assert code == 0, output
    code, output = run("retrain", bundle, pg.uri(), "--query", new, "--out",
                       tmp_path / "c.edgeml", "--json")  # fmt: skip
    assert code == 0, output
    sources = json.loads((tmp_path / "c.edgeml" / "manifest.json").read_text())["data_card"]
    assert [s.get("query") for s in sources["sources"]] == [old, new]
    assert all(s["uri"] == pg.uri() for s in sources["sources"])
    # The champion's rows changed under it: refused, naming the source, not silently different.
    pg.psql("UPDATE retrain_rows SET temp = temp + 1 WHERE id = 1")
    code, output = run("retrain", bundle, pg.uri(), "--query", new, "--out",
                       tmp_path / "d.edgeml")  # fmt: skip
    assert code == 2 and "rows changed since the champion was trained" in output, output
    assert not (tmp_path / "d.edgeml").exists()


# ---------------------------------------------------------------------- incremental collection


def test_since_fetches_only_newer_rows_and_the_card_records_the_range(pg, password, tmp_path):
    config = DataConfig(watermark="updated_at", since="2024-01-10T00:00:00+00:00",
                        snapshot=str(tmp_path / "snap"))  # fmt: skip
    ds = read_data(pg.uri(), table="readings", config=config)
    # id i is at 2024-01-01 + i hours: after day 10 means ids from 217 on
    assert ds.frame["id"].min() == 217 and ds.frame.height == ROWS - 216
    (source,) = ds.card.sources
    assert source["watermark"] == {"column": "updated_at", "after": config.since,
                                   "min": "2024-01-10T01:00:00+00:00",
                                   "max": "2024-01-17T16:00:00+00:00"}  # fmt: skip
    assert source["rows"] == ROWS - 216  # pushed down: only the new rows were fetched
    snapshot = pl.read_parquet(source["snapshot"])
    assert snapshot.equals(ds.frame)
    assert len(list((tmp_path / "snap").iterdir())) == 1


def test_since_without_a_watermark_column_is_refused(pg, password):
    with pytest.raises(ConfigError, match="needs \\[data\\] watermark"):
        read_data(pg.uri(), table="readings", config=DataConfig(since="5"))
    with pytest.raises(SourceError, match="no rows with id after 100000"):
        read_data(pg.uri(), table="readings", config=DataConfig(watermark="id", since="100000"))


@pytest.mark.slow
def test_retrain_takes_exactly_the_rows_after_the_champions_watermark(pg, password, tmp_path):
    pg.psql("CREATE TABLE growing AS SELECT * FROM readings WHERE id <= 250")
    toml = tmp_path / "edgeml.toml"
    toml.write_text(f'[data]\nwatermark = "updated_at"\nsnapshot = "{tmp_path / "snap"}"\n')
    bundle = tmp_path / "m.edgeml"
    code, output = run("train", pg.uri(), "--table", "growing", "--target", "failed",
                       "--out", bundle, "--config", toml)  # fmt: skip
    assert code == 0, output
    pg.psql("INSERT INTO growing SELECT * FROM readings WHERE id > 250")
    code, output = run("retrain", bundle, pg.uri(), "--table", "growing", "--out",
                       tmp_path / "c.edgeml", "--json")  # fmt: skip
    assert code == 0, output
    card = json.loads((tmp_path / "c.edgeml" / "manifest.json").read_text())["data_card"]
    old, new = card["sources"]
    assert old["rows"] == 250 and old["watermark"]["after"] is None
    assert new["rows"] == ROWS - 250  # exactly the rows added since the champion trained
    assert new["watermark"]["after"] == old["watermark"]["max"]
    assert len(list((tmp_path / "snap").iterdir())) == 2
    # the champion's rows came from its snapshot: the table may change under it
    pg.psql("UPDATE growing SET temp = temp + 1 WHERE id = 1")
    code, output = run("retrain", bundle, pg.uri(), "--table", "growing", "--since",
                       "2024-01-05T00:00:00+00:00", "--out", tmp_path / "d.edgeml")  # fmt: skip
    assert code == 0, output
