"""The native engine's table blob: a :class:`~edgeml.compile._forest.Forest` as flat arrays.

Layout (little-endian; ``kernels/edgeml_forest.h`` reads it and checks every index):

- an 80-byte header: magic ``EDGEMLFT``, version, header size, the counts (features, outputs,
  trees, nodes, slots, thresholds, bitset words), link, flags, iterations, sigmoid, CRC-32 of
  the blob (its own field read as zeros) and the total size;
- per feature, the offset of its sorted unique numeric thresholds, then the thresholds;
- slots: ``(feature, variant)``, sorted by feature; every node reads one slot's integer code.
  A categorical split reads a category-set slot (variant ``IN_SET | offset << 8``: 0 when the
  category is in the set at ``words[offset]``, 1 when not) as the numeric split "code > 0 goes
  right", so categorical models take the compact and narrow layouts too;
- per tree ``(root, depth, output, by_depth, check, 0, 0, 0)`` (``by_depth[i]``: the i-th
  tree by depth; ``check``: steps before the engine first tests whether its rows are done);
- nodes breadth first as four arrays ``threshold``, ``slot`` (times 8, the engine's lanes),
  ``left`` and ``cat``: children adjacent (right = left + 1), a leaf looping to itself with
  threshold ``UINT32_MAX``; or, when the model allows it (flag 2, "compact": fewer than 65,535
  thresholds per feature and 8,192 slots), two uint32 per node,
  ``left`` and ``threshold << 16 | slot``, a leaf's threshold ``0xFFFF``; or, when it also has
  at most 256 slots and every left child lies at most 255 nodes after its parent (flag 128,
  "narrow"), one uint32 per node, ``threshold << 16 | slot << 8 | delta`` (the left child is
  ``delta`` nodes on), a leaf ``0xFFFF0000``;
- per node its leaf value (0.0 for internal nodes; float64, or float32 with flag 32); the
  category sets, each its count of words then its bitset words;
- flag 4: a QuickScorer section (``_native_qs``) for forests whose trees have at most 64
  leaves and whose categorical splits (if any) read category-set slots; flags 8 and 16:
  single rows / batches run it instead of the walk (chosen by measurement at export,
  ``_native_choice``).

>>> import lightgbm as lgb
>>> x = np.random.default_rng(0).normal(size=(200, 2))
>>> b = lgb.train({"verbosity": -1, "num_leaves": 4}, lgb.Dataset(x, x[:, 0]), 2)
>>> blob = forest_blob(parse_model(b.model_to_string()))
>>> blob[:8], len(blob) % 8
(b'EDGEMLFT', 0)
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgeml.compile._forest import (
    MISSING_NAN,
    MISSING_ZERO,
    Forest,
    Tree,
    parse_model,
)
from edgeml.compile._native_qs import QuickScorer, quickscorer, section
from edgeml.errors import ConfigError, ExportError

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "VERSION",
    "Tables",
    "float32_option",
    "forest_blob",
    "forest_tables",
    "pack",
]

MAGIC = b"EDGEMLFT"
VERSION = 2
HEADER_SIZE = 80
NONE, NAN_LEFT, NAN_RIGHT, ZERO_LEFT, ZERO_RIGHT, CATEGORY, IN_SET = range(7)
LINKS = {"identity": 0, "sigmoid": 1, "softmax": 2, "exp": 3, "sqrt": 4}
LEAF = 0xFFFFFFFF  # a leaf's threshold: no code is above it, so it never moves
NO_CAT = 0xFFFFFFFF
LANES = 8  # EDGEML_FOREST_LANES: node slots are stored times this
CHECK_SHARE = 0.98  # see _check_steps
_AVERAGE, _COMPACT, _QS = 1, 2, 4
_NARROW = 128  # EDGEML_FOREST_NARROW
NARROW_SLOTS = 256  # a narrow node's slot is one byte
NARROW_DELTA = 255  # and so is the distance to its left child
QS_ROW, QS_BATCH = 8, 16  # EDGEML_FOREST_QS_ROW, EDGEML_FOREST_QS_BATCH
_F32 = 32  # EDGEML_FOREST_F32
COMPACT_LEAF = 0xFFFF  # a compact leaf's threshold (EDGEML_COMPACT_LEAF)
MANY_SETS = 256  # category sets any forest may read as slots (see forest_tables)


@dataclass(frozen=True, kw_only=True)
class Tables:
    """The forest's flat arrays (see the module docstring)."""

    num_feature: int
    num_output: int
    link: int
    flags: int
    iterations: int
    sigmoid: float
    feature_start: np.ndarray  # uint32 (F + 1)
    thresholds: np.ndarray  # float64
    slots: np.ndarray  # uint32 (S, 2)
    trees: np.ndarray  # uint32 (T, 8)
    nodes: np.ndarray  # uint32 (N, 4)
    values: np.ndarray  # float64 (N)
    words: np.ndarray  # uint32
    compact: bool = False  # nodes packed as two uint32 each in the blob
    narrow: bool = False  # compact nodes packed as one uint32 each instead (see _narrow_fits)
    qs: QuickScorer | None = None  # the QuickScorer section, where the forest allows one
    qs_use: int = 0  # QS_ROW | QS_BATCH: where the engine runs QuickScorer (chosen at export)
    float32: bool = False  # leaf values stored as float32 (flag 32; export checks parity)


def _variant(tree: Tree, node: int, sets: dict[tuple[int, ...], int]) -> int:
    if tree.is_categorical(node):
        return sets[_bitset(tree, node)] if sets else CATEGORY
    missing, left = tree.missing_type(node), tree.default_left(node)
    if missing == MISSING_NAN:
        return NAN_LEFT if left else NAN_RIGHT
    if missing == MISSING_ZERO:
        return ZERO_LEFT if left else ZERO_RIGHT
    return NONE  # MISSING_NONE: NaN reads as 0.0


def _category_sets(forest: Forest) -> tuple[list[int], dict[tuple[int, ...], int]]:
    """The forest's distinct category sets as the engine's words (each set its count of words,
    then its bitset: trailing zero words dropped) and, per set, its slot variant (IN_SET with
    the set's word offset above the low byte)."""
    words: list[int] = []
    variant: dict[tuple[int, ...], int] = {}
    for tree in forest.trees:
        for node in np.flatnonzero(tree.decision_type & 1).tolist():
            bitset = _bitset(tree, node)
            if bitset not in variant:
                variant[bitset] = IN_SET | len(words) << 8
                words += [len(bitset), *bitset]
    return words, variant


def _bitset(tree: Tree, node: int) -> tuple[int, ...]:
    at = int(tree.threshold[node])
    bits = tree.cat_threshold[tree.cat_boundaries[at] : tree.cat_boundaries[at + 1]].tolist()
    while bits and bits[-1] == 0:
        bits.pop()
    return tuple(bits)


def forest_tables(forest: Forest, *, category_sets: bool | None = None) -> Tables:
    """Lay the forest out as the engine reads it.

    Categorical splits read category-set slots (``category_sets``; by default where the forest
    has at most ``max(256, 4 x trees)`` distinct sets): every row then pays one bitset lookup
    per set while its codes are computed, and the trees walk the compact or narrow layout (half
    the steps' cost of the wide one, measured on a 200-tree telco model). With more sets than
    that, the lookups would outweigh the walk, so categorical nodes stay in the wide layout and
    test their bitsets only where a row reaches them.

    Trees that are a single leaf of value 0.0 are left out: adding +0.0 changes no sum (at
    most -0.0 becomes +0.0, the same number), and LightGBM's multiclass models are full of
    them once a class stops improving (a 10-class model here: 624 of its 790 trees), each
    costing the engine a visit per row.
    """
    forest = replace(forest, trees=[t for t in forest.trees if not _adds_nothing(t)])
    words, sets = _category_sets(forest)
    if category_sets is None:
        category_sets = len(sets) <= max(MANY_SETS, 4 * len(forest.trees))
    if not category_sets:
        words, sets = [], {}
    per_feature: list[list[np.ndarray]] = [[] for _ in range(forest.num_feature)]
    slot_set: set[tuple[int, int]] = set()
    variants: list[np.ndarray] = []
    for tree in forest.trees:
        kinds = np.array(
            [_variant(tree, i, sets) for i in range(len(tree.split_feature))], np.int64
        )
        variants.append(kinds)
        slot_set.update(zip(tree.split_feature.tolist(), kinds.tolist(), strict=True))
        numeric = ((kinds & 0xFF) != IN_SET) & (kinds != CATEGORY)
        for feature in np.unique(tree.split_feature[numeric]).tolist():
            per_feature[feature].append(tree.threshold[numeric & (tree.split_feature == feature)])
    uniques = [np.unique(np.concatenate(t)) if t else np.zeros(0) for t in per_feature]
    feature_start = np.zeros(forest.num_feature + 1, dtype=np.uint32)
    feature_start[1:] = np.cumsum([len(u) for u in uniques])
    slots = sorted(slot_set) or [(0, NONE)]
    slot_index = {s: i for i, s in enumerate(slots)}
    nodes: list[tuple[int, int, int, int]] = []
    values: list[float] = []
    trees = np.zeros((len(forest.trees), 8), dtype=np.uint32)
    # per LightGBM node its (slot, threshold index), as _lay_out finds them: QuickScorer's input
    rules = [np.zeros((len(tree.split_feature), 2), dtype=np.int64) for tree in forest.trees]
    for i, (tree, kinds) in enumerate(zip(forest.trees, variants, strict=True)):
        root, depth = _lay_out(tree, kinds, uniques, slot_index, nodes, values, words, rules[i])
        check = _check_steps(tree, depth)
        trees[i, [0, 1, 2, 4]] = root, depth, tree.index % forest.num_class, check
    trees[:, 3] = np.argsort(trees[:, 1], kind="stable")
    counts = np.diff(feature_start)
    compact = (
        len(slots) * LANES < COMPACT_LEAF
        and all(kind != CATEGORY for _, kind in slots)
        and (len(counts) == 0 or int(counts.max()) < COMPACT_LEAF)
    )
    node_array = np.array(nodes, dtype=np.uint32).reshape(-1, 4)
    qs = None
    if all(kind != CATEGORY for _, kind in slots):
        highest = [1 if (kind & 0xFF) == IN_SET else int(counts[f]) for f, kind in slots]
        node_slots, node_ks = [r[:, 0] for r in rules], [r[:, 1] for r in rules]
        qs = quickscorer(forest, node_slots, node_ks, np.array(highest, dtype=np.int64))
    return Tables(
        qs=qs,
        compact=compact,
        narrow=compact and _narrow_fits(node_array, len(slots)),
        num_feature=forest.num_feature,
        num_output=forest.num_class,
        link=LINKS[forest.link.function],
        flags=_AVERAGE if forest.average_output else 0,
        iterations=forest.num_iterations,
        sigmoid=forest.link.sigmoid,
        feature_start=feature_start,
        thresholds=np.concatenate([np.zeros(0), *uniques]).astype(np.float64),
        slots=np.array(slots, dtype=np.uint32).reshape(-1, 2),
        trees=trees,
        nodes=node_array,
        values=np.array(values, dtype=np.float64),
        words=np.array(words, dtype=np.uint32),
    )


def _narrow_fits(nodes: np.ndarray, n_slots: int) -> bool:
    """Whether a compact forest's nodes fit the narrow layout: one byte for the slot and one
    for the distance from a node to its left child (breadth first, a tree of up to 255 nodes
    always fits: LightGBM's 127 leaves; deeper or wider trees fit when their levels are
    narrow)."""
    internal = nodes[:, 0] != LEAF
    delta = nodes[internal, 2].astype(np.int64) - np.flatnonzero(internal)
    return n_slots <= NARROW_SLOTS and (delta.size == 0 or int(delta.max()) <= NARROW_DELTA)


def _adds_nothing(tree: Tree) -> bool:
    return tree.num_leaves <= 1 and float(tree.leaf_value[0]) == 0.0


def _check_steps(tree: Tree, depth: int) -> int:
    """Steps after which the engine first asks whether a group's rows all reached leaves: the
    depth by which CHECK_SHARE of the training rows did (LightGBM's leaf_count)."""
    counts, depths = tree.leaf_count, tree.leaf_depths()
    if len(counts) != len(depths) or counts.sum() <= 0:
        return depth
    order = np.argsort(depths, kind="stable")
    share = np.cumsum(counts[order]) / counts.sum()
    at = min(int(np.searchsorted(share, CHECK_SHARE)), len(order) - 1)
    return int(depths[order][at])


def _lay_out(
    tree: Tree,
    kinds: np.ndarray,
    uniques: list[np.ndarray],
    slot_index: dict[tuple[int, int], int],
    nodes: list[tuple[int, int, int, int]],
    values: list[float],
    words: list[int],
    rules: np.ndarray,
) -> tuple[int, int]:
    """Append one tree breadth first; return its root index and depth. ``rules[node]``
    receives each LightGBM node's (slot, threshold index): a categorical node is threshold 0
    on its category set's slot (code 0 in the set, goes left; 1 not, goes right)."""
    root = len(nodes)
    if tree.num_leaves <= 1:
        nodes.append((LEAF, 0, root, NO_CAT))
        values.append(float(tree.leaf_value[0]))
        return root, 0
    # LightGBM child c: internal node c if c >= 0, else leaf ~c
    nodes.append((0, 0, 0, 0))
    values.append(0.0)
    queue: deque[tuple[int, int, int]] = deque([(0, root, 0)])  # (lightgbm child, position, level)
    depth = 0
    splits, thresholds = tree.split_feature, tree.threshold
    while queue:
        child, position, level = queue.popleft()
        depth = max(depth, level)
        if child < 0:
            nodes[position] = (LEAF, 0, position, NO_CAT)
            values[position] = float(tree.leaf_value[~child])
            continue
        feature, kind = int(splits[child]), int(kinds[child])
        left = len(nodes)
        nodes += [(0, 0, 0, 0), (0, 0, 0, 0)]
        values += [0.0, 0.0]
        slot = slot_index[(feature, kind)]
        if kind == CATEGORY:  # the wide layout: the node tests its own bitset
            bitset = _bitset(tree, child)
            nodes[position] = (32 * len(bitset), LANES * slot, left, len(words))
            words.extend(bitset)
        else:
            in_set = (kind & 0xFF) == IN_SET
            k = 0 if in_set else int(np.searchsorted(uniques[feature], thresholds[child]))
            nodes[position] = (k, LANES * slot, left, NO_CAT)
            rules[child] = slot, k
        queue.append((int(tree.left_child[child]), left, level + 1))
        queue.append((int(tree.right_child[child]), left + 1, level + 1))
    return root, depth


def float32_option(options: Mapping[str, Any], backend: str) -> bool:
    """Whether export ``options`` ask for float32 leaf values (``leaf_values``: ``float64``,
    the default, or ``float32``); ConfigError on anything else.

    >>> float32_option({"leaf_values": "float32"}, "native"), float32_option({}, "c")
    (True, False)
    """
    unknown = sorted(set(options) - {"leaf_values"})
    value = options.get("leaf_values", "float64")
    if unknown or value not in ("float64", "float32"):
        what = f"unknown option(s) {', '.join(unknown)}" if unknown else f"leaf_values={value!r}"
        raise ConfigError(
            f"{backend} export: {what}; the one option is leaf_values = float64 | float32"
        )
    return bool(value == "float32")


def forest_blob(forest: Forest | str, *, quickscorer: bool = True, float32: bool = False) -> bytes:
    """The blob ``edgeml_forest_open`` maps (a Forest, or LightGBM model text to parse); the
    walk runs it. ``quickscorer=False`` leaves the QuickScorer section out (a device package,
    which walks), ``float32`` stores leaf values as float32."""
    tables = forest_tables(parse_model(forest) if isinstance(forest, str) else forest)
    return pack(replace(tables, qs=tables.qs if quickscorer else None, float32=float32))


def _node_sections(tables: Tables) -> list[bytes]:
    """Four uint32 arrays, or when compact two uint32 per node: ``left`` and ``threshold << 16 |
    slot`` (a leaf's threshold becomes COMPACT_LEAF), or when narrow one uint32 per node."""
    nodes = tables.nodes
    if tables.narrow and tables.compact:  # narrow refines compact: compact=False is wide
        if not _narrow_fits(nodes, len(tables.slots)):
            raise ExportError(
                f"the narrow node layout cannot hold this forest ({len(tables.slots)} slots, "
                f"at most {NARROW_SLOTS}; a left child at most {NARROW_DELTA} nodes on)"
            )
        return [_narrow_nodes(nodes).astype("<u4").tobytes()]
    if not tables.compact:
        return [nodes[:, k].astype("<u4").tobytes() for k in range(4)]
    threshold = np.where(nodes[:, 0] == LEAF, COMPACT_LEAF, nodes[:, 0]).astype(np.uint32)
    packed = np.column_stack([nodes[:, 2], threshold << np.uint32(16) | nodes[:, 1]])
    return [packed.astype("<u4").tobytes()]


def _narrow_nodes(nodes: np.ndarray) -> np.ndarray:
    """``threshold << 16 | slot << 8 | delta`` per node; a leaf ``COMPACT_LEAF << 16`` (delta 0:
    it stays; slot 0: the walk reads a code it cannot go right on)."""
    internal = nodes[:, 0] != LEAF
    delta = nodes[:, 2].astype(np.int64) - np.arange(len(nodes))
    word = nodes[:, 0].astype(np.int64) << 16 | (nodes[:, 1] // LANES).astype(np.int64) << 8 | delta
    return np.where(internal, word, COMPACT_LEAF << 16).astype(np.uint32)


def _layout_flag(tables: Tables) -> int:
    if not tables.compact:
        return 0
    return _NARROW if tables.narrow else _COMPACT


def pack(tables: Tables) -> bytes:
    """Tables as a blob: header, sections padded to 8 bytes, CRC-32."""
    sections = [
        tables.feature_start.astype("<u4").tobytes(),
        tables.thresholds.astype("<f8").tobytes(),
        tables.slots.astype("<u4").tobytes(),
        tables.trees.astype("<u4").tobytes(),
        *_node_sections(tables),
        tables.values.astype("<f4" if tables.float32 else "<f8").tobytes(),
        tables.words.astype("<u4").tobytes(),
    ]
    body = b"".join(s + b"\0" * (-len(s) % 8) for s in sections)
    flags = tables.flags | _layout_flag(tables) | (_F32 if tables.float32 else 0)
    if tables.qs is not None:
        body += section(tables.qs, float32=tables.float32)
        flags |= _QS | tables.qs_use
    counts = (tables.num_feature, tables.num_output, len(tables.trees), len(tables.nodes),
              len(tables.slots), len(tables.thresholds), len(tables.words))  # fmt: skip
    size = HEADER_SIZE + len(body)

    def header(checksum: int) -> bytes:
        return struct.pack(
            "<8sII7IIIIdQQ", MAGIC, VERSION, HEADER_SIZE, *counts, tables.link, flags,
            tables.iterations, tables.sigmoid, checksum, size,
        )  # fmt: skip

    checksum = zlib.crc32(header(0) + body)
    return header(checksum) + body
