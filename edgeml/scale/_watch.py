"""lightgbm.dask's training, watched for a lost worker (a ClusterError, not a hang).

LightGBM's Dask training is one LightGBM network, a task pinned to every worker that holds
rows. When one of those workers dies, the others' LightGBM does not always fail: LightGBM reads
its peers' sockets in a loop that only stops on a socket *error*. A peer killed with unread
data in its socket resets the connection (``Socket recv error, Connection reset by peer``,
within a second, turned into a ClusterError by :mod:`edgeml.scale._lost`); a peer killed with
nothing unread closes it in order, every read then returns 0 bytes, and the survivor's task
spins at 100% CPU for ever (seen: ``train --dask`` waiting more than 300 s after a SIGKILL).
The scheduler cannot rerun the dead worker's task elsewhere either: lightgbm.dask pins it.

So :func:`fit_watched` runs the fit in a thread and asks the scheduler, every
:data:`POLL_SECONDS`, which workers run lightgbm.dask's training tasks; when one of those
workers leaves the cluster, it gives the fit :data:`GRACE_SECONDS` to fail by itself (the
reset case, whose LightGBM error says more) and then raises a ClusterError naming the lost
worker and the ones whose share may still be spinning (restarting them frees them; a cluster
the run started itself is closed with it). A worker lost in the instant its training task
starts, before a poll saw it run, is left to LightGBM's network ``time_out``
(:data:`edgeml.scale._lost.NETWORK_MINUTES`).

>>> fit_watched(client, "tcp://10.0.0.5:8786", "pass 2", lambda: model.fit(x, y))  # doctest: +SKIP
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

from edgeml.errors import ClusterError

__all__ = ["GRACE_SECONDS", "POLL_SECONDS", "fit_watched"]

POLL_SECONDS = 0.25
GRACE_SECONDS = 5.0
# lightgbm.dask submits its training tasks as ``client.submit(_train_part, ..., pure=False)``:
# their keys are this prefix and a random id (no edgeml task may use the name).
_TRAINING_KEY = "_train_part-"


def fit_watched(client: Any, address: str, stage: str, fit: Callable[[], object]) -> None:
    """Run ``fit`` (a lightgbm.dask fit on ``client``) and return when it returns; raise what
    it raises, or a ClusterError when a worker running its training leaves the cluster."""
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fit()
        except BaseException as exc:  # handed to the caller's thread, raised there
            failure.append(exc)
        finally:
            done.set()

    # The copied context carries ``client.as_current()``: lightgbm.dask waits on the
    # current client.
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(run,), name="lightgbm.dask", daemon=True)
    thread.start()
    training: set[str] = set()
    lost: set[str] = set()
    deadline = None
    while not done.wait(POLL_SECONDS):
        working = _training_workers(client)
        if working is None:  # the scheduler is gone: the fit's own error says so
            continue
        running, present = working
        lost |= training - present
        training |= running
        if lost and deadline is None:
            deadline = time.monotonic() + GRACE_SECONDS
        if deadline is not None and time.monotonic() > deadline:
            raise _lost(address, stage, lost, running)
    if failure:
        raise failure[0]


def _training_workers(client: Any) -> tuple[set[str], set[str]] | None:
    """The workers running a lightgbm.dask training task, and every worker of the cluster."""
    try:
        processing = client.processing()
    except OSError:
        return None
    running = {
        worker for worker, keys in processing.items()
        if any(str(key).startswith(_TRAINING_KEY) for key in keys)
    }  # fmt: skip
    return running, set(processing)


def _lost(address: str, stage: str, lost: set[str], spinning: set[str]) -> ClusterError:
    stuck = (
        f"; its peers' share may spin until restarted ({', '.join(sorted(spinning))})"
        if spinning else ""
    )  # fmt: skip
    return ClusterError(
        f"--dask {address}: {stage}: lightgbm.dask lost worker {', '.join(sorted(lost))} "
        f"mid-training{stuck}; its training cannot go on without one, rerun the job; "
        "nothing written"
    )
