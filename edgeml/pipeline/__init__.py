"""The pipeline: ``edgeml.train`` (raw data to an evaluated, versioned bundle) and
``edgeml.load`` (a verified bundle that predicts and scores through its own prep plan).

It drives the stages below it: data, prep, features, learn and search.

>>> import edgeml
>>> result = edgeml.train("churn.csv", target="churn", out="churn.edgeml")   # doctest: +SKIP
>>> edgeml.load(result.bundle).predict("new.csv")                         # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from edgeml.util.lazy import lazy_exports

if TYPE_CHECKING:
    from edgeml.pipeline._model import Model, load
    from edgeml.pipeline._train import TrainResult, train, write_trained

# Imported on first use: ``load`` alone does not pull in training (LightGBM, scikit-learn).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Model": "edgeml.pipeline._model",
        "load": "edgeml.pipeline._model",
        "TrainResult": "edgeml.pipeline._train",
        "train": "edgeml.pipeline._train",
        "write_trained": "edgeml.pipeline._train",
    },
)

__all__ = ["Model", "TrainResult", "load", "train", "write_trained"]
