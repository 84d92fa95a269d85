"""Feature matrices staged on disk chunk by chunk, read back by LightGBM as a ``Sequence``.

LightGBM builds its binned Dataset from a :class:`lightgbm.Sequence` in two sweeps: bin
boundaries from a sample of rows (random access, in increasing row order), then every row in
slices of ``batch_size``. :class:`StagedSequence` serves both from the staged ``.npy`` chunks,
holding one chunk in memory at a time, so the float matrix never exists whole: peak memory is
the binned Dataset (about one byte per value) plus a chunk. (A ``Sequence`` is the interface
LightGBM offers for exactly this; only the chunk lookup is written here.)

>>> import tempfile
>>> staged = Staged(Path(tempfile.mkdtemp()), "train")
>>> staged.add(np.arange(6.0).reshape(3, 2)); staged.add(np.arange(6.0, 10.0).reshape(2, 2))
>>> seq = StagedSequence(staged)
>>> len(seq), seq[3].tolist(), seq[1:4].tolist()
(5, [6.0, 7.0], [[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np

__all__ = ["Staged", "StagedSequence"]


class Staged:
    """Chunks of one feature matrix, each saved as ``NAME-NNNNN.npy`` in ``directory``."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory, self.name = directory, name
        self.files: list[Path] = []
        self.starts: list[int] = [0]

    @property
    def rows(self) -> int:
        return self.starts[-1]

    def add(self, x: np.ndarray) -> None:
        """Append a chunk of rows (nothing for an empty one)."""
        if not len(x):
            return
        path = self.directory / f"{self.name}-{len(self.files):05d}.npy"
        np.save(path, np.ascontiguousarray(x, dtype=np.float64))
        self.files.append(path)
        self.starts.append(self.starts[-1] + len(x))

    def chunks(self) -> Iterator[np.ndarray]:
        """The chunks in order, one in memory at a time."""
        for path in self.files:
            yield np.load(path)


class StagedSequence(lgb.Sequence):
    """Random and sliced access to a :class:`Staged` matrix, one cached chunk at a time."""

    def __init__(self, staged: Staged, batch_size: int = 65_536) -> None:
        self.staged = staged
        self.batch_size = batch_size
        self._index = -1
        self._chunk = np.empty((0, 0))

    def __len__(self) -> int:
        return self.staged.rows

    def __getitem__(self, idx: int | slice) -> np.ndarray:  # type: ignore[override]
        if isinstance(idx, slice):
            start, stop, _ = idx.indices(len(self))
            parts = []
            while start < stop:
                chunk, first = self._load(start)
                take = min(stop, first + len(chunk)) - start
                parts.append(chunk[start - first : start - first + take])
                start += take
            return np.concatenate(parts) if len(parts) != 1 else parts[0]
        if idx < 0:
            idx += len(self)
        chunk, first = self._load(idx)
        return chunk[idx - first]

    def _load(self, row: int) -> tuple[np.ndarray, int]:
        """The chunk holding ``row`` and that chunk's first row."""
        index = bisect.bisect_right(self.staged.starts, row) - 1
        if index != self._index:
            self._chunk = np.load(self.staged.files[index])
            self._index = index
        return self._chunk, self.staged.starts[index]
