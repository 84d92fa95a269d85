"""``edgeml demo``: the whole pipeline on the embedded sensor-fleet simulator, then a deploy.

>>> from edgeml.demo import run_demo
>>> run_demo("demo-output")["bundle"]                                       # doctest: +SKIP
'demo-output/fleet.edgeml'
"""

from edgeml.demo._run import run_demo

__all__ = ["run_demo"]
