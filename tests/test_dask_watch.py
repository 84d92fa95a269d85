"""`fit_watched` on a real LocalCluster: a pinned training task whose worker is killed
(SIGKILL, no mocks) while its peer's task runs on: the watch raises a ClusterError naming both
within seconds, where waiting on the tasks would never return. What the fit raises, or returns,
passes through."""

import logging
import os
import signal
import time

import pytest

from edgeml.errors import ClusterError
from edgeml.scale._watch import GRACE_SECONDS, POLL_SECONDS, fit_watched

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


def _train_part(seconds: float) -> int:
    """Stands in for lightgbm.dask's training task (same name, so the same key prefix): runs
    on as a LightGBM whose peer closed its socket does."""
    time.sleep(seconds)
    return 1


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.CRITICAL,
    ) as cluster:  # fmt: skip
        yield cluster


def test_a_training_worker_lost_raises_instead_of_waiting(cluster):
    with distributed.Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
        (doomed, pid), (peer, _) = sorted(pids.items())
        futures = [
            client.submit(_train_part, 120, workers=[w], allow_other_workers=False, pure=False)
            for w in (doomed, peer)
        ]

        def fit() -> None:
            while not all(client.processing()[w] for w in (doomed, peer)):
                time.sleep(0.05)
            time.sleep(4 * POLL_SECONDS)  # the watch has seen both tasks run
            os.kill(pid, signal.SIGKILL)
            client.gather(futures)  # never returns: the doomed task is pinned, the peer sleeps

        started = time.monotonic()
        with pytest.raises(ClusterError) as error:
            fit_watched(client, "tcp://here:8786", "pass 2", fit)
        waited = time.monotonic() - started
        client.cancel(futures)
    assert waited < GRACE_SECONDS + 30
    assert str(error.value) == (
        f"--dask tcp://here:8786: pass 2: lightgbm.dask lost worker {doomed} mid-training; its "
        f"peers' share may spin until restarted ({peer}); its training cannot go on without "
        "one, rerun the job; nothing written"
    )


def test_what_the_fit_raises_or_returns_passes_through(cluster):
    with distributed.Client(cluster.scheduler_address) as client:
        done = []
        fit_watched(client, "a", "b", lambda: done.append(client.submit(_train_part, 0.5).result()))
        assert done == [1]

        def fails() -> None:
            raise ValueError("LightGBM said no")

        with pytest.raises(ValueError, match="LightGBM said no"):
            fit_watched(client, "a", "b", fails)
