/*
 * edgeml_forest_chain.c - single rows of a narrow forest walked as chains (edgeml_forest_chain
 * in edgeml_forest.h). Host runtime only: nothing else in the core calls into this file (the
 * walk is reached through forest->chain_walk), so a C package compiles without it and keeps
 * the refilling lanes.
 *
 * Why: the refilling lanes (REFILL_WALK in edgeml_forest.c) stop every 4 steps at a
 * checkpoint that hands the next tree to lanes at a leaf; the checkpoint's takes form one
 * chain through the shared next-tree counter, and a lane waits there up to 3 steps at its
 * leaf. Here every lane owns every 8th tree, laid out one after another, and a leaf is a step
 * to the lane's next tree: a lane never waits and no step is shared between lanes. The leaf a
 * tree ends at is found by storing each step's node into exits[its region]: the last store
 * into a tree's region is its leaf, and the leaf values are added afterwards in LightGBM's
 * tree order (its sums bit for bit). 500x63, C harness, 1,000 distinct rows alternated in one
 * process: 5.65 / 5.45 / 5.32 us against 5.98 / 5.79 / 5.74 for the refilling lanes.
 *
 * Session 9: a step stores the node's word, before the step, not the node it goes to (the
 * store's index is then known at the step's start, off the chain of loads), and a leaf's word
 * holds its number among its tree's leaves, whose values are laid out after the nodes, a
 * region's leaves side by side: the sums read leaves[region << lshift | number], no tree
 * root, and the values a row reads sit in 258 KB instead of the forest's 500 KB of per-node
 * values (500x63, C harness, alternated: 3.82-4.15 against 4.43-4.67 us; with 1.5 KB of other
 * memory read between rows, as a Python caller does: 3.94-3.96 against 4.47-4.51).
 *
 * Then a leaf is no step of its own: its word is the lane's next tree's root word, its child
 * moved by the distance to that root, so the step at a leaf is the next tree's first step (500
 * of ~3,700 steps fewer on 500x63). For the leaf's number to fit beside the root's rule, the
 * chains take 8-bit thresholds: a word is threshold << 24 | leaf number << 16 | slot << 8 |
 * delta (number 0 for inner nodes), and the walk codes the row again as min(code, 255) << 24
 * (a threshold index is below 255, so no code above it is clamped to or below it). A forest
 * with a threshold index of 255 or more (max_bin above 256) keeps the refilling lanes. Where
 * the next tree is a single leaf (or its child is beyond 255 nodes) a leaf steps to the next
 * region as before. 500x63, C harness, alternated: 3.81 / 5.17 against 3.91 / 5.61 us (min
 * 3.29 / 3.44 against 3.63 / 3.95).
 */
#include "edgeml_forest.h"

#define LANES EDGEML_FOREST_LANES
#define CHAIN_LEAF 0xFF000000u /* threshold 255: no code is above it */
#define CHAIN_ROUNDS 4 /* steps of every lane between two tests for the end (2 and 8: the same) */

/* Each tree in a region of 2^shift nodes (shift <= 8: a leaf steps at most 255 nodes on), a
 * lane's trees and then its end (a region of looping leaves) in per_lane regions. */
typedef struct chain_shape {
    uint32_t shift, per_lane;
    size_t regions;
} chain_shape;

/* log2 of a region's room for leaf values: a tree's 2L - 1 nodes fit 2^shift, so L is at most
 * 2^(shift - 1), or 1 (regions of one node) */
static size_t chain_leaf_shift(size_t shift) { return shift - (shift != 0); }

static int chain_shape_of(const edgeml_forest *f, chain_shape *s)
{
    uint32_t t, T = f->n_trees, most = 1;
    if (f->narrow == NULL || T == 0) {
        return -1;
    }
    for (t = 0; t < T; ++t) { /* tree t's nodes: from its root to the next tree's */
        uint32_t end = t + 1 < T ? f->trees[t + 1].root : f->n_nodes;
        if (end <= f->trees[t].root) {
            return -1;
        }
        most = end - f->trees[t].root > most ? end - f->trees[t].root : most;
    }
    for (s->shift = 0; (1u << s->shift) < most; ++s->shift) {
    }
    s->per_lane = (T + LANES - 1) / LANES + 1;
    s->regions = (size_t)LANES * s->per_lane;
    /* a step reads codes[its word's slot byte] (a leaf's word: its next root's slot, or 0) and
     * stores its word into exits[its region]: the exits follow the n_slots codes in
     * edgeml_forest_one's work memory, which edgeml_forest_one_size sizes for them */
    if (s->shift > 8 || s->regions > (UINT32_MAX >> 8) ||
        f->n_slots + s->regions > edgeml_forest_one_size(f)) {
        return -1;
    }
    return 0;
}

/* the nodes, then a region's leaf values side by side (room for its most leaves) */
size_t edgeml_forest_chain_size(const edgeml_forest *forest)
{
    chain_shape s;
    return chain_shape_of(forest, &s) == 0
               ? (s.regions << s.shift) * sizeof(uint32_t) +
                     (s.regions << chain_leaf_shift(s.shift)) * sizeof(double)
               : 0;
}

/* A narrow step on the chains' words (threshold << 24 | leaf number << 16 | slot << 8 | delta,
 * codes min(code, 255) << 24) that first stores the node's word into exits[its region]: the
 * last store into a tree's region is its leaf's word, which holds the leaf's number. */
#define CHAIN_STEP(x)                                                                          \
    do {                                                                                       \
        uint32_t w_ = nodes[x];                                                                \
        exits[(x) >> shift] = w_;                                                              \
        x = x + (w_ & 0xFFu) + (codes[bytes[4 * (x) + 1]] > w_);                               \
    } while (0)
#define CHAIN_LANES(op) op(n0); op(n1); op(n2); op(n3); op(n4); op(n5); op(n6); op(n7)

typedef char chain_names_eight_lanes[LANES == 8 ? 1 : -1]; /* n0..n7 */

static void chain_walk(const edgeml_forest *f, const uint32_t *codes16, uint32_t *exits,
                       double *acc)
{
    const uint32_t *nodes = f->chain;
    const unsigned char *bytes = (const unsigned char *)f->chain;
    size_t shift = f->chain_shift, per = f->chain_lanes, lane = per << shift, before, sum, t, r;
    size_t n0 = 0, n1 = lane, n2 = 2 * lane, n3 = 3 * lane, n4 = 4 * lane, n5 = 5 * lane;
    size_t n6 = 6 * lane, n7 = 7 * lane, k, lshift = chain_leaf_shift(shift);
    const double *leaves = (const double *)(const void *)(f->chain + LANES * lane);
    uint32_t *codes = exits - f->n_slots; /* codes16's memory (edgeml_forest_one's work) */
    int round;
    for (k = 0; k < f->n_slots; ++k) {
        uint32_t c = codes16[k] >> 16;
        codes[k] = (c < 0xFFu ? c : 0xFFu) << 24;
    }
    /* every step of a lane not at its end moves it forward (an inner node's children and a
     * leaf's next tree come after it), so an unchanged sum means every lane is at its end */
    before = n0 + n1 + n2 + n3 + n4 + n5 + n6 + n7;
    for (;;) {
        for (round = 0; round < CHAIN_ROUNDS; ++round) {
            CHAIN_LANES(CHAIN_STEP);
        }
        sum = n0 + n1 + n2 + n3 + n4 + n5 + n6 + n7;
        if (sum == before) {
            break;
        }
        before = sum;
    }
    /* tree t's region r and leaf value leaves[r << lshift | its number] */
    if (f->n_outputs == 1) {
        /* one output: its sum in a register, so each of the 500 dependent adds waits on the
         * add before it (3 cycles), not on its store and reload (500x63: 5.3 -> 4.4 us) */
        double total = acc[0];
        for (t = 0; t < f->n_trees; ++t) {
            r = (t % LANES) * per + t / LANES;
            total += leaves[(r << lshift) | ((exits[r] >> 16) & 0xFFu)];
        }
        acc[0] = total;
        return;
    }
    for (t = 0; t < f->n_trees; ++t) {
        r = (t % LANES) * per + t / LANES;
        acc[f->trees[t].output] += leaves[(r << lshift) | ((exits[r] >> 16) & 0xFFu)];
    }
}

int edgeml_forest_chain(edgeml_forest *forest, void *memory, size_t size)
{
    uint32_t *chain = (uint32_t *)memory;
    chain_shape s;
    size_t i, region, lshift;
    uint32_t t, j;
    double *leaves;
    if (memory == NULL || ((uintptr_t)memory & 63u) != 0 || chain_shape_of(forest, &s) != 0 ||
        size < edgeml_forest_chain_size(forest)) {
        return -1;
    }
    lshift = chain_leaf_shift(s.shift);
    leaves = (double *)(void *)(chain + (s.regions << s.shift));
    for (i = 0; i < s.regions << s.shift; ++i) {
        chain[i] = CHAIN_LEAF; /* loops: a lane's end, and the room after small trees */
    }
    for (i = 0; i < s.regions << lshift; ++i) {
        leaves[i] = 0.0;
    }
    for (t = 0; t < forest->n_trees; ++t) {
        uint32_t root = forest->trees[t].root, count, number = 0, first = 0;
        count = (t + 1 < forest->n_trees ? forest->trees[t + 1].root : forest->n_nodes) - root;
        region = (size_t)(t % LANES) * s.per_lane + t / LANES;
        if (t + LANES < forest->n_trees) { /* the lane's next tree's root, if not a leaf */
            uint32_t w = forest->narrow[forest->trees[t + LANES].root];
            first = (w & 0xFFu) != 0 ? w : 0;
        }
        for (j = 0; j < count; ++j) {
            uint32_t w = forest->narrow[root + j], delta = w & 0xFFu, next = (1u << s.shift) - j;
            if ((w >> 16) >= 0xFFu && delta != 0) {
                return -1; /* a threshold index beyond 8 bits: the refilling lanes walk it */
            }
            if (delta == 0) { /* a leaf: the next tree's first step, or a step to its root */
                uint32_t d = first & 0xFFu;
                if (next > 0xFFu || number >> lshift != 0) {
                    return -1; /* a single-leaf tree in regions of 256 nodes */
                }
                leaves[(region << lshift) | number] = EDGEML_LEAF(forest, values, values32,
                                                                  root + j);
                if (first != 0 && d + next <= 0xFFu) {
                    w = (first >> 16) << 24 | number << 16 | (first & 0xFF00u) | (d + next);
                } else {
                    w = CHAIN_LEAF | number << 16 | next;
                }
                ++number;
            } else if (j + delta + 1u >= count) {
                return -1; /* a child outside its tree: walked only by the other walks */
            } else {
                w = (w >> 16) << 24 | (w & 0xFFFFu); /* the threshold to the top byte */
            }
            chain[(region << s.shift) + j] = w;
        }
    }
    forest->chain = chain;
    forest->chain_shift = s.shift;
    forest->chain_lanes = s.per_lane;
    forest->chain_walk = chain_walk;
    /* single rows take the chains whatever the trees' depth. edgeml_forest_open refills only
     * from a mean depth of EDGEML_FOREST_REFILL_DEPTH, a rule for the refilling lanes, whose
     * checkpoints cost shallow trees more than groups' waits; the chains have no checkpoint.
     * Kept in groups by that rule, the real 10-class model (mean depth 10.75) and 2,000 trees of
     * depth 4 walked single rows 20-50% slower than with the chains, and export compared
     * QuickScorer with that slower walk (predict_one on 1,000 distinct rows, 3 runs of 11
     * alternated passes, medians: 10-class groups / chains / QuickScorer 11.4-12.4 / 7.6-9.7 /
     * 12.2-13.8 us; depth 4: 15.9-17.7 / 12.3-14.0 / 19.6-20.8; 500x63, mean depth 15, chains
     * already: 7.3-9.9 / 5.0-7.8 / 10.9-14.7) */
    forest->refill = 1;
    return 0;
}
