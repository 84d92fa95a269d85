"""Shared fixtures: small real files written to tmp_path, and the real datasets edgeml ships."""

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from edgeml.datasets import path as dataset_path
from tests import checkout

# Every file a test opens must be in the checkout, a temp dir or the installation (checkout.py).
sys.addaudithook(checkout.audit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    checkout.CURRENT[0] = item.nodeid
    try:
        return (yield)
    finally:
        checkout.CURRENT[0] = "(between tests)"


def pytest_sessionfinish(session: pytest.Session) -> None:
    if checkout.SEEN and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if checkout.SEEN:
        terminalreporter.section("files opened outside the checkout", red=True)
        for path, test in sorted(set(checkout.SEEN)):
            terminalreporter.line(f"{test}: {path}")


def churn_like(n: int = 600, seed: int = 0) -> pl.DataFrame:
    """A small binary problem with the faults of real files: nulls, strings, Yes/No labels."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    charges = rng.uniform(20, 120, n).round(2)
    contract = rng.choice(["month", "year", "two_year"], n, p=[0.5, 0.3, 0.2])
    logit = -0.04 * tenure + 0.02 * charges + np.where(contract == "month", 1.0, -1.0) - 0.5
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "Yes", "No")
    gaps = rng.random(n) < 0.03
    total = [
        None if gap else str(round(t * c, 2))
        for gap, t, c in zip(gaps, tenure, charges, strict=False)
    ]
    return pl.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "tenure": tenure,
            "monthly_charges": charges,
            "total_charges": total,  # numbers stored as strings, some missing
            "contract": contract,
            "paperless": rng.choice(["Yes", "No"], n),
            "churn": churn,
        }
    )


@pytest.fixture
def churn_csv(tmp_path: Path) -> Path:
    path = tmp_path / "churn.csv"
    churn_like().write_csv(path)
    return path


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bundle trained once for the tests that only read it (copy it before changing it)."""
    root = tmp_path_factory.mktemp("bundle")
    data = root / "churn.csv"
    churn_like().write_csv(data)
    from edgeml import train

    return train(data, target="churn", out=root / "churn.edgeml", id_cols=["customer_id"]).bundle


def shared(name: str) -> Path:
    """The real dataset ``name`` (``telco_churn.csv``): the ``.csv.gz`` shipped in edgeml."""
    return dataset_path(name)


def reseal(bundle: Path) -> None:
    """Recompute the digest of a manifest.json edited by hand, as anyone who knows the format
    can (the digest catches careless edits; only a signature stops deliberate ones)."""
    import json

    from edgeml.bundle import manifest_digest

    path = Path(bundle) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["digest"] = manifest_digest(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture(scope="module")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``EDGEML_CACHE`` pointed at a directory of the module's own for its tests: compiles for
    real, never reads or fills the user's ~/.cache/edgeml (``pytestmark = usefixtures(...)``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEML_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield
