"""A Dask training job that lost a worker, said in one line (a ClusterError, CLI exit 2).

Dask retries a task whose worker died (``distributed.scheduler.allowed-failures``, 3 by
default), so a worker lost while the partitions are summarised, prepared or scored costs a
rerun of its tasks elsewhere, and the job goes on. LightGBM's Dask training cannot be retried
that way: its tasks are one LightGBM network, every worker holding its share of the rows. When
one of them dies, the others' LightGBM fails with a socket error (seen: a worker process killed
with SIGKILL mid-training, the survivor's ``Socket recv error, Connection reset by peer`` within
a second) and ``lightgbm.dask`` raises it on the driver (or spins: :mod:`edgeml.scale._watch` stops
the run then), unless the scheduler's cancelling of
the dead worker's pinned training task gets there first (``FutureCancelledError``, seen too;
also seen: the scoring pass cancelled for "lost dependencies" when the kill landed as training
ended); :func:`lost_job` turns each of these, and a task whose workers kept dying
(``KilledWorker``), into a :class:`~edgeml.errors.ClusterError`. The
bundle is written only after training and scoring succeed (and atomically), so nothing is left
at the output path.

LightGBM waits up to its ``time_out`` (minutes, 120 by default) for the other workers to connect
when training starts; :data:`NETWORK_MINUTES` bounds that wait, so a worker lost before the
network is up fails the job in minutes rather than hours.

>>> with lost_job("tcp://10.0.0.5:8786", "pass 1"):  # doctest: +ELLIPSIS
...     raise OSError("Timed out trying to connect")
Traceback (most recent call last):
...
edgeml.errors.ClusterError: --dask tcp://10.0.0.5:8786: pass 1: the job was lost (OSError: ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from edgeml.errors import ClusterError, EdgeMLError

__all__ = ["NETWORK_MINUTES", "lost_job"]

# LightGBM's ``time_out`` on Dask: minutes a worker waits for the others to join the network.
NETWORK_MINUTES = 10
# Words of LightGBM's errors when a peer of its network went away.
_NETWORK = ("socket", "connect", "network")


@contextmanager
def lost_job(address: str, stage: str) -> Iterator[None]:
    """Raise a ClusterError naming ``address`` and ``stage`` when the block's Dask work is lost
    (a worker died, the scheduler went away); an edgeml error raised on a worker, and any other
    error, pass through as they are."""
    from distributed import CancelledError, KilledWorker
    from lightgbm.basic import LightGBMError

    try:
        yield
    except EdgeMLError:
        raise
    except KilledWorker as exc:
        raise ClusterError(
            f"--dask {address}: {stage}: a task's worker died {exc.allowed_failures + 1} "
            f"time(s) (last {exc.last_worker.address}); nothing written"
        ) from None
    except LightGBMError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not any(word in first.lower() for word in _NETWORK):
            raise
        raise ClusterError(
            f"--dask {address}: {stage}: lightgbm.dask lost a worker ({first}); its training "
            "cannot go on without one, rerun the job; nothing written"
        ) from None
    except (CancelledError, OSError) as exc:
        raise ClusterError(
            f"--dask {address}: {stage}: the job was lost ({type(exc).__name__}: {exc}); "
            "nothing written"
        ) from None
