"""The model registry: numbered versions of a bundle under one name, and which one is current.

>>> from edgeml.registry import Registry
>>> registry = Registry("models")                                          # doctest: +SKIP
>>> registry.register("churn", "churn.edgeml").version                     # doctest: +SKIP
1
"""

from edgeml.registry._registry import Registry, VersionInfo, parse_version

__all__ = ["Registry", "VersionInfo", "parse_version"]
