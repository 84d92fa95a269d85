"""Data to try edgeml on with no download: a simulated sensor fleet and five real tables.

- :func:`sensor_fleet`: the embedded demo data (``edgeml demo``), a deterministic simulator of
  machines reporting sensor readings, with the faults real telemetry has.
- :func:`load` / :func:`path`: five real public tables shipped gzip-compressed in the package
  (:data:`REAL` says each one's target and task), like scikit-learn's bundled datasets.

>>> import edgeml.datasets
>>> edgeml.datasets.REAL["telco_churn"].target
'churn'
"""

from edgeml.datasets._fleet import SENSORS, sensor_fleet
from edgeml.datasets._real import REAL, RealDataset, load, path

__all__ = ["REAL", "SENSORS", "RealDataset", "load", "path", "sensor_fleet"]
