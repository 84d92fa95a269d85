"""A small ONNX graph builder: fresh value names, constants as initializers, one-output nodes.

Both halves of the ONNX export (``_onnx_prep`` and ``_onnx_trees``) write into one builder, so
the whole pipeline ends up as one graph. Every name the builder makes starts with ``PREFIX``,
which a raw input column may not use (``_onnx`` checks), so names never collide.

>>> g = GraphBuilder()
>>> two = g.const(np.array([2.0]), "two")
>>> out = g.op("Mul", ["x", two], "twice")
>>> [n.op_type for n in g.nodes], out
(['Mul'], 'edgeml::twice_2')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PREFIX = "edgeml::"
ML_DOMAIN = "ai.onnx.ml"
# Opset 21 has string Equal/Where (>= 19) and axes-as-input reductions (>= 18); ai.onnx.ml 5 has
# TreeEnsemble (double thresholds and leaves, BRANCH_MEMBER) and LabelEncoder 4 (double values).
OPSET = 21
ML_OPSET = 5


class GraphBuilder:
    """Accumulates nodes and initializers; :meth:`model` wraps them as a checked-ready model."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        """A new, unique value name."""
        self._count += 1
        return f"{PREFIX}{hint}_{self._count}"

    def const(self, value: np.ndarray, hint: str) -> str:
        """An initializer holding ``value`` (its dtype as given: float64, int64, bool, str)."""
        name = self.fresh(hint)
        array = np.asarray(value)
        if array.dtype.kind in "UO":
            texts: list[Any] = [str(v).encode() for v in array.flat]
            tensor = helper.make_tensor(name, TensorProto.STRING, array.shape, texts)
        else:
            tensor = numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        return name

    def op(
        self,
        op_type: str,
        inputs: list[str],
        hint: str,
        *,
        domain: str = "",
        output: str | None = None,
        **attributes: Any,
    ) -> str:
        """Add a one-output node and return its output name (``output`` if given)."""
        name = output or self.fresh(hint)
        self.nodes.append(
            helper.make_node(
                op_type,
                inputs,
                [name],
                name=f"{PREFIX}node_{len(self.nodes)}",
                domain=domain,
                **attributes,
            )
        )
        return name

    def model(
        self,
        inputs: list[onnx.ValueInfoProto],
        outputs: list[onnx.ValueInfoProto],
        *,
        name: str,
        metadata: dict[str, str],
        doc: str = "",
    ) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name, inputs, outputs, initializer=self.initializers, doc_string=doc
        )
        model = helper.make_model(
            graph,
            opset_imports=[
                helper.make_opsetid("", OPSET),
                helper.make_opsetid(ML_DOMAIN, ML_OPSET),
            ],
            producer_name="edgeml",
        )
        # IR 10 is what onnx 1.16+ writes for opset 21 and what onnxruntime >= 1.18 reads.
        model.ir_version = 10
        helper.set_model_props(model, metadata)
        return model


def tensor_attribute(values: np.ndarray) -> onnx.TensorProto:
    """A tensor-valued attribute (e.g. TreeEnsemble's double ``nodes_splits``)."""
    return numpy_helper.from_array(np.ascontiguousarray(values))


def column_input(name: str, elem_type: int) -> onnx.ValueInfoProto:
    """A graph input of shape ``[N, 1]``."""
    return helper.make_tensor_value_info(name, elem_type, ["N", 1])


def matrix_output(name: str, width: int | str) -> onnx.ValueInfoProto:
    """A float64 graph output of shape ``[N, width]``."""
    return helper.make_tensor_value_info(name, TensorProto.DOUBLE, ["N", width])
