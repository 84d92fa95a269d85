"""A LightGBM model as ONNX nodes, in double precision, deciding exactly as LightGBM decides.

The trees are read from the one model IR (:mod:`._forest`), like the native engine's tables.

**Op choice.** ``ai.onnx.ml`` ``TreeEnsemble`` (opset 5) with a ``tensor(double)`` input:
``nodes_splits``, ``leaf_weights`` and ``membership_values`` are double tensors and the output is
double. The older ``TreeEnsembleRegressor``/``Classifier`` (opset 3) can hold double thresholds
(``nodes_values_as_tensor``) but always *output float32*, which loses about 1e-7 relative — too
much for a regression value of 1e4 against a 1e-6 bound. onnxmltools' converter also rounds the
thresholds to float32 and flips decisions for inputs near a threshold. onnxruntime (>= 1.20)
runs opset-5 ``TreeEnsemble`` by converting it to its opset-3 engine with double thresholds and
leaves, turning ``BRANCH_MEMBER`` sets into chains of ``BRANCH_EQ`` (or a big-set lookup): the
comparisons stay exact double comparisons.

**LightGBM's rules** (``Tree::NumericalDecision``/``CategoricalDecision`` and the C API's dense
row reader), and how the graph matches each one:

- a dense row's values with ``|x| <= kZeroThreshold`` (``1e-35f``) are dropped and read back as
  0.0 before any decision: the graph zeroes them first (this matters for the ``±1e-35``
  thresholds LightGBM puts around zero);
- numeric split: left iff ``x <= threshold`` → ``BRANCH_LEQ``, true branch = left;
- ``missing_type`` NaN: NaN goes the default side → ``nodes_missing_value_tracks_true =
  default_left``;
- ``missing_type`` None: NaN is read as 0.0 → NaN tracks true iff ``0.0 <= threshold``;
- ``missing_type`` Zero (``zero_as_missing``): 0 and NaN both go the default side → such nodes
  read a copy of the feature in which zero (and NaN) became NaN, with NaN tracking
  ``default_left``; other nodes still read the original, so mixed use is exact too;
- categorical split: NaN goes right; otherwise ``int(x)`` (truncation toward zero, so -0.5 → 0)
  goes right when negative and left iff in the set → the graph maps a categorical feature to
  ``floor(max(x, 0))`` when ``-1 < x < 2^31`` and to -1 (right) otherwise, then
  ``BRANCH_MEMBER`` over the set, true branch = left;
- output: the sum of leaf values (the init score is in the first tree) per class, divided by the
  number of iterations for ``average_output`` (random forest), then the objective's link —
  ``1 / (1 + exp(-sigmoid * s))`` for binary (output ``[1 - p, p]``), softmax for multiclass,
  per-class sigmoid for multiclassova, ``exp`` for poisson/gamma/tweedie, ``s * |s|`` for
  ``regression sqrt``, identity otherwise.

>>> import lightgbm as lgb
>>> x = np.random.default_rng(0).normal(size=(200, 2))
>>> b = lgb.train({"verbosity": -1, "num_leaves": 4}, lgb.Dataset(x, x[:, 0]), 2)
>>> model = ensemble_model(_forest.parse_model(b.model_to_string()))
>>> [n.op_type for n in model.graph.node][-2:]
['TreeEnsemble', 'Identity']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from edgeml.compile import _forest
from edgeml.compile._onnx_graph import ML_DOMAIN, GraphBuilder, matrix_output, tensor_attribute

__all__ = ["K_ZERO_THRESHOLD", "Link", "add_ensemble", "add_link", "ensemble_model", "link_of"]

# LightGBM's kZeroThreshold is the float literal 1e-35f, compared as a double.
K_ZERO_THRESHOLD = float(np.float32(1e-35))
_INT_LIMIT = 2.0**31  # static_cast<int> of larger values is INT_MIN on x86: negative, right
_BRANCH_LEQ, _BRANCH_MEMBER = 0, 6  # TreeEnsemble's nodes_modes
_SUM = 1  # TreeEnsemble's aggregate_function


@dataclass
class _Nodes:
    """TreeEnsemble's parallel node and leaf arrays, filled tree by tree."""

    featureids: list[int] = field(default_factory=list)
    modes: list[int] = field(default_factory=list)
    splits: list[float] = field(default_factory=list)
    tracks_true: list[int] = field(default_factory=list)
    truenodeids: list[int] = field(default_factory=list)
    trueleafs: list[int] = field(default_factory=list)
    falsenodeids: list[int] = field(default_factory=list)
    falseleafs: list[int] = field(default_factory=list)
    membership: list[float] = field(default_factory=list)
    leaf_targetids: list[int] = field(default_factory=list)
    leaf_weights: list[float] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)
    zero_features: dict[int, int] = field(default_factory=dict)  # feature → its zero copy
    categorical: set[int] = field(default_factory=set)

    def add_node(self, feature: int, mode: int, split: float, tracks_true: bool) -> int:
        self.featureids.append(feature)
        self.modes.append(mode)
        self.splits.append(split)
        self.tracks_true.append(int(tracks_true))
        for ids in (self.truenodeids, self.trueleafs, self.falsenodeids, self.falseleafs):
            ids.append(0)
        return len(self.featureids) - 1

    def add_leaf(self, target: int, value: float) -> int:
        self.leaf_targetids.append(target)
        self.leaf_weights.append(value)
        return len(self.leaf_weights) - 1

    def link(self, parent: int, left: bool, child: int, is_leaf: bool) -> None:
        if left:  # LightGBM's left child is the branch taken when the condition holds
            self.truenodeids[parent], self.trueleafs[parent] = child, int(is_leaf)
        else:
            self.falsenodeids[parent], self.falseleafs[parent] = child, int(is_leaf)


def _convert(forest: _forest.Forest) -> _Nodes:
    nodes = _Nodes()
    for tree in forest.trees:
        target = tree.index % forest.num_class  # multiclass trees are interleaved class by class
        if tree.num_leaves == 1:
            # A one-leaf tree: TreeEnsemble needs a root node, so a node whose two branches
            # reach the same leaf (onnxruntime recognises it as a leaf).
            leaf = nodes.add_leaf(target, float(tree.leaf_value[0]))
            node = nodes.add_node(0, _BRANCH_LEQ, 0.0, False)
            nodes.link(node, True, leaf, True)
            nodes.link(node, False, leaf, True)
            nodes.roots.append(node)
            continue
        # Iterative walk: LightGBM trees can be deeper than Python's recursion limit. A child
        # c >= 0 is internal node c, c < 0 is leaf ~c (the IR keeps LightGBM's layout).
        stack: list[tuple[int, int, bool]] = [(0, -1, True)]
        while stack:
            current, parent, left = stack.pop()
            if current >= 0:
                child = _add_split(nodes, tree, current, forest.num_feature)
                is_leaf = False
                stack.append((int(tree.right_child[current]), child, False))
                stack.append((int(tree.left_child[current]), child, True))
            else:
                child = nodes.add_leaf(target, float(tree.leaf_value[~current]))
                is_leaf = True
            if parent < 0:
                nodes.roots.append(child)
            else:
                nodes.link(parent, left, child, is_leaf)
    return nodes


def _add_split(nodes: _Nodes, tree: _forest.Tree, node: int, n_features: int) -> int:
    feature = int(tree.split_feature[node])
    if tree.is_categorical(node):
        nodes.categorical.add(feature)
        members = [float(c) for c in tree.categories(node)]
        nodes.membership.extend([*members, np.nan])  # sets are separated by NaN
        return nodes.add_node(feature, _BRANCH_MEMBER, 0.0, False)
    # The threshold exactly as the model holds it: LightGBM stores every threshold finite
    # (AvoidInf clamps to ±1e300) and compares against that, so an input beyond 1e300 goes right.
    threshold = float(tree.threshold[node])
    missing = tree.missing_type(node)
    default_left = tree.default_left(node)
    if missing == _forest.MISSING_NAN:
        tracks_true = default_left
    elif missing == _forest.MISSING_ZERO:
        feature = nodes.zero_features.setdefault(feature, n_features + len(nodes.zero_features))
        tracks_true = default_left
    else:  # None: NaN is read as 0.0 and compared
        tracks_true = threshold >= 0.0
    return nodes.add_node(feature, _BRANCH_LEQ, threshold, tracks_true)


def add_ensemble(g: GraphBuilder, features: str, forest: _forest.Forest) -> str:
    """Add the trees reading ``features`` ``[N, F]``; return the raw scores ``[N, K]``."""
    nodes = _convert(forest)
    n_features = forest.num_feature
    limit = g.const(np.array(K_ZERO_THRESHOLD), "k_zero_threshold")
    near_zero = g.op("LessOrEqual", [g.op("Abs", [features], "abs"), limit], "near_zero")
    value = g.op("Where", [near_zero, g.const(np.array(0.0), "zero"), features], "zeroed")
    if nodes.categorical:
        in_range = g.op(
            "And",
            [
                g.op("Greater", [value, g.const(np.array(-1.0), "minus_one")], "above_minus_one"),
                g.op("Less", [value, g.const(np.array(_INT_LIMIT), "int_limit")], "below_int_max"),
            ],
            "int_range",
        )
        truncated = g.op(
            "Floor", [g.op("Max", [value, g.const(np.array(0.0), "zero")], "nonneg")], "trunc"
        )
        code = g.op("Where", [in_range, truncated, g.const(np.array(-1.0), "right")], "code")
        mask = np.zeros((1, n_features), dtype=bool)
        mask[0, sorted(nodes.categorical)] = True
        value = g.op("Where", [g.const(mask, "is_categorical"), code, value], "with_codes")
    if nodes.zero_features:
        as_missing = g.op("Or", [g.op("IsNaN", [features], "nan"), near_zero], "zero_or_nan")
        missing = g.op(
            "Where", [as_missing, g.const(np.array(np.nan), "nan"), features], "zero_as_nan"
        )
        index = g.const(np.array(list(nodes.zero_features), dtype=np.int64), "zero_features")
        copies = g.op("Gather", [missing, index], "zero_copies", axis=1)
        value = g.op("Concat", [value, copies], "tree_input", axis=1)
    attributes: dict[str, Any] = {
        "aggregate_function": _SUM,
        "post_transform": 0,  # NONE: the link is applied by ops that match LightGBM's formula
        "n_targets": forest.num_class,
        "tree_roots": nodes.roots,
        "nodes_featureids": nodes.featureids,
        "nodes_modes": tensor_attribute(np.array(nodes.modes, dtype=np.uint8)),
        "nodes_splits": tensor_attribute(np.array(nodes.splits, dtype=np.float64)),
        "nodes_missing_value_tracks_true": nodes.tracks_true,
        "nodes_truenodeids": nodes.truenodeids,
        "nodes_trueleafs": nodes.trueleafs,
        "nodes_falsenodeids": nodes.falsenodeids,
        "nodes_falseleafs": nodes.falseleafs,
        "leaf_targetids": nodes.leaf_targetids,
        "leaf_weights": tensor_attribute(np.array(nodes.leaf_weights, dtype=np.float64)),
    }
    if nodes.membership:
        attributes["membership_values"] = tensor_attribute(
            np.array(nodes.membership, dtype=np.float64)
        )
    return g.op("TreeEnsemble", [value], "raw_score", domain=ML_DOMAIN, **attributes)


@dataclass(frozen=True)
class Link:
    """LightGBM's output transform: ``kind`` is binary, multiclass or value; ``width`` columns."""

    kind: str
    width: int
    function: str  # sigmoid, softmax, exp, sqrt or identity
    sigmoid: float = 1.0


def link_of(forest: _forest.Forest) -> Link:
    """The model's output transform as the IR reads it; binary gives both columns ``[1 - p, p]``
    here."""
    link = forest.link
    width = 2 if link.kind == "binary" else link.width
    return Link(link.kind, width, link.function, link.sigmoid)


def add_link(g: GraphBuilder, raw: str, forest: _forest.Forest, *, output: str) -> Link:
    """Turn raw scores into LightGBM's ``predict`` output, named ``output``."""
    link = link_of(forest)
    if forest.average_output:
        # rf mode: LightGBM divides the sum by the number of iterations used
        iterations = float(forest.num_iterations)
        raw = g.op("Div", [raw, g.const(np.array(iterations), "iterations")], "average")
    if link.function == "sigmoid":
        # 1 / (1 + exp(-sigmoid * s)), as LightGBM writes it
        scaled = g.op("Mul", [raw, g.const(np.array(-link.sigmoid), "minus_sigmoid")], "scaled")
        one = g.const(np.array(1.0), "one")
        denominator = g.op("Add", [g.op("Exp", [scaled], "exp"), one], "denominator")
        p = g.op("Reciprocal", [denominator], "probability")
        if link.kind == "binary":
            q = g.op("Sub", [one, p], "complement")
            g.op("Concat", [q, p], "probabilities", output=output, axis=1)
        else:
            g.op("Identity", [p], "probabilities", output=output)
    elif link.function == "softmax":
        # exp(s - max) / sum, as LightGBM's Common::Softmax
        axes = g.const(np.array([1], dtype=np.int64), "axes")
        top = g.op("ReduceMax", [raw, axes], "max", keepdims=1)
        exps = g.op("Exp", [g.op("Sub", [raw, top], "shifted")], "exps")
        total = g.op("ReduceSum", [exps, axes], "total", keepdims=1)
        g.op("Div", [exps, total], "softmax", output=output)
    elif link.function == "exp":
        g.op("Exp", [raw], "exp", output=output)
    elif link.function == "sqrt":
        # sign(s) * s * s, which is s * |s| exactly
        g.op("Mul", [raw, g.op("Abs", [raw], "abs")], "squared", output=output)
    else:
        g.op("Identity", [raw], "value", output=output)
    return link


def ensemble_model(forest: _forest.Forest) -> onnx.ModelProto:
    """The trees alone: the feature matrix ``features`` ``[N, F]`` in, ``prediction`` out.

    Used to check the trees on feature-space probes that no raw input can produce.
    """
    g = GraphBuilder()
    n_features = forest.num_feature
    raw = add_ensemble(g, "features", forest)
    link = add_link(g, raw, forest, output="prediction")
    inputs = [helper.make_tensor_value_info("features", TensorProto.DOUBLE, ["N", n_features])]
    return g.model(
        inputs,
        [matrix_output("prediction", link.width)],
        name="edgeml_trees",
        metadata={"edgeml.output": link.kind},
    )
