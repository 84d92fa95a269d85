"""The ``lightgbm`` backend: the bundle's model.txt through LightGBM itself.

The fallback when nothing faster was exported. Loading it imports ``lightgbm`` (and with it
SciPy and scikit-learn if installed): slower to start and heavier than the compiled backends,
but always available where edgeml trained.

>>> backend = load_backend(open_bundle("churn.edgeml"))          # doctest: +SKIP
>>> backend.predict(np.zeros((1, 4))).shape                       # doctest: +SKIP
(1,)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeml.errors import BundleError, ExportError

if TYPE_CHECKING:
    from edgeml.bundle import Bundle

__all__ = ["LightGBMBackend", "load_backend"]


class LightGBMBackend:
    """``lightgbm.Booster.predict`` on the prepared matrix: the reference every export equals."""

    name = "lightgbm"
    takes_raw_input = False

    def __init__(self, model_text: str, *, source: str, threads: int = 1) -> None:
        try:
            import lightgbm as lgb
        except ImportError:
            raise ExportError(
                "the lightgbm backend needs the lightgbm package (pip install lightgbm), or "
                "export a compiled backend: edgeml export BUNDLE --format treelite"
            ) from None
        self.threads = max(1, int(threads))
        try:
            self.booster = lgb.Booster(model_str=model_text)
        except lgb.basic.LightGBMError as exc:
            raise BundleError(f"{source}: not a LightGBM model ({exc})") from None
        self.num_feature = self.booster.num_feature()

    def predict(self, inputs: np.ndarray | Mapping[str, Any]) -> np.ndarray:
        """LightGBM's output for a prepared matrix: ``(n,)``, or ``(n, K)`` for multiclass."""
        matrix = np.asarray(inputs, dtype=np.float64)
        return np.asarray(self.booster.predict(matrix, num_threads=self.threads), np.float64)


def load_backend(bundle: Bundle, *, threads: int = 1) -> LightGBMBackend:
    """The bundle's LightGBM model (the manifest's model file), read once and checksummed."""
    name = bundle.spec.model_file
    text = bundle.read(name).decode("utf-8", errors="replace")
    return LightGBMBackend(text, source=str(bundle.path / name), threads=threads)
