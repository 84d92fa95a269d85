"""The real server (uvicorn in a subprocess) on loopback: load, bad requests, reload, faults."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgeml.bundle import read_bundle_files, write_bundle
from tests.serving import TOKEN, bundle_copy, record, running_server


@pytest.fixture(scope="module")
def bundle(trained_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundle_copy(trained_bundle, tmp_path_factory.mktemp("live") / "churn.edgeml")


def count_rows(log: Path) -> int:
    with sqlite3.connect(log) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])


async def hammer(url: str, clients: int, seconds: float) -> tuple[int, list[int]]:
    """``clients`` concurrent clients posting records for ``seconds``: (answered, failures)."""
    failures: list[int] = []
    ok = 0

    async def client(k: int) -> None:
        nonlocal ok
        async with httpx.AsyncClient(base_url=url, timeout=10.0) as session:
            deadline = time.monotonic() + seconds
            i = 0
            while time.monotonic() < deadline:
                response = await session.post("/predict", json=record(tenure=(k * 7 + i) % 72))
                if response.status_code == 200:
                    ok += 1
                else:
                    failures.append(response.status_code)
                i += 1

    await asyncio.gather(*(client(k) for k in range(clients)))
    return ok, failures


def test_bounded_load_loses_no_request_and_no_log_row(bundle: Path, tmp_path: Path) -> None:
    log = tmp_path / "load.log.db"
    with running_server(str(bundle), "--log", str(log)) as (url, process):
        ok, failures = asyncio.run(hammer(url, clients=8, seconds=3.0))
        process.send_signal(signal.SIGINT)  # a graceful stop writes what is queued
        process.wait(timeout=30)
    assert failures == []
    assert ok > 100
    assert count_rows(log) == ok


def test_bad_requests_leave_the_server_serving(bundle: Path, tmp_path: Path) -> None:
    with running_server(str(bundle), "--log", str(tmp_path / "l.db"), "--max-body-mb", "0.01") as (
        url,
        _,
    ):
        bad = [
            (b"{oops", 400),
            (json.dumps(record(tenure="x")).encode(), 422),
            (json.dumps(record(paperless="maybe")).encode(), 422),
            (b'{"tenure": NaN}', 422),
            (b"[]", 422),
            (json.dumps(record(tenure="1,234")).encode(), 422),
            (json.dumps([record()] * 200).encode(), 413),
        ]
        for body, status in bad:
            response = httpx.post(
                f"{url}/predict", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == status, (body[:40], response.text)
            assert response.json()["error"]
        assert httpx.post(f"{url}/predict", json=record()).status_code == 200


def test_sighup_reloads_a_new_version_and_a_corrupt_one_is_refused(
    bundle: Path, tmp_path: Path
) -> None:
    live = bundle_copy(bundle, tmp_path / "live.edgeml")
    with running_server(str(live), "--log", str(tmp_path / "l.db")) as (url, process):
        first = httpx.post(f"{url}/predict", json=record()).json()
        manifest, files = read_bundle_files(live)
        write_bundle(
            live,
            {**manifest, "created_at": "2026-01-01T00:00:00+00:00"},
            {**files, "model.txt": files["model.txt"].replace(b"\n\n", b"\n\n\n", 1)},
        )
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/ready").json()["model_version"] == first["model_version"]:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.1)
        second = httpx.post(f"{url}/predict", json=record()).json()
        assert second["model_version"] != first["model_version"]
        assert second["proba_Yes"] == first["proba_Yes"]  # same trees, new file

        (live / "model.txt").write_bytes(b"tree\nbroken\n")
        refused = httpx.post(f"{url}/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 409
        assert "ChecksumError" in refused.text or "sha256" in refused.text
        third = httpx.post(f"{url}/predict", json=record()).json()
        assert third["model_version"] == second["model_version"]


def test_sighup_with_a_structurally_wrong_manifest_is_refused_and_counted(
    bundle: Path, tmp_path: Path
) -> None:
    from tests.test_serve_api import edit_manifest

    live = bundle_copy(bundle, tmp_path / "live.edgeml")
    with running_server(str(live), "--log", str(tmp_path / "l.db")) as (url, process):
        first = httpx.post(f"{url}/predict", json=record()).json()
        edit_manifest(live, ("target", "classes"), 5)  # a TypeError, a 500, not counted before
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while 'edgeml_reloads_total{result="refused"} 1.0' not in httpx.get(f"{url}/metrics").text:
            assert process.poll() is None, "the server died on SIGHUP"
            assert time.monotonic() < deadline, "the refused SIGHUP reload was not counted"
            time.sleep(0.1)
        edit_manifest(live, ("input_schema", 0), {})
        refused = httpx.post(f"{url}/admin/reload", headers={"authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 409 and "reload refused" in refused.text
        assert 'edgeml_reloads_total{result="refused"} 2.0' in httpx.get(f"{url}/metrics").text
        again = httpx.post(f"{url}/predict", json=record()).json()
        assert again["model_version"] == first["model_version"]
        assert again["proba_Yes"] == first["proba_Yes"]


def test_a_shrunk_read_only_wal_index_does_not_kill_the_server(
    bundle: Path, tmp_path: Path
) -> None:
    # The -shm file SQLite maps, emptied and made read-only while serving: touching the
    # mapping then was a SIGBUS (exit 135, nothing logged) on the next request.
    log = tmp_path / "shm.log.db"
    with running_server(str(bundle), "--log", str(log)) as (url, process):
        assert httpx.post(f"{url}/predict", json=record()).status_code == 200
        time.sleep(0.5)
        shm = Path(f"{log}-shm")
        os.truncate(shm, 0)
        shm.chmod(0o444)
        statuses = [httpx.post(f"{url}/predict", json=record()).status_code for _ in range(20)]
        assert process.poll() is None, process.returncode
        assert statuses == [200] * 20
        metrics = httpx.get(f"{url}/metrics").text
        assert process.poll() is None
        errors = next(ln for ln in metrics.splitlines() if ln.startswith("edgeml_log_errors "))
        assert float(errors.split()[-1]) >= 1  # the fault is counted, not hidden
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert count_rows(log) == 21  # nothing lost: the index was rebuilt from the WAL


def test_a_locked_or_deleted_log_never_fails_a_request(bundle: Path, tmp_path: Path) -> None:
    log = tmp_path / "faults.log.db"
    with running_server(str(bundle), "--log", str(log)) as (url, process):
        assert httpx.post(f"{url}/predict", json=record()).status_code == 200
        time.sleep(0.5)
        blocker = sqlite3.connect(log, timeout=0.1)
        blocker.execute("BEGIN EXCLUSIVE")
        statuses = [httpx.post(f"{url}/predict", json=record()).status_code for _ in range(20)]
        blocker.rollback()
        blocker.close()
        assert statuses == [200] * 20

        for suffix in ("", "-wal", "-shm"):
            Path(f"{log}{suffix}").unlink(missing_ok=True)
        statuses = [httpx.post(f"{url}/predict", json=record()).status_code for _ in range(20)]
        assert statuses == [200] * 20
        metrics = httpx.get(f"{url}/metrics").text
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert log.exists()  # reopened after the deletion
    # Rows queued while the lock held are retried; rows after the deletion go to the new file.
    assert 20 <= count_rows(log) <= 41
    assert "edgeml_log_rows_written" in metrics


def test_the_api_survives_fuzzing_from_its_openapi_document(bundle: Path, tmp_path: Path) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    with running_server(str(bundle), "--log", str(tmp_path / "fuzz.db")) as (url, _):
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        failures: list[str] = []
        for operation in schema.get_all_operations():
            fuzz(operation.ok(), url, failures)
        assert failures == [], "\n\n".join(failures[:3])
        assert httpx.get(f"{url}/health").status_code == 200


def fuzz(operation: Any, url: str, failures: list[str]) -> None:
    """Every check schemathesis has (no 5xx, documented statuses, content types and bodies)."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    # A record's validity is all in its JSON Schema; a batch's is not (equal column lengths, a
    # CSV header), nor a label's (one of the classes): there a valid-looking body may get a 422.
    excluded = [] if operation.path == "/predict" else [positive_data_acceptance]

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        try:
            case.call_and_validate(base_url=url, excluded_checks=excluded)
        except Exception as exc:
            failures.append(f"{case.method} {case.path}: {exc}"[:2000])

    check()


def test_binds_to_loopback_by_default(bundle: Path, tmp_path: Path) -> None:
    with running_server(str(bundle), "--log", str(tmp_path / "b.db")) as (url, process):
        assert url.startswith("http://127.0.0.1:")
        connections = Path(f"/proc/{process.pid}/net/tcp").read_text().splitlines()[1:]
        port = int(url.rsplit(":", 1)[1])
        listening = [c.split() for c in connections if c.split()[3] == "0A"]
        local = [c[1] for c in listening if int(c[1].split(":")[1], 16) == port]
        assert local == ["0100007F:" + format(port, "04X")]


@pytest.mark.skipif(os.cpu_count() is None, reason="needs a CPU count")
def test_cli_refuses_bad_settings_in_one_line(bundle: Path) -> None:
    from click.testing import CliRunner

    from edgeml.cli import cli

    result = CliRunner().invoke(cli, ["serve", str(bundle), "--admin-token", "short"])
    assert result.exit_code == 2
    assert result.output == "Error: admin token: expected at least 16 characters\n"


def test_serving_from_a_registry_follows_promotions(bundle: Path, tmp_path: Path) -> None:
    from edgeml.registry import Registry

    registry = Registry(tmp_path / "models")
    registry.add("churn", bundle, promote=True)
    registry.add("churn", bundle)
    args = ("--registry", str(tmp_path / "models"), "--name", "churn")
    with running_server(*args) as (url, _):
        assert httpx.get(f"{url}/ready").json()["model_version"].startswith("churn/v1@")
        assert httpx.post(f"{url}/predict", json=record()).status_code == 200
        registry.promote("churn", "v2")
        deadline = time.monotonic() + 30
        while not httpx.get(f"{url}/ready").json()["model_version"].startswith("churn/v2@"):
            assert time.monotonic() < deadline, "the server did not follow the promotion"
            time.sleep(0.2)
        answer = httpx.post(f"{url}/predict", json=record()).json()
        assert answer["model_version"].startswith("churn/v2@")
    assert (tmp_path / "models" / "churn" / "predictions.log.db").is_file()


def test_requests_in_flight_finish_on_the_model_they_started_with(
    bundle: Path, tmp_path: Path
) -> None:
    import threading

    live = bundle_copy(bundle, tmp_path / "live.edgeml")
    header = "tenure,monthly_charges,total_charges,contract,paperless\n"
    body = (header + "12,70.5,846,month,true\n" * 300_000).encode()
    with running_server(str(live), "--log", str(tmp_path / "l.db")) as (url, _):
        old = httpx.get(f"{url}/ready").json()["model_version"]
        manifest, files = read_bundle_files(live)
        write_bundle(
            live,
            manifest,
            {**files, "model.txt": files["model.txt"].replace(b"\n\n", b"\n\n\n", 1)},
        )
        answers: list[dict[str, Any]] = []

        def post_batch() -> None:
            headers = {"content-type": "text/csv"}
            response = httpx.post(
                f"{url}/predict/batch", content=body, headers=headers, timeout=120
            )
            answers.append({**response.json(), "finished": time.monotonic()})

        slow = threading.Thread(target=post_batch)
        slow.start()
        time.sleep(0.3)
        reload_started = time.monotonic()
        reload = httpx.post(
            f"{url}/admin/reload", headers={"authorization": f"Bearer {TOKEN}"}, timeout=120
        )
        slow.join()
        assert reload.status_code == 200 and reload.json()["previous"] == old
        new = reload.json()["model_version"]
        assert new != old
        assert answers[0]["finished"] > reload_started  # it was in flight during the reload
        assert answers[0]["rows"] == 300_000 and answers[0]["model_version"] == old
        assert httpx.post(f"{url}/predict", json=record()).json()["model_version"] == new


def test_several_workers_share_the_port_and_the_log(bundle: Path, tmp_path: Path) -> None:
    log = tmp_path / "workers.log.db"
    with running_server(str(bundle), "--log", str(log), "--workers", "2") as (url, process):
        ok, failures = asyncio.run(hammer(url, clients=4, seconds=2.0))
        # Whichever worker answers, /metrics counts every worker's predictions.
        scrapes = [httpx.get(f"{url}/metrics").text for _ in range(6)]
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert failures == [] and ok > 50
    assert count_rows(log) == ok
    counted = [
        float(line.rsplit(" ", 1)[1])
        for text in scrapes
        for line in text.splitlines()
        if line.startswith("edgeml_predictions_total{")
    ]
    assert counted == [float(ok)] * 6
