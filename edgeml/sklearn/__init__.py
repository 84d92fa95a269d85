"""scikit-learn estimators backed by edgeml, for people who live in sklearn pipelines.

:class:`Classifier` and :class:`Regressor` have ``fit``/``predict`` (and ``predict_proba``),
``get_params``/``set_params`` and pass scikit-learn's estimator checks where they apply; each
fitted estimator is an edgeml bundle (``bundle_``) that every edgeml export and the device
runtime can use.

>>> from edgeml.sklearn import Classifier
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from sklearn.datasets import load_breast_cancer
>>> X, y = load_breast_cancer(return_X_y=True)
>>> pipe = make_pipeline(StandardScaler(), Classifier(num_boost_round=30)).fit(X, y)
>>> pipe.score(X, y) > 0.95
True
"""

from edgeml.sklearn._estimators import Classifier, Regressor

__all__ = ["Classifier", "Regressor"]
