/*
 * edgeml_forest_qs.c - QuickScorer over the engine's codes (see edgeml_forest.h).
 *
 * Why a second algorithm: the walk's steps are a chain of dependent loads (node, then code),
 * so a single row waits on L2 at every level of every tree. QuickScorer has no such chain: a
 * row streams its false nodes' masks in order and ANDs each into its tree's bitvector, loads
 * whose addresses do not depend on earlier results. It does more work (every false node,
 * about half of all nodes, against one path per tree) but in parallel, so it wins where
 * trees are many and shallow and loses where they are deep and unbalanced.
 *
 * Same codes as the walk (slot rules, missing values and default directions are all in the
 * code: 0 always goes left, the no-code value always right), same leaf values, added in
 * LightGBM's tree order: bit-for-bit the walk's sums.
 */
#include "edgeml_forest.h"

#include <string.h>

#define QS_MAGIC "EDGEMLQS"
#define QS_MAX_COUNT (1u << 28)
#define QS_VALUE(f, i) EDGEML_LEAF(f, qs_values, qs_values32, i)

static uint32_t qs_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t qs_pad8(uint64_t n) { return (n + 7u) & ~(uint64_t)7u; }

uint64_t edgeml_qs_lay_out(const unsigned char *p, uint64_t at, size_t size, edgeml_forest *f)
{
    uint64_t slots = (uint64_t)f->n_slots + 1u, trees = (uint64_t)f->n_trees + 1u;
    if (at + EDGEML_QS_HEADER > size || memcmp(p + at, QS_MAGIC, 8) != 0 ||
        qs_get32(p + at + 8) != EDGEML_QS_VERSION) {
        return 0;
    }
    f->qs_entries = qs_get32(p + at + 12);
    f->qs_leaves = qs_get32(p + at + 16);
    f->qs_bounds = qs_get32(p + at + 20);
    f->qs_width = qs_get32(p + at + 24);
    if (f->qs_entries > QS_MAX_COUNT || f->qs_leaves > QS_MAX_COUNT ||
        f->qs_bounds > QS_MAX_COUNT || (f->qs_width != 32 && f->qs_width != 64) ||
        qs_get32(p + at + 28) != 0) {
        return 0;
    }
    at += EDGEML_QS_HEADER;
    f->qs_slot_start = (const uint32_t *)(const void *)(p + at);
    at += qs_pad8(4u * slots);
    f->qs_bound_start = (const uint32_t *)(const void *)(p + at);
    at += qs_pad8(4u * slots);
    f->qs_bound = (const uint32_t *)(const void *)(p + at);
    at += qs_pad8(4ull * f->qs_bounds);
    f->qs_mask = (const uint64_t *)(const void *)(p + at);
    at += 8ull * f->qs_entries;
    f->qs_tree = (const uint32_t *)(const void *)(p + at); /* unused (empty) in width 32 */
    at += f->qs_width == 64 ? qs_pad8(4ull * f->qs_entries) : 0;
    f->qs_leaf_start = (const uint32_t *)(const void *)(p + at);
    at += qs_pad8(4u * trees);
    if (f->flags & EDGEML_FOREST_F32) {
        f->qs_values32 = (const float *)(const void *)(p + at);
        at += qs_pad8(4ull * f->qs_leaves);
    } else {
        f->qs_values = (const double *)(const void *)(p + at);
        at += 8ull * f->qs_leaves;
    }
    return at <= size ? at : 0;
}

/* Offsets that start at 0, never decrease and end at `total`; *where: the first bad index. */
static int qs_offsets(const uint32_t *start, uint32_t n, uint32_t total, size_t *where)
{
    uint32_t i;
    if (start[0] != 0 || start[n] != total) {
        *where = start[0] != 0 ? 0 : n;
        return 0;
    }
    for (i = 0; i < n; ++i) {
        if (start[i] > start[i + 1]) {
            *where = i;
            return 0;
        }
    }
    return 1;
}

int edgeml_qs_check(const edgeml_forest *f, size_t *where)
{
    uint32_t s, t, j, c;
    if (!qs_offsets(f->qs_slot_start, f->n_slots, f->qs_entries, where) ||
        !qs_offsets(f->qs_bound_start, f->n_slots, f->qs_bounds, where) ||
        !qs_offsets(f->qs_leaf_start, f->n_trees, f->qs_leaves, where)) {
        return EDGEML_FOREST_BAD_QS;
    }
    for (s = 0; s < f->n_slots; ++s) {
        /* slot s has a bound per code 0..count (count: its feature's thresholds, 1 for a
         * category set), each inside the slot's own entries, so a code can never index past
         * the slot; a categorical node's own bitset test has no QuickScorer rule */
        uint32_t feature = f->slots[2 * s], a = f->qs_slot_start[s], b = f->qs_slot_start[s + 1];
        uint32_t kind = EDGEML_SLOT_KIND(f->slots[2 * s + 1]);
        uint32_t count = kind == EDGEML_SLOT_IN_SET
                             ? 1u
                             : f->feature_start[feature + 1] - f->feature_start[feature];
        uint32_t first = f->qs_bound_start[s];
        if (kind == EDGEML_SLOT_CATEGORY || f->qs_bound_start[s + 1] - first != count + 1u) {
            *where = s;
            return EDGEML_FOREST_BAD_QS;
        }
        for (c = 0; c <= count; ++c) {
            if (f->qs_bound[first + c] < a || f->qs_bound[first + c] > b) {
                *where = s;
                return EDGEML_FOREST_BAD_QS;
            }
        }
    }
    for (t = 0; t < f->n_trees; ++t) {
        uint32_t leaves = f->qs_leaf_start[t + 1] - f->qs_leaf_start[t];
        if (leaves == 0 || leaves > f->qs_width) {
            *where = t;
            return EDGEML_FOREST_BAD_QS;
        }
    }
    for (j = 0; j < f->qs_entries; ++j) {
        /* the tree's last leaf is never in a left subtree: with its bit in every mask, a
         * vector is never 0 and its lowest set bit is always one of the tree's leaves */
        uint64_t tree = f->qs_width == 64 ? f->qs_tree[j] : f->qs_mask[j] >> 32;
        uint32_t last;
        if (tree >= f->n_trees) {
            *where = j;
            return EDGEML_FOREST_BAD_QS;
        }
        last = f->qs_leaf_start[tree + 1] - f->qs_leaf_start[tree] - 1u;
        if (!((f->qs_mask[j] >> last) & 1u)) { /* last < 32 in width 32: the mask's half */
            *where = j;
            return EDGEML_FOREST_BAD_QS;
        }
    }
    return EDGEML_FOREST_OK;
}

/* The index of the lowest set bit of v (v != 0). */
static uint32_t lowest_bit(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return (uint32_t)__builtin_ctzll(v); /* one instruction (tzcnt/bsf, rbit+clz) */
#else
    uint32_t n = 0, width;
    for (width = 32; width > 0; width >>= 1) { /* halve the window: 6 steps */
        uint64_t low = v & ((((uint64_t)1) << width) - 1u);
        uint32_t empty = low == 0;
        n += empty * width;
        v >>= empty * width;
    }
    return n;
#endif
}

/* Width 32: an entry is tree << 32 | mask, the vectors are uint32 (half the bytes streamed
 * per false node, and half the vectors' cache lines). */
static void qs_row32(const edgeml_forest *f, const uint32_t *codes, double *acc, uint32_t *bits)
{
    const uint64_t *entry = f->qs_mask;
    uint32_t shift = f->nodes != NULL ? 16u : 0u;
    uint32_t s, t, j;
    for (t = 0; t < f->n_trees; ++t) {
        bits[t] = ~(uint32_t)0;
    }
    for (s = 0; s < f->n_slots; ++s) {
        uint32_t first = f->qs_bound_start[s];
        uint32_t count = f->qs_bound_start[s + 1] - first - 1u;
        uint32_t code = codes[(size_t)s * EDGEML_FOREST_LANES] >> shift;
        uint32_t end = f->qs_bound[first + (code < count ? code : count)];
        j = f->qs_slot_start[s];
        for (; j + 4 <= end; j += 4) { /* unrolled: the loop's own compare and branch cost
                                          as much as an entry's load-and-store */
            uint64_t e0 = entry[j], e1 = entry[j + 1], e2 = entry[j + 2], e3 = entry[j + 3];
            bits[e0 >> 32] &= (uint32_t)e0;
            bits[e1 >> 32] &= (uint32_t)e1;
            bits[e2 >> 32] &= (uint32_t)e2;
            bits[e3 >> 32] &= (uint32_t)e3;
        }
        for (; j < end; ++j) {
            uint64_t e = entry[j];
            bits[e >> 32] &= (uint32_t)e;
        }
    }
    for (t = 0; t < f->n_trees; ++t) {
        acc[f->trees[t].output] += QS_VALUE(f, f->qs_leaf_start[t] + lowest_bit(bits[t]));
    }
}

void edgeml_qs_row(const edgeml_forest *f, const uint32_t *codes, double *acc, uint64_t *bits)
{
    const uint64_t *mask = f->qs_mask;
    const uint32_t *tree = f->qs_tree;
    uint32_t shift = f->nodes != NULL ? 16u : 0u; /* compact forests keep codes << 16 */
    uint32_t s, t, j;
    if (f->qs_width == 32) {
        qs_row32(f, codes, acc, (uint32_t *)(void *)bits);
        return;
    }
    for (t = 0; t < f->n_trees; ++t) {
        bits[t] = ~(uint64_t)0;
    }
    for (s = 0; s < f->n_slots; ++s) {
        uint32_t first = f->qs_bound_start[s];
        uint32_t count = f->qs_bound_start[s + 1] - first - 1u;
        uint32_t code = codes[(size_t)s * EDGEML_FOREST_LANES] >> shift;
        uint32_t end = f->qs_bound[first + (code < count ? code : count)]; /* no-code: all */
        j = f->qs_slot_start[s];
        for (; j + 4 <= end; j += 4) {
            bits[tree[j]] &= mask[j];
            bits[tree[j + 1]] &= mask[j + 1];
            bits[tree[j + 2]] &= mask[j + 2];
            bits[tree[j + 3]] &= mask[j + 3];
        }
        for (; j < end; ++j) {
            bits[tree[j]] &= mask[j];
        }
    }
    for (t = 0; t < f->n_trees; ++t) {
        acc[f->trees[t].output] += QS_VALUE(f, f->qs_leaf_start[t] + lowest_bit(bits[t]));
    }
}
