"""Loading through ``registry/NAME/current`` while it is promoted back and forth (issue 10,
item 6): the link is resolved once, so every read is one version, whole."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import edgeml
import edgeml.runtime
from edgeml.registry import Registry
from tests.conftest import churn_like


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("link")
    registry = Registry(root / "registry")
    for rounds in (5, 40):  # two models that predict differently
        trained = edgeml.train(churn_like(n=300), target="churn", out=root / f"m{rounds}.edgeml",
                               cv_folds=0, num_boost_round=rounds,
                               early_stopping_rounds=0)  # fmt: skip
        registry.add("churn", trained.bundle, promote=True)
    return registry


def test_reads_through_current_during_promotes_are_each_one_version(registry):
    link = registry.root / "churn" / "current"
    rows = churn_like(n=20, seed=4).drop("churn")
    columns = {c: rows[c].to_list() for c in rows.columns}
    expected = {
        v: edgeml.runtime.load(registry.root / "churn" / f"v{v}").output(columns) for v in (1, 2)
    }
    assert not np.array_equal(expected[1], expected[2])
    batch = {v: edgeml.load(registry.root / "churn" / f"v{v}").predict(rows) for v in (1, 2)}
    done = threading.Event()
    promotions = [0]

    def promote() -> None:
        while not done.is_set():
            for version in (1, 2):
                registry.promote("churn", version)
                promotions[0] += 1

    seen = {1: 0, 2: 0}
    failures: list[str] = []
    promoter = threading.Thread(target=promote)
    promoter.start()
    try:
        k = 0
        # At least 150 reads, and enough of them while the link moves (a promote verifies a
        # whole version, so it is slower than a read): bounded at 3,000 reads.
        while k < 3000 and (k < 150 or promotions[0] < 30):
            k += 1
            try:
                if k % 10:
                    output = edgeml.runtime.load(link).output(columns)
                    matches = [v for v in (1, 2) if np.array_equal(output, expected[v])]
                else:  # the full library too: its manifest and model.txt must agree
                    frame = edgeml.load(link).predict(rows)
                    matches = [v for v in (1, 2) if frame.equals(batch[v])]
            except Exception as exc:  # any failure is a defect of this test's subject
                failures.append(repr(exc))
                continue
            if len(matches) != 1:
                failures.append(f"read {k} matched {matches}")
            else:
                seen[matches[0]] += 1
    finally:
        done.set()
        promoter.join()
    assert failures == []
    assert promotions[0] > 20 and seen[1] and seen[2]


def test_a_loaded_model_keeps_reading_its_own_version(registry):
    """Files read after loading (the lightgbm model of edgeml.load) come from the version the
    link pointed to at load time, not from whatever it points to later."""
    registry.promote("churn", 1)
    link = registry.root / "churn" / "current"
    model = edgeml.load(link)
    registry.promote("churn", 2)
    rows = churn_like(n=20, seed=4).drop("churn")
    assert model.predict(rows).equals(edgeml.load(registry.root / "churn" / "v1").predict(rows))
    assert model.bundle.root == Path(registry.root / "churn" / "v1").resolve()
