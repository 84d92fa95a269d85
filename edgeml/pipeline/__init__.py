"""The pipeline: ``edgeml.train`` (raw data to an evaluated, versioned bundle) and
``edgeml.load`` (a verified bundle that predicts and scores through its own prep plan).

It drives the stages below it: data, prep, features, learn and search.

>>> import edgeml
>>> result = edgeml.train("churn.csv", target="churn", out="churn.edgeml")   # doctest: +SKIP
>>> edgeml.load(result.bundle).predict("new.csv")                         # doctest: +SKIP
"""

from edgeml.pipeline._model import Model, load
from edgeml.pipeline._train import TrainResult, train

__all__ = ["Model", "TrainResult", "load", "train"]
