"""One typed model IR: a LightGBM model text read once into plain dataclasses and NumPy arrays.

LightGBM's own layout is kept (it is what its predictor walks): per tree, internal node ``i``
splits on ``split_feature[i]``; a child ``c >= 0`` is internal node ``c``, ``c < 0`` is leaf
``~c``. What each field means for a decision (``Tree::NumericalDecision`` and
``CategoricalDecision`` in LightGBM's ``tree.h``):

- ``decision_type`` bit 0: categorical; bit 1: default left; bits 2-3: missing type
  (0 None: NaN is read as 0.0; 1 Zero: 0 and NaN go the default way; 2 NaN: NaN goes the
  default way);
- numeric: left iff ``x <= threshold``; categorical: ``threshold`` indexes ``cat_boundaries``,
  whose words of ``cat_threshold`` are a bitset of the categories that go left (``int(x)``;
  NaN and negative go right);
- every value with ``|x| <= K_ZERO`` is read as 0.0 first (LightGBM's dense row reader);
- the output of class ``k`` sums the leaves of trees ``k, k + K, k + 2K, ...`` in tree order,
  divided by the number of iterations for ``average_output`` (random forest), then the link.

Consumers: the native engine's tables (``_native_tables``), the parity gate's split values.

>>> import lightgbm as lgb
>>> x = np.random.default_rng(0).normal(size=(200, 2))
>>> b = lgb.train({"verbosity": -1, "num_leaves": 4}, lgb.Dataset(x, x[:, 0]), 2)
>>> forest = parse_model(b.model_to_string())
>>> forest.num_feature, forest.num_class, len(forest.trees), forest.link.function
(2, 1, 2, 'identity')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgeml.errors import ExportError

__all__ = [
    "CATEGORICAL",
    "DEFAULT_LEFT",
    "K_ZERO",
    "MISSING_NAN",
    "MISSING_NONE",
    "MISSING_ZERO",
    "Forest",
    "Link",
    "Tree",
    "parse_model",
]

K_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (the float 1e-35f as a double)
CATEGORICAL, DEFAULT_LEFT = 1, 2  # decision_type bits
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2  # (decision_type >> 2) & 3

_IDENTITY = {"regression", "regression_l2", "regression_l1", "huber", "fair", "quantile", "mape",
             "custom", "none", "lambdarank", "rank_xendcg"}  # fmt: skip
_EXP = {"poisson", "gamma", "tweedie"}
_OVA = {"multiclassova", "multiclass_ova", "ova", "ovr"}


@dataclass(frozen=True)
class Link:
    """LightGBM's output transform: ``kind`` binary, multiclass or value; ``width`` columns of
    ``Booster.predict`` (binary: 1, the positive class); ``function`` sigmoid, softmax, exp,
    sqrt or identity."""

    kind: str
    width: int
    function: str
    sigmoid: float = 1.0


@dataclass(frozen=True, kw_only=True)
class Tree:
    """One tree in LightGBM's arrays (see the module docstring); ``index`` is its position."""

    index: int
    split_feature: np.ndarray  # int32 (num_leaves - 1)
    threshold: np.ndarray  # float64: numeric threshold, or cat_boundaries index
    decision_type: np.ndarray  # int8
    left_child: np.ndarray  # int32: >= 0 internal node, < 0 leaf ~c
    right_child: np.ndarray  # int32
    leaf_value: np.ndarray  # float64 (num_leaves)
    cat_boundaries: np.ndarray  # int64 word offsets into cat_threshold
    cat_threshold: np.ndarray  # uint32 bitset words
    leaf_count: np.ndarray  # int64 training rows per leaf (zeros when the text has none)

    @property
    def num_leaves(self) -> int:
        return len(self.leaf_value)

    def is_categorical(self, node: int) -> bool:
        return bool(self.decision_type[node] & CATEGORICAL)

    def default_left(self, node: int) -> bool:
        return bool(self.decision_type[node] & DEFAULT_LEFT)

    def missing_type(self, node: int) -> int:
        return (int(self.decision_type[node]) >> 2) & 3

    def categories(self, node: int) -> list[int]:
        """The categories a categorical node sends left."""
        at = int(self.threshold[node])
        words = self.cat_threshold[self.cat_boundaries[at] : self.cat_boundaries[at + 1]]
        bits = np.unpackbits(words.astype("<u4").view(np.uint8), bitorder="little")
        return np.flatnonzero(bits).tolist()

    def depth(self) -> int:
        """Edges on the longest root-to-leaf path (0 for a one-leaf tree)."""
        return int(self.leaf_depths().max(initial=0))

    def leaf_depths(self) -> np.ndarray:
        """Edges from the root to each leaf."""
        depths = np.zeros(self.num_leaves, dtype=np.int64)
        stack = [(0, 1)] if self.num_leaves > 1 else []
        while stack:
            node, level = stack.pop()
            for child in (int(self.left_child[node]), int(self.right_child[node])):
                if child >= 0:
                    stack.append((child, level + 1))
                else:
                    depths[~child] = level
        return depths


@dataclass(frozen=True, kw_only=True)
class Forest:
    """A LightGBM model: trees in LightGBM's order (class ``i % num_class`` for tree ``i``)."""

    num_feature: int
    num_class: int  # trees per iteration (1 unless multiclass)
    objective: str
    link: Link
    average_output: bool
    trees: list[Tree] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)

    @property
    def num_iterations(self) -> int:
        return max(len(self.trees) // max(self.num_class, 1), 1)

    def split_values(self) -> dict[int, set[float]]:
        """Per feature: every numeric threshold, or every category named in a split."""
        values: dict[int, set[float]] = {}
        for tree in self.trees:
            for node, feature in enumerate(tree.split_feature.tolist()):
                found = values.setdefault(feature, set())
                if tree.is_categorical(node):
                    found.update(float(c) for c in tree.categories(node))
                else:
                    found.add(float(tree.threshold[node]))
        return values

    def split_features(self) -> set[int]:
        return {f for tree in self.trees for f in tree.split_feature.tolist()}


def parse_model(text: str) -> Forest:
    """Read LightGBM's model text (``Booster.model_to_string()``); ExportError if malformed or
    holding what no edgeml engine expresses (linear trees), naming the tree and node."""
    header, blocks = _blocks(text)
    try:
        num_feature = int(header["max_feature_idx"]) + 1
        num_class = int(header.get("num_tree_per_iteration", header.get("num_class", "1")))
    except (KeyError, ValueError) as exc:
        raise ExportError(f"LightGBM model text: bad or missing header field ({exc})") from None
    objective = header.get("objective", "none")
    trees = [_tree(index, block, num_feature) for index, block in enumerate(blocks)]
    return Forest(
        num_feature=num_feature,
        num_class=num_class,
        objective=objective,
        link=link_of(objective, num_class),
        average_output="average_output" in header,
        trees=trees,
        feature_names=header.get("feature_names", "").split(),
    )


def link_of(objective: str, num_class: int) -> Link:
    """The output transform named by an objective line (``"binary sigmoid:1"``)."""
    tokens = objective.split()
    name = tokens[0] if tokens else "none"
    params = dict(t.split(":", 1) for t in tokens[1:] if ":" in t)
    if name == "binary":
        return Link("binary", 1, "sigmoid", float(params.get("sigmoid", 1.0)))
    if name in ("multiclass", "softmax"):
        return Link("multiclass", num_class, "softmax")
    if name in _OVA:
        return Link("multiclass", num_class, "sigmoid", float(params.get("sigmoid", 1.0)))
    if name in ("cross_entropy", "xentropy"):
        return Link("value", 1, "sigmoid")
    if name in _EXP:
        return Link("value", 1, "exp")
    if name in _IDENTITY:
        return Link("value", 1, "sqrt" if "sqrt" in tokens[1:] else "identity")
    raise ExportError(
        f"LightGBM objective {name!r} is not supported (supported: binary, multiclass, "
        "multiclassova, cross_entropy, regression and its variants, poisson, gamma, tweedie)"
    )


# -- the text ------------------------------------------------------------------------------------


def _blocks(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header's ``key=value`` lines (a bare key maps to "") and each ``Tree=`` block's."""
    header: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("Tree="):
            current = {}
            blocks.append(current)
        elif line.startswith("end of trees"):
            break
        elif line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return header, blocks


def _tree(index: int, block: dict[str, str], num_feature: int) -> Tree:
    where = f"LightGBM model text, tree {index}"
    if block.get("is_linear", "0") not in ("0", ""):
        raise ExportError(
            f"{where}: a linear tree (linear_tree=true) has a linear model in each leaf; "
            "edgeml's engines express constant leaves only: retrain without linear_tree"
        )
    try:
        leaves = int(block["num_leaves"])
        leaf_value = _array(block.get("leaf_value", ""), np.float64)
        if leaves <= 1:
            empty = np.zeros(0, dtype=np.int32)
            return Tree(
                index=index, split_feature=empty, threshold=np.zeros(0), decision_type=
                empty.astype(np.int8), left_child=empty, right_child=empty,
                leaf_value=leaf_value[:1], cat_boundaries=np.zeros(1, dtype=np.int64),
                cat_threshold=np.zeros(0, dtype=np.uint32), leaf_count=np.zeros(1, np.int64),
            )  # fmt: skip
        tree = Tree(
            index=index,
            split_feature=_array(block["split_feature"], np.int32),
            threshold=_array(block["threshold"], np.float64),
            decision_type=_array(block["decision_type"], np.int8),
            left_child=_array(block["left_child"], np.int32),
            right_child=_array(block["right_child"], np.int32),
            leaf_value=leaf_value,
            cat_boundaries=_array(block.get("cat_boundaries", "0"), np.int64),
            cat_threshold=_array(block.get("cat_threshold", ""), np.uint32),
            leaf_count=_array(block.get("leaf_count", ""), np.int64),
        )
    except (KeyError, ValueError, OverflowError) as exc:
        raise ExportError(f"{where}: bad or missing field ({exc})") from None
    _check(tree, leaves, num_feature, where)
    return tree


def _array(text: str, dtype: type) -> np.ndarray:
    if dtype is np.float64:
        return np.array([float(v) for v in text.split()], dtype=np.float64)
    return np.array([int(v) for v in text.split()], dtype=dtype)


def _check(tree: Tree, leaves: int, num_feature: int, where: str) -> None:
    """Every index in range, so consumers can walk the tree without checks of their own."""
    internal = leaves - 1
    sizes = {len(tree.split_feature), len(tree.threshold), len(tree.decision_type),
             len(tree.left_child), len(tree.right_child)}  # fmt: skip
    if (
        sizes != {internal}
        or len(tree.leaf_value) != leaves
        or len(tree.leaf_count)
        not in (
            0,
            leaves,
        )
    ):
        raise ExportError(f"{where}: array lengths do not match num_leaves={leaves}")
    for node in range(internal):
        feature = int(tree.split_feature[node])
        if not 0 <= feature < num_feature:
            raise ExportError(f"{where}, node {node}: feature {feature} out of range")
        for child in (int(tree.left_child[node]), int(tree.right_child[node])):
            if not (-leaves <= child < internal) or child == 0:
                raise ExportError(f"{where}, node {node}: child {child} out of range")
        if tree.is_categorical(node):
            at = int(tree.threshold[node])
            bounds = tree.cat_boundaries
            if not (0 <= at < len(bounds) - 1) or not (
                0 <= bounds[at] <= bounds[at + 1] <= len(tree.cat_threshold)
            ):
                raise ExportError(f"{where}, node {node}: category set {at} out of range")
        elif np.isnan(tree.threshold[node]):
            raise ExportError(f"{where}, node {node}: NaN threshold")
