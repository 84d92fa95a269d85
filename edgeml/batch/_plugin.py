"""The bundle opened once per Dask worker: a worker plugin that every task of a job reads.

When a job is submitted the driver registers a :class:`BundlePlugin`; each worker (and any worker
that joins later, a restarted one included) runs :meth:`BundlePlugin.setup`, which opens and
verifies the bundle (checksums, versions, the compiled library) and checks that its manifest
digest is the one the driver opened, so every worker scores with the same model. Tasks then
take the opened model with :func:`opened`. The bundle's path must name the same bundle on every
worker (a shared file system).

>>> plugin = BundlePlugin("/models/churn.edgeml", backend="native", threads=1, digest="ab12" * 16)
>>> plugin.name
'edgeml-bundle-ab12ab12ab12ab12-native-1'
>>> plugin.model is None  # opened on the workers, not where the plugin is made
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distributed import WorkerPlugin, get_worker

from edgeml.errors import BundleError, ClusterError

if TYPE_CHECKING:
    from edgeml import Model

__all__ = ["BundlePlugin", "opened"]


class BundlePlugin(WorkerPlugin):
    """Opens ``bundle`` with ``backend`` and ``threads`` on each worker it is registered on."""

    def __init__(self, bundle: str, *, backend: str, threads: int, digest: str) -> None:
        self.bundle = bundle
        self.backend = backend
        self.threads = threads
        self.digest = digest
        self.name = f"edgeml-bundle-{digest[:16]}-{backend}-{threads}"
        self.model: Model | None = None
        self.predictor: Any = None

    def setup(self, worker: Any) -> None:
        from edgeml.batch._run import open_model

        model, predictor = open_model(self.bundle, backend=self.backend, threads=self.threads)
        found = model.spec.digest
        if found != self.digest:
            raise BundleError(
                f"{self.bundle}: on worker {worker.address} this bundle's manifest digest is "
                f"{found}, not {self.digest} as where the job was submitted; every worker must "
                "see the same bundle at this path"
            )
        self.model, self.predictor = model, predictor

    def teardown(self, worker: Any) -> None:
        self.model = self.predictor = None


def opened(name: str) -> tuple[Model, Any]:
    """The model and runtime predictor that plugin ``name`` opened on the current worker."""
    worker = get_worker()
    plugin = worker.plugins.get(name)
    if not isinstance(plugin, BundlePlugin) or plugin.model is None:
        raise ClusterError(
            f"worker {worker.address}: the bundle plugin {name} is not set up there (its setup "
            "failed; the worker's log says why)"
        )
    return plugin.model, plugin.predictor
