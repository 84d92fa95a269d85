"""Connect to an existing Dask scheduler, or say in one line why not; or start a local one.

How long to keep trying is Dask's own setting, ``distributed.comm.timeouts.connect`` (30 s by
default; ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s`` in the environment shortens it).
:func:`local_cluster` is ``[dask] n_workers`` without an address: Dask's own ``LocalCluster``
of worker processes on loopback, for the one run.

>>> connect("tcp://127.0.0.1:1", timeout="1s")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
edgeml.errors.ClusterError: --dask tcp://127.0.0.1:1: no Dask scheduler answers there (...)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from edgeml.errors import ClusterError

__all__ = ["connect", "local_cluster"]


def connect(address: str, *, timeout: str | float | None = None) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address`` (not made the default client)."""
    import dask
    from distributed import Client

    wait = timeout if timeout is not None else dask.config.get("distributed.comm.timeouts.connect")
    try:
        return Client(address, timeout=wait, set_as_default=False)
    except ValueError as exc:  # not an address distributed can parse
        raise ClusterError(
            f"--dask {address}: not a scheduler address ({_first_line(exc)}); "
            "expected tcp://HOST:PORT"
        ) from None
    except OSError as exc:  # refused, timed out, unknown host (TimeoutError is an OSError)
        raise ClusterError(
            f"--dask {address}: no Dask scheduler answers there ({_first_line(exc)})"
        ) from None


@contextmanager
def local_cluster(n_workers: int) -> Iterator[str]:
    """The scheduler address of a ``LocalCluster`` of ``n_workers`` worker processes (one
    thread each, loopback only, no dashboard), closed when the block ends."""
    import logging

    from distributed import LocalCluster

    if n_workers < 1:
        raise ClusterError(f"[dask] n_workers: expected at least 1, got {n_workers}")
    with LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.ERROR,
    ) as cluster:  # fmt: skip
        yield str(cluster.scheduler_address)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
