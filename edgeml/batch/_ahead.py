"""Run an iterator on a background thread, a bounded number of items ahead of its consumer.

A batch run has two halves that release the GIL: Polars parsing and preparing a batch, and the
compiled engine predicting one. :func:`ahead` lets the next batch be read and prepared while the
current one is predicted and written, so the two overlap instead of taking turns; at most
``depth`` prepared items wait in between, which keeps memory bounded by the batch size.

Written by hand because the standard library's pools map a function over items known in
advance, and here the items come from one stateful iterator (the scan, the time-series carry)
that must run in order on a single thread; an exception raised there is raised again in the
consumer, and a consumer that stops early stops the producer.

>>> list(ahead(iter(range(5)), depth=2))
[0, 1, 2, 3, 4]
>>> def failing():
...     yield 1
...     raise ValueError("bad row")
>>> items = ahead(failing(), depth=1)
>>> next(items)
1
>>> next(items)
Traceback (most recent call last):
...
ValueError: bad row
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

__all__ = ["ahead"]

T = TypeVar("T")
_DONE = object()
_POLL = 0.05  # seconds a blocked producer waits before checking whether it should stop


def ahead(items: Iterator[T], *, depth: int = 1) -> Generator[T, None, None]:
    """The items of ``items``, in order, produced on a background thread at most ``depth``
    items ahead; closing the returned iterator (or leaving a ``for`` loop over it) stops the
    producer after the item it is making and closes ``items`` on its thread."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(_Failure(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="edgeml-batch-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class _Failure:
    """An exception raised by the producer, on its way to the consumer."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
