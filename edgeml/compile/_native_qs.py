"""The QuickScorer section of the engine's blob (``kernels/edgeml_forest_qs.c``).

QuickScorer scores a row by ANDing, into one 64-bit vector per tree (its leaves left to right),
the mask of every node the row does not take left; the exit leaf is the lowest set bit. The
engine already maps each row to one integer code per slot, and a node goes right iff its
slot's code is above its threshold index ``k``, so a slot's false nodes are a prefix of its
nodes sorted by ``k``: ``bound[slot][code]`` gives the prefix's end, and no node is compared.

Only for forests whose categorical splits read category-set slots (codes 0 and 1, one
threshold) and whose trees have at most 64 leaves (one uint64 per tree); other forests get no
section and are always walked.

>>> import lightgbm as lgb
>>> x = np.random.default_rng(0).normal(size=(200, 2))
>>> b = lgb.train({"verbosity": -1, "num_leaves": 4}, lgb.Dataset(x, x[:, 0]), 2)
>>> from edgeml.compile._forest import parse_model
>>> from edgeml.compile._native_tables import forest_tables
>>> qs = forest_tables(parse_model(b.model_to_string())).qs
>>> qs.leaf_start.tolist(), bool((qs.masks >> np.uint64(3) & np.uint64(1)).all())
([0, 4, 8], True)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from edgeml.compile._forest import Forest, Tree

__all__ = ["MAGIC", "MAX_LEAVES", "VERSION", "QuickScorer", "quickscorer", "section"]

MAGIC = b"EDGEMLQS"
VERSION = 2  # EDGEML_QS_VERSION
MAX_LEAVES = 64  # leaves of a tree: one uint64 bitvector


@dataclass(frozen=True)
class QuickScorer:
    """The section's arrays (see kernels/edgeml_forest.h)."""

    slot_start: np.ndarray  # uint32 (S + 1)
    bound_start: np.ndarray  # uint32 (S + 1)
    bound: np.ndarray  # uint32
    masks: np.ndarray  # uint64 per entry
    trees: np.ndarray  # uint32 per entry
    leaf_start: np.ndarray  # uint32 (T + 1)
    values: np.ndarray  # float64, leaves left to right per tree

    @property
    def width(self) -> int:
        """32 when every tree has at most 32 leaves (entries packed in one uint64), else 64."""
        return 32 if len(self.leaf_start) < 2 or np.diff(self.leaf_start).max() <= 32 else 64


def quickscorer(
    forest: Forest,
    node_slots: list[np.ndarray],
    node_ks: list[np.ndarray],
    counts: np.ndarray,
) -> QuickScorer | None:
    """The section for ``forest``, or None where it cannot apply (a tree above 64 leaves).

    ``node_slots[t][i]``/``node_ks[t][i]``: the slot and threshold index of LightGBM node ``i``
    of tree ``t`` (as the walk's tables have them); ``counts``: each slot's highest code below
    the no-code value (its feature's count of thresholds; 1 for a category set).
    """
    if any(tree.num_leaves > MAX_LEAVES for tree in forest.trees):
        return None
    slot_of, k_of, tree_of, mask_of = [], [], [], []
    values: list[np.ndarray] = []
    leaf_start = [0]
    for t, tree in enumerate(forest.trees):
        order, masks = _leaves_and_masks(tree)
        values.append(tree.leaf_value[order])
        leaf_start.append(leaf_start[-1] + len(order))
        if len(masks):
            slot_of.append(node_slots[t])
            k_of.append(node_ks[t])
            tree_of.append(np.full(len(masks), t, dtype=np.int64))
            mask_of.append(masks)
    slots = np.concatenate([np.zeros(0, np.int64), *slot_of]).astype(np.int64)
    ks = np.concatenate([np.zeros(0, np.int64), *k_of]).astype(np.int64)
    trees = np.concatenate([np.zeros(0, np.int64), *tree_of])
    masks = np.concatenate([np.zeros(0, np.uint64), *mask_of])
    # per slot by threshold index: a row's false nodes are then a prefix (trees break ties so
    # that a tree's entries of one k are adjacent only when they must be)
    order = np.lexsort((trees, ks, slots))
    slots, ks, trees, masks = slots[order], ks[order], trees[order], masks[order]
    n_slots = len(counts)
    slot_start = np.searchsorted(slots, np.arange(n_slots + 1), side="left")
    per_slot = counts.astype(np.int64) + 1  # a bound per code 0..count
    bound_start = np.concatenate([[0], np.cumsum(per_slot)])
    bound = np.empty(int(bound_start[-1]), dtype=np.int64)
    for s in range(n_slots):
        a, b = int(slot_start[s]), int(slot_start[s + 1])
        codes = np.arange(per_slot[s])
        bound[bound_start[s] : bound_start[s + 1]] = a + np.searchsorted(ks[a:b], codes, "left")
    return QuickScorer(
        slot_start=slot_start.astype(np.uint32),
        bound_start=bound_start.astype(np.uint32),
        bound=bound.astype(np.uint32),
        masks=masks.astype(np.uint64),
        trees=trees.astype(np.uint32),
        leaf_start=np.array(leaf_start, dtype=np.uint32),
        values=np.concatenate([np.zeros(0), *values]).astype(np.float64),
    )


def _leaves_and_masks(tree: Tree) -> tuple[np.ndarray, np.ndarray]:
    """The tree's leaves left to right (LightGBM leaf indices) and, per LightGBM internal node,
    the mask that clears the leaves of its left subtree."""
    if tree.num_leaves <= 1:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    leaves: list[int] = []
    span = np.zeros((tree.num_leaves - 1, 2), dtype=np.int64)  # left subtree's leaf range
    # iterative in-order walk: (child, leaving) where leaving marks a node's left side done
    stack: list[tuple[int, bool]] = [(0, False)]
    while stack:
        node, leaving = stack.pop()
        if node < 0:
            leaves.append(~node)
        elif leaving:
            span[node, 1] = len(leaves)
            stack.append((int(tree.right_child[node]), False))
        else:
            span[node, 0] = len(leaves)
            stack.append((node, True))
            stack.append((int(tree.left_child[node]), False))
    full = np.uint64(0xFFFFFFFFFFFFFFFF)
    width = (span[:, 1] - span[:, 0]).astype(np.uint64)
    ones = np.where(width >= 64, full, (np.uint64(1) << width) - np.uint64(1))
    masks = ~(ones << span[:, 0].astype(np.uint64)) & full
    return np.array(leaves, dtype=np.int64), masks.astype(np.uint64)


def section(qs: QuickScorer, *, float32: bool = False) -> bytes:
    """The section's bytes: its header, then each array padded to 8 bytes (leaf values as
    float32 when the blob's are)."""
    width = qs.width
    if width == 32:  # tree << 32 | mask in one uint64, no tree array
        entries = [qs.trees.astype(np.uint64) << np.uint64(32) | qs.masks & np.uint64(0xFFFFFFFF)]
    else:
        entries = [qs.masks, qs.trees.astype("<u4")]
    arrays = [
        qs.slot_start.astype("<u4"), qs.bound_start.astype("<u4"), qs.bound.astype("<u4"),
        *(a.astype("<u8") if a.dtype == np.uint64 else a for a in entries),
        qs.leaf_start.astype("<u4"), qs.values.astype("<f4" if float32 else "<f8"),
    ]  # fmt: skip
    head = struct.pack(
        "<8sIIIIII", MAGIC, VERSION, len(qs.masks), len(qs.values), len(qs.bound), width, 0
    )
    return head + b"".join(a.tobytes() + b"\0" * (-a.nbytes % 8) for a in arrays)
