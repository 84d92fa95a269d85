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
 */
#include "edgeml_forest.h"

#define LANES EDGEML_FOREST_LANES
#define CHAIN_ROUNDS 4 /* steps of every lane between two tests for the end (2 and 8: the same) */

/* Each tree in a region of 2^shift nodes (shift <= 8: a leaf steps at most 255 nodes on), a
 * lane's trees and then its end (a region of looping leaves) in per_lane regions. */
typedef struct chain_shape {
    uint32_t shift, per_lane;
    size_t regions;
} chain_shape;

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
    /* a step's node is a uint32 index; the exits follow a row's codes in the work memory
     * edgeml_forest_one is given */
    if (s->shift > 8 || s->regions > (UINT32_MAX >> 8) ||
        f->n_slots + s->regions > EDGEML_FOREST_WORK_WORDS(f->n_slots, T)) {
        return -1;
    }
    return 0;
}

size_t edgeml_forest_chain_size(const edgeml_forest *forest)
{
    chain_shape s;
    return chain_shape_of(forest, &s) == 0 ? (s.regions << s.shift) * sizeof(uint32_t) : 0;
}

/* A narrow step (NARROW_STEP with the single row's codes shifted left by 16), then the store
 * that leaves the tree's exit in exits[region] once the lane has gone on. */
#define CHAIN_STEP(x)                                                                          \
    do {                                                                                       \
        uint32_t w_ = nodes[x];                                                                \
        x = x + (w_ & 0xFFu) + (codes[bytes[4 * (x) + 1]] > w_);                               \
        exits[(x) >> shift] = (uint32_t)(x);                                                   \
    } while (0)
#define CHAIN_LANES(op) op(n0); op(n1); op(n2); op(n3); op(n4); op(n5); op(n6); op(n7)
#define CHAIN_START(x) exits[(x) >> shift] = (uint32_t)(x) /* a first tree may be one leaf */

typedef char chain_names_eight_lanes[LANES == 8 ? 1 : -1]; /* n0..n7 */

/* The exit of tree t within its tree (the last node a lane stored into t's region). */
static uint32_t chain_leaf(const edgeml_forest *f, const uint32_t *exits, size_t t)
{
    return exits[(t % LANES) * f->chain_lanes + t / LANES] & ((1u << f->chain_shift) - 1u);
}

static void chain_walk(const edgeml_forest *f, const uint32_t *codes, uint32_t *exits,
                       double *acc)
{
    const uint32_t *nodes = f->chain;
    const unsigned char *bytes = (const unsigned char *)f->chain;
    size_t shift = f->chain_shift, lane = (size_t)f->chain_lanes << shift, before, sum, t;
    size_t n0 = 0, n1 = lane, n2 = 2 * lane, n3 = 3 * lane, n4 = 4 * lane, n5 = 5 * lane;
    size_t n6 = 6 * lane, n7 = 7 * lane;
    int r;
    CHAIN_LANES(CHAIN_START);
    /* every step of a lane not at its end moves it forward (an inner node's children and a
     * leaf's next tree come after it), so an unchanged sum means every lane is at its end */
    before = n0 + n1 + n2 + n3 + n4 + n5 + n6 + n7;
    for (;;) {
        for (r = 0; r < CHAIN_ROUNDS; ++r) {
            CHAIN_LANES(CHAIN_STEP);
        }
        sum = n0 + n1 + n2 + n3 + n4 + n5 + n6 + n7;
        if (sum == before) {
            break;
        }
        before = sum;
    }
    if (f->n_outputs == 1) {
        /* one output: its sum in a register, so each of the 500 dependent adds waits on the
         * add before it (3 cycles), not on its store and reload (500x63: 5.3 -> 4.4 us) */
        double total = acc[0];
        for (t = 0; t < f->n_trees; ++t) {
            total += EDGEML_LEAF(f, values, values32, f->trees[t].root + chain_leaf(f, exits, t));
        }
        acc[0] = total;
        return;
    }
    for (t = 0; t < f->n_trees; ++t) {
        acc[f->trees[t].output] += EDGEML_LEAF(f, values, values32,
                                               f->trees[t].root + chain_leaf(f, exits, t));
    }
}

int edgeml_forest_chain(edgeml_forest *forest, void *memory, size_t size)
{
    uint32_t *chain = (uint32_t *)memory;
    chain_shape s;
    size_t i, region;
    uint32_t t, j;
    if (memory == NULL || ((uintptr_t)memory & 63u) != 0 || chain_shape_of(forest, &s) != 0 ||
        size < (s.regions << s.shift) * sizeof(uint32_t)) {
        return -1;
    }
    for (i = 0; i < s.regions << s.shift; ++i) {
        chain[i] = EDGEML_NARROW_LEAF; /* loops: a lane's end, and the room after small trees */
    }
    for (t = 0; t < forest->n_trees; ++t) {
        uint32_t root = forest->trees[t].root;
        uint32_t count = (t + 1 < forest->n_trees ? forest->trees[t + 1].root : forest->n_nodes) -
                         root;
        region = (size_t)(t % LANES) * s.per_lane + t / LANES;
        for (j = 0; j < count; ++j) {
            uint32_t w = forest->narrow[root + j], delta = w & 0xFFu, next = (1u << s.shift) - j;
            if (delta == 0) { /* a leaf: on to the next region, the lane's next tree or end */
                if (next > 0xFFu) {
                    return -1; /* a single-leaf tree in regions of 256 nodes */
                }
                w = EDGEML_NARROW_LEAF | next;
            } else if (j + delta + 1u >= count) {
                return -1; /* a child outside its tree: walked only by the other walks */
            }
            chain[(region << s.shift) + j] = w;
        }
    }
    forest->chain = chain;
    forest->chain_shift = s.shift;
    forest->chain_lanes = s.per_lane;
    forest->chain_walk = chain_walk;
    return 0;
}
