/*
 * edgeml_forest.c - the tree engine (see edgeml_forest.h): codes, traversal, threads. The
 * blob's checks and mapping are in edgeml_forest_open.c.
 *
 * Build with -ffp-contract=off and without -ffast-math: comparisons must be IEEE (NaN compares
 * false) and sums must be added one by one in tree order to equal LightGBM's bit for bit.
 */
#include "edgeml_forest.h"

#include <math.h>

#ifndef EDGEML_NO_THREADS
#include <pthread.h>
#endif

#define BLOCK 64  /* rows whose codes are computed together, then walked tree by tree */
#define LANES EDGEML_FOREST_LANES /* rows (or trees) walked interleaved */
#define K_ZERO ((double)1e-35f)
#ifndef QS8_MIN_ROWS
#define QS8_MIN_ROWS 1024u /* rows of a share from which batches prepare the byte lanes */
#endif
#ifndef QS8_MIN_OWN
#define QS8_MIN_OWN 64u /* the same where the forest has the lanes' tables (edgeml_forest_qs8) */
#endif

/* -- codes ------------------------------------------------------------------------------- */

/* How many of the n sorted thresholds t are < x (x not NaN): branch-free binary search. */
static uint32_t count_below(const double *t, uint32_t n, double x)
{
    uint32_t at = 0;
    if (n == 0) {
        return 0;
    }
    while (n > 1) {
        uint32_t half = n >> 1;
        /* a mask, not a conditional: compilers turn `cond ? a : b` here into a branch that
         * mispredicts half the time */
        at += half & (0u - (uint32_t)(t[at + half - 1] < x));
        n -= half;
    }
    return at + (t[at] < x);
}

/* LightGBM's dense-row rule: a value this close to 0 reads as 0 (NaN stays NaN). One compare
 * of |v|, not two of v: gcc made `v >= -K && v <= K` a branch on v's sign, which a row's
 * values take at random (500x63 single row: codes 0.48 -> 0.42 us). */
static double dense(double v) { return fabs(v) <= K_ZERO ? 0.0 : v; }

/* The code of a slot of `variant` for value v (after dense()) whose count of thresholds below
 * is bin (unused for NaN); zero_bin is the count below 0.0 (what NaN reads as for missing
 * type None), shifted left by `shift`: 16 where a compare takes the whole node word (compact
 * forests, see the header, and a narrow forest's single rows, see row_trees_narrow), else 0. */
static uint32_t slot_code(const edgeml_forest *f, uint32_t variant, double v, uint32_t bin,
                          uint32_t zero_bin, uint32_t shift)
{
    int nan = v != v, zero = v == 0.0;
    uint32_t code;
    switch (EDGEML_SLOT_KIND(variant)) {
    case EDGEML_SLOT_NONE: code = nan ? zero_bin : bin; break;
    case EDGEML_SLOT_NAN_LEFT: code = nan ? 0 : bin; break;
    case EDGEML_SLOT_NAN_RIGHT: code = nan ? f->no_code : bin; break;
    case EDGEML_SLOT_ZERO_LEFT: code = nan || zero ? 0 : bin; break;
    case EDGEML_SLOT_ZERO_RIGHT: code = nan || zero ? f->no_code : bin; break;
    case EDGEML_SLOT_CATEGORY: /* LightGBM's (int)x, negative and NaN go right */
        code = edgeml_category(v);
        break;
    default: code = edgeml_set_code(f->words, variant, v); break;
    }
    return code << shift;
}

/* The shift of the codes batches and QuickScorer read (see slot_code). */
static uint32_t code_shift(const edgeml_forest *f) { return f->nodes != NULL ? 16u : 0u; }

/* The codes of one row's slots, written to codes[slot * stride] (stride LANES: the row's lane
 * of its group; 1: a single row's dense codes for the narrow walk), shifted left by `shift`
 * (see slot_code). Slots are sorted by feature: one search per feature, and the searches of
 * ROW_SEARCHES features at a time run interleaved, so that their chains of dependent loads
 * overlap (500x63 single row: 0.42 -> 0.36 us). Each is count_below's steps exactly; one that
 * is done takes steps of 0 (reading t[at]) until the longest is done. */
#define ROW_SEARCHES 4
static void row_codes(const edgeml_forest *f, const double *x, uint32_t *codes, size_t stride,
                      uint32_t shift)
{
    static const double none = 0.0; /* what a feature without thresholds "searches" */
    uint32_t s = 0, S = f->n_slots;
    while (s < S) {
        const double *t[ROW_SEARCHES];
        double v[ROW_SEARCHES], key[ROW_SEARCHES];
        uint32_t first[ROW_SEARCHES + 1], count[ROW_SEARCHES], n[ROW_SEARCHES];
        uint32_t at[ROW_SEARCHES], m = 0, l, k, more;
        while (s < S && m < ROW_SEARCHES) { /* the next features and their runs of slots */
            uint32_t feature = f->slots[2 * s];
            count[m] = f->feature_start[feature + 1] - f->feature_start[feature];
            t[m] = count[m] != 0 ? f->thresholds + f->feature_start[feature] : &none;
            n[m] = count[m];
            v[m] = dense(x[feature]);
            key[m] = v[m] != v[m] ? 0.0 : v[m]; /* NaN reads as 0.0 for type None */
            at[m] = 0;
            first[m++] = s;
            while (s < S && f->slots[2 * s] == feature) {
                ++s;
            }
        }
        first[m] = s;
        do {
            more = 0;
            for (l = 0; l < m; ++l) {
                uint32_t half = n[l] >> 1, probe = at[l] + half - (half != 0);
                at[l] += half & (0u - (uint32_t)(t[l][probe] < key[l]));
                n[l] -= half;
                more |= n[l] > 1;
            }
        } while (more);
        for (l = 0; l < m; ++l) {
            uint32_t bin = count[l] == 0 ? 0 : at[l] + (t[l][at[l]] < key[l]);
            for (k = first[l]; k < first[l + 1]; ++k) {
                codes[k * stride] = slot_code(f, f->slots[2 * k + 1], v[l], bin, bin, shift);
            }
        }
    }
}

/* The codes of a block of rows (codes[(r / LANES) * n_slots * LANES + slot * LANES + r % LANES]),
 * feature by feature: the binary searches of LANES rows run interleaved, so their dependent
 * loads overlap (a row's searches, one per feature, would each wait on its own loads). The
 * same comparisons as row_codes: the same codes. */
static void block_codes(const edgeml_forest *f, const double *x, size_t rows, uint32_t *codes)
{
    size_t S = f->n_slots, F = f->n_features, r;
    uint32_t s = 0, end, l;
    while (s < S) {
        uint32_t feature = f->slots[2 * s];
        const double *t = f->thresholds + f->feature_start[feature];
        uint32_t count = f->feature_start[feature + 1] - f->feature_start[feature];
        uint32_t zero_bin = count_below(t, count, 0.0);
        for (end = s; end < S && f->slots[2 * end] == feature; ++end) {
        }
        for (r = 0; r < rows; r += LANES) {
            double v[LANES];
            uint32_t at[LANES], bin[LANES], n = count, k;
            for (l = 0; l < LANES; ++l) {
                v[l] = r + l < rows ? dense(x[(r + l) * F + feature]) : 0.0;
                at[l] = 0;
            }
            while (n > 1) { /* count_below's steps, LANES rows at a time */
                uint32_t half = n >> 1;
                for (l = 0; l < LANES; ++l) {
                    at[l] += half & (0u - (uint32_t)(t[at[l] + half - 1] < v[l]));
                }
                n -= half;
            }
            for (l = 0; l < LANES; ++l) {
                bin[l] = count == 0 ? 0 : at[l] + (t[at[l]] < v[l]);
            }
            for (k = s; k < end; ++k) {
                uint32_t *out = codes + (r / LANES) * S * LANES + (size_t)k * LANES;
                for (l = 0; l < LANES; ++l) {
                    out[l] = slot_code(f, f->slots[2 * k + 1], v[l], bin[l], zero_bin,
                                       code_shift(f));
                }
            }
        }
        s = end;
    }
}

/* -- traversal --------------------------------------------------------------------------- */

/* One step from node i of a row whose codes are codes[slot * LANES]. */
static uint32_t step_any(const edgeml_forest *f, uint32_t i, const uint32_t *codes)
{
    uint32_t code = codes[f->slot[i]], threshold = f->threshold[i], cat = f->cat[i];
    uint32_t right;
    if (cat == EDGEML_FOREST_NO_CAT) {
        right = code > threshold;
    } else {
        uint32_t inside = code < threshold;
        uint32_t word = f->words[cat + (inside ? code >> 5 : 0)];
        right = !(inside & (word >> (code & 31u)));
    }
    return f->left[i] + right;
}

/* One group of LANES rows through one tree, interleaved. The group's codes are slot-major
 * (codes[slot * LANES + lane]): one base pointer for all lanes keeps the lanes in registers. */
static void tree_lanes(const edgeml_forest *f, const edgeml_tree_info *t, const uint32_t *codes,
                       double *acc)
{
    const uint32_t *threshold = f->threshold, *slot = f->slot, *left = f->left;
    size_t K = f->n_outputs;
    uint32_t n[LANES];
    uint32_t d, l;
    for (l = 0; l < LANES; ++l) {
        n[l] = t->root;
    }
    if (f->has_categorical) {
        for (d = 0; d < t->depth; ++d) {
            for (l = 0; l < LANES; ++l) {
                n[l] = step_any(f, n[l], codes + l);
            }
        }
    } else {
        /* Leaves loop to themselves, so every lane may take `depth` steps; most groups of
         * rows are all at leaves after `check` steps, tested once by their thresholds. */
        for (d = 0; d < t->check; ++d) {
            for (l = 0; l < LANES; ++l) {
                n[l] = left[n[l]] + (codes[slot[n[l]] + l] > threshold[n[l]]);
            }
        }
        for (; d < t->depth; ++d) {
            uint32_t done = UINT32_MAX;
            for (l = 0; l < LANES; ++l) {
                done &= threshold[n[l]];
            }
            if (done == UINT32_MAX) {
                break;
            }
            for (l = 0; l < LANES; ++l) {
                n[l] = left[n[l]] + (codes[slot[n[l]] + l] > threshold[n[l]]);
            }
        }
    }
    for (l = 0; l < LANES; ++l) {
        acc[l * K + t->output] += EDGEML_LEAF(f, values, values32, n[l]);
    }
}

/* The roots of the group of LANES trees from tree g into n (a short last group of `count`
 * trees walks its first tree again), *depth the deepest of them; returns the roots' sum. */
static inline size_t group_roots(const edgeml_tree_info *trees, uint32_t g, uint32_t count,
                                 uint32_t *n, uint32_t *depth)
{
    size_t sum = 0;
    uint32_t l;
    *depth = 0;
    for (l = 0; l < LANES; ++l) {
        const edgeml_tree_info *t = &trees[g + (l < count ? l : 0)];
        n[l] = t->root;
        *depth = t->depth > *depth ? t->depth : *depth;
        sum += n[l];
    }
    return sum;
}

/* One row (codes[slot * LANES]) through every tree, LANES consecutive trees at a time, in
 * LightGBM's order with their leaf values added as each group ends (see row_trees_narrow); a
 * group stops once its lanes' sum is unchanged (every tree at its leaf), or after its deepest
 * tree's depth. */
static void row_trees(const edgeml_forest *f, const uint32_t *codes, double *acc)
{
    const uint32_t *threshold = f->threshold, *slot = f->slot, *left = f->left;
    const edgeml_tree_info *trees = f->trees;
    size_t sum, before;
    uint32_t n[LANES], g, d, l, depth;
    uint32_t T = f->n_trees;
    for (g = 0; g < T; g += LANES) {
        uint32_t count = T - g < LANES ? T - g : LANES;
        before = group_roots(trees, g, count, n, &depth);
        for (d = 0; d < depth; ++d) {
            sum = 0;
            if (f->has_categorical) {
                for (l = 0; l < LANES; ++l) {
                    n[l] = step_any(f, n[l], codes);
                    sum += n[l];
                }
            } else {
                for (l = 0; l < LANES; ++l) {
                    n[l] = left[n[l]] + (codes[slot[n[l]]] > threshold[n[l]]);
                    sum += n[l];
                }
            }
            if (sum == before) {
                break;
            }
            before = sum;
        }
        for (l = 0; l < count; ++l) {
            acc[trees[g + l].output] += EDGEML_LEAF(f, values, values32, n[l]);
        }
    }
}

/* The compact layout: the same walks; a node's rule holds threshold << 16 | slot and the codes
 * are shifted left by 16, so the node goes right iff codes[slot] > rule. The slot is read as
 * its own 16-bit load (half[4 * node + 2]: the rule's low half) so that no ALU operation sits
 * between the node's load and the code's on the critical path of a step. */
#define COMPACT_STEP(nodes, half, codes, i)                                                    \
    ((nodes)[i].left + ((codes)[(half)[4 * (size_t)(i) + 2]] > (nodes)[i].rule))
#define COMPACT_DONE (EDGEML_COMPACT_LEAF << 16)

static void tree_lanes_compact(const edgeml_forest *f, const edgeml_tree_info *t,
                               const uint32_t *codes, double *acc)
{
    const edgeml_node *nodes = f->nodes;
    const uint16_t *half = (const uint16_t *)(const void *)f->nodes;
    size_t K = f->n_outputs;
    uint32_t n[LANES];
    uint32_t d, l;
    for (l = 0; l < LANES; ++l) {
        n[l] = t->root;
    }
    for (d = 0; d < t->check; ++d) {
        for (l = 0; l < LANES; ++l) {
            n[l] = COMPACT_STEP(nodes, half, codes + l, n[l]);
        }
    }
    for (; d < t->depth; ++d) {
        uint32_t done = COMPACT_DONE;
        for (l = 0; l < LANES; ++l) {
            done &= nodes[n[l]].rule;
        }
        if ((done & COMPACT_DONE) == COMPACT_DONE) {
            break;
        }
        for (l = 0; l < LANES; ++l) {
            n[l] = COMPACT_STEP(nodes, half, codes + l, n[l]);
        }
    }
    for (l = 0; l < LANES; ++l) {
        acc[l * K + t->output] += EDGEML_LEAF(f, values, values32, n[l]);
    }
}

/* One row through every tree, LANES consecutive trees at a time, in LightGBM's order with
 * their leaf values added as each group ends (see row_trees_narrow); a group stops once its
 * lanes' sum is unchanged (every tree at its leaf), or after its deepest tree's depth: a
 * compact blob's children are not checked to come after their parents. */
static void row_trees_compact(const edgeml_forest *f, const uint32_t *codes, double *acc)
{
    const edgeml_node *nodes = f->nodes;
    const uint16_t *half = (const uint16_t *)(const void *)f->nodes;
    const edgeml_tree_info *trees = f->trees;
    size_t sum, before;
    uint32_t n[LANES], g, d, l, depth;
    uint32_t T = f->n_trees;
    for (g = 0; g < T; g += LANES) {
        uint32_t count = T - g < LANES ? T - g : LANES;
        before = group_roots(trees, g, count, n, &depth);
        for (d = 0; d < depth; ++d) {
            sum = 0;
            for (l = 0; l < LANES; ++l) {
                n[l] = COMPACT_STEP(nodes, half, codes, n[l]);
                sum += n[l];
            }
            if (sum == before) {
                break;
            }
            before = sum;
        }
        for (l = 0; l < count; ++l) {
            acc[trees[g + l].output] += EDGEML_LEAF(f, values, values32, n[l]);
        }
    }
}

/* The narrow layout: node i goes to i + delta + (code > threshold). The slot is read as its own
 * byte (bytes[4 * i + 1]) and the threshold is the node's high half, so no ALU operation sits
 * between the node's load and the code's on a step's critical path: a step is the slot byte's
 * load, the code's load, a compare and two adds. Lanes are size_t so that an index needs no
 * zero-extension before it addresses. `codes` holds a slot's code at codes[slot * stride],
 * compared with the node word shifted right by `shift`: 16 for plain codes (threshold =
 * node >> 16), 0 for codes shifted left by 16 (code << 16 > node iff code > threshold, as in
 * the compact layout: the node word is the compare's operand, two instructions fewer a step;
 * a leaf's word 0xFFFF0000 is above every code but a default-right one, which equals it). */
#define NARROW_STEP(nodes, bytes, codes, stride, shift, i, w)                                  \
    ((i) + ((w) & 0xFFu) + ((codes)[(size_t)(bytes)[4 * (i) + 1] * (stride)] > ((w) >> (shift))))

static void tree_lanes_narrow(const edgeml_forest *f, const edgeml_tree_info *t,
                              const uint32_t *codes, double *acc)
{
    const uint32_t *nodes = f->narrow;
    const unsigned char *bytes = (const unsigned char *)f->narrow;
    size_t K = f->n_outputs, n[LANES], before = 0;
    uint32_t d, l;
    for (l = 0; l < LANES; ++l) {
        n[l] = t->root;
    }
    for (d = 0; d < t->check; ++d) {
        for (l = 0; l < LANES; ++l) {
            uint32_t w = nodes[n[l]];
            n[l] = NARROW_STEP(nodes, bytes, codes + l, LANES, 16, n[l], w);
        }
    }
    for (l = 0; l < LANES; ++l) {
        before += n[l];
    }
    for (; d < t->depth; ++d) { /* until no lane moved (see row_trees_narrow) */
        size_t sum = 0;
        for (l = 0; l < LANES; ++l) {
            uint32_t w = nodes[n[l]];
            n[l] = NARROW_STEP(nodes, bytes, codes + l, LANES, 16, n[l], w);
            sum += n[l];
        }
        if (sum == before) {
            break;
        }
        before = sum;
    }
    for (l = 0; l < LANES; ++l) {
        acc[l * K + t->output] += EDGEML_LEAF(f, values, values32, n[l]);
    }
}

/* One row (codes[slot * stride]: LANES for a batch's last rows' plain codes, shift 16; 1 and
 * shift 0 for a single row's codes shifted left by 16, see NARROW_STEP, though single rows now
 * take row_refill_narrow) through every tree, LANES consecutive trees at a time, their leaf
 * values added as soon as a group ends. In LightGBM's order, not by depth as the compact walk: the trees a group walks lie
 * next to each other and the next group's after them (one stream of nodes the hardware
 * prefetcher follows), and the chain of additions runs beside the next group's steps instead
 * of after all of them (500x63: 23% faster, though groups of unlike depth take more steps).
 * A group walks until no tree moved: lanes only move forward (an inner node's children come
 * after it, which edgeml_forest_open checks), so an unchanged sum of the lanes means every
 * tree is at its leaf. The sum, not the nodes' deltas, is tested so that no node word stays
 * live to the end of a step: with the deltas, gcc kept all eight and spilled lanes. */
static inline void row_trees_narrow(const edgeml_forest *f, const uint32_t *codes,
                                    size_t stride, uint32_t shift, double *acc)
{
    const uint32_t *nodes = f->narrow;
    const unsigned char *bytes = (const unsigned char *)f->narrow;
    const edgeml_tree_info *trees = f->trees;
    size_t n[LANES], sum, before;
    uint32_t g, l, T = f->n_trees;
    for (g = 0; g < T; g += LANES) {
        uint32_t count = T - g < LANES ? T - g : LANES;
        before = 0;
        for (l = 0; l < LANES; ++l) { /* a short last group walks its first tree again */
            n[l] = trees[g + (l < count ? l : 0)].root;
            before += n[l];
        }
        for (;;) {
            sum = 0;
            for (l = 0; l < LANES; ++l) {
                uint32_t w = nodes[n[l]];
                n[l] = NARROW_STEP(nodes, bytes, codes, stride, shift, n[l], w);
                sum += n[l];
            }
            if (sum == before) {
                break;
            }
            before = sum;
        }
        for (l = 0; l < count; ++l) {
            acc[trees[g + l].output] += EDGEML_LEAF(f, values, values32, n[l]);
        }
    }
}

/* A single row's walk (narrow layout: dense codes shifted left by 16, NARROW_STEP's shift 0;
 * compact layout: codes[slot * LANES], COMPACT_STEP) with lanes that take the next tree when theirs has reached a leaf, so no lane idles until
 * the deepest tree of a group of LANES is done (the groups of row_trees_narrow: 12.5 steps a
 * group on the 500x63 rows against a mean path of 6.3, and a mispredicted exit per group).
 * Testing for a leaf after every step costs more than it saves (measured: 10-12 instructions
 * a step instead of 5, and gcc turns the per-lane selects into branches that mispredict or
 * spills the lanes), so the lanes step REFILL_ROUNDS times blind (a leaf loops to itself),
 * then a checkpoint refills the lanes at leaves with masks, not branches. A lane stores its
 * node into exits[its tree] at every checkpoint, so the last store of a tree is its leaf and
 * the leaf values are added afterwards in LightGBM's tree order: its sums bit for bit.
 * exits: n_trees + 1 uint32 (the last is where parked lanes write). */
#define REFILL_ROUNDS 4 /* 500x63: 5 the same, 3 slower, 2 and 6 much slower */
#define REFILL_ROUND()                                                                         \
    do {                                                                                       \
        REFILL_STEP(n0); REFILL_STEP(n1); REFILL_STEP(n2); REFILL_STEP(n3);                   \
        REFILL_STEP(n4); REFILL_STEP(n5); REFILL_STEP(n6); REFILL_STEP(n7);                   \
    } while (0)
/* Lane x (on tree t) at a leaf takes tree `next` (which exists). */
#define REFILL_TAKE(x, t)                                                                      \
    do {                                                                                       \
        size_t all_ = (size_t)0 - REFILL_AT_LEAF(x), root_ = trees[next].root;                 \
        exits[t] = (uint32_t)(x);                                                              \
        t ^= (t ^ next) & all_;                                                                \
        x ^= (x ^ root_) & all_;                                                               \
        next -= all_;                                                                          \
    } while (0)
/* The walk of a layout, given its REFILL_STEP(x) and REFILL_AT_LEAF(x): the lanes start on
 * the first trees (lanes without a tree park at once, see the last trees below). While every
 * lane that is at a leaf at a checkpoint has a tree to take, the lanes are named variables
 * (gcc keeps them in registers; as an array it spilled some). The last trees: a lane at a leaf
 * with no tree left parks (tree T: it walks the last tree again and stores into the spare
 * exit) until every lane is parked. Then the leaf values in LightGBM's tree order. */
#define REFILL_WALK()                                                                          \
    size_t n[LANES], t[LANES], next, T = f->n_trees, parked, l, r;                             \
    if (T == 0) {                                                                              \
        return;                                                                                \
    }                                                                                          \
    for (l = 0; l < LANES; ++l) {                                                              \
        t[l] = l < T ? l : T;                                                                  \
        n[l] = trees[l < T ? l : T - 1].root;                                                  \
    }                                                                                          \
    next = T < LANES ? T : LANES;                                                              \
    if (next + LANES <= T) {                                                                   \
        size_t n0 = n[0], n1 = n[1], n2 = n[2], n3 = n[3], n4 = n[4], n5 = n[5], n6 = n[6];   \
        size_t n7 = n[7], t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5];   \
        size_t t6 = t[6], t7 = t[7];                                                           \
        do {                                                                                   \
            for (r = 0; r < REFILL_ROUNDS; ++r) {                                              \
                REFILL_ROUND();                                                                \
            }                                                                                  \
            REFILL_TAKE(n0, t0); REFILL_TAKE(n1, t1); REFILL_TAKE(n2, t2);                    \
            REFILL_TAKE(n3, t3); REFILL_TAKE(n4, t4); REFILL_TAKE(n5, t5);                    \
            REFILL_TAKE(n6, t6); REFILL_TAKE(n7, t7);                                          \
        } while (next + LANES <= T);                                                           \
        n[0] = n0, n[1] = n1, n[2] = n2, n[3] = n3, n[4] = n4, n[5] = n5, n[6] = n6;           \
        n[7] = n7, t[0] = t0, t[1] = t1, t[2] = t2, t[3] = t3, t[4] = t4, t[5] = t5;           \
        t[6] = t6, t[7] = t7;                                                                  \
    }                                                                                          \
    do {                                                                                       \
        for (r = 0; r < REFILL_ROUNDS; ++r) {                                                  \
            for (l = 0; l < LANES; ++l) {                                                      \
                REFILL_STEP(n[l]);                                                             \
            }                                                                                  \
        }                                                                                      \
        parked = 0;                                                                            \
        for (l = 0; l < LANES; ++l) {                                                          \
            size_t leaf = REFILL_AT_LEAF(n[l]), all = 0 - leaf;                                \
            size_t take = next < T ? next : T, root = trees[take < T ? take : T - 1].root;     \
            exits[t[l]] = (uint32_t)n[l];                                                      \
            t[l] ^= (t[l] ^ take) & all;                                                       \
            n[l] ^= (n[l] ^ root) & all;                                                       \
            next += leaf & (next < T);                                                         \
            parked += t[l];                                                                    \
        }                                                                                      \
    } while (parked != T * LANES);                                                             \
    add_exits(f, exits, acc);

typedef char refill_names_eight_lanes[LANES == 8 ? 1 : -1]; /* REFILL_ROUND's n0..n7 */

/* Each tree's leaf value (exits[t]: its leaf node) added in LightGBM's tree order. One output's
 * sum stays in a register, so each of the dependent adds waits on the add before it (3
 * cycles), not on the store and reload of acc[output] (500x63: ~1 us of a row). */
static void add_exits(const edgeml_forest *f, const uint32_t *exits, double *acc)
{
    uint32_t t;
    if (f->n_outputs == 1) {
        double total = acc[0];
        for (t = 0; t < f->n_trees; ++t) {
            total += EDGEML_LEAF(f, values, values32, exits[t]);
        }
        acc[0] = total;
        return;
    }
    for (t = 0; t < f->n_trees; ++t) {
        acc[f->trees[t].output] += EDGEML_LEAF(f, values, values32, exits[t]);
    }
}

/* A narrow node's delta byte is 0 at a leaf. */
#define REFILL_STEP(x) x = NARROW_STEP(nodes, bytes, codes, 1, 0, x, nodes[x])
#define REFILL_AT_LEAF(x) (bytes[4 * (x)] == 0)
static void row_refill_narrow(const edgeml_forest *f, const uint32_t *codes, uint32_t *exits,
                              double *acc)
{
    const uint32_t *nodes = f->narrow;
    const unsigned char *bytes = (const unsigned char *)f->narrow;
    const edgeml_tree_info *trees = f->trees;
    REFILL_WALK()
}
#undef REFILL_STEP
#undef REFILL_AT_LEAF

/* The compact layout (codes[slot * LANES], shifted left by 16): a leaf's rule is at least
 * COMPACT_DONE. Its own function, not a layout parameter: gcc kept the layout's test in the
 * steps (narrow: 52.5k -> 68.0k instructions a 500x63 row, 15% slower). */
#define REFILL_STEP(x) x = COMPACT_STEP(nodes, half, codes, x)
#define REFILL_AT_LEAF(x) (nodes[x].rule >= COMPACT_DONE)
static void row_refill_compact(const edgeml_forest *f, const uint32_t *codes, uint32_t *exits,
                               double *acc)
{
    const edgeml_node *nodes = f->nodes;
    const uint16_t *half = (const uint16_t *)(const void *)f->nodes;
    const edgeml_tree_info *trees = f->trees;
    REFILL_WALK()
}
#undef REFILL_STEP
#undef REFILL_AT_LEAF

void edgeml_forest_codes(const edgeml_forest *f, const double *x, size_t rows, uint32_t *codes)
{
    size_t S = f->n_slots, full = rows - rows % LANES, r;
    block_codes(f, x, full, codes);
    for (r = full; r < rows; ++r) { /* the last rows short of a group: one by one */
        row_codes(f, x + r * f->n_features, codes + (r / LANES) * S * LANES + r % LANES, LANES,
                  code_shift(f));
    }
}

static void block_raw(const edgeml_forest *f, const double *x, size_t rows, double *acc,
                      uint32_t *codes, int prepared)
{
    double *leaf = (double *)(codes + BLOCK * f->n_slots); /* n_trees doubles after the codes */
    size_t S = f->n_slots, K = f->n_outputs, r, full = rows - rows % LANES;
    /* QuickScorer's batches: in lanes, or scalar when asked (a CPU without lanes walks) */
    uint32_t t, qs = f->qs_use & (EDGEML_FOREST_QS_BATCH | EDGEML_FOREST_QS_SCALAR);
    for (r = 0; r < rows * K && !prepared; ++r) { /* the byte lanes store every sum */
        acc[r] = 0.0;
    }
    if (qs == EDGEML_FOREST_QS_BATCH && edgeml_qs_lanes_ok()) {
        /* codes and QuickScorer in SIMD lanes; share_words gave QuickScorer blobs the room */
        edgeml_qs_block(f, x, rows, acc, codes, (uint64_t *)(void *)leaf, prepared);
        return;
    }
    edgeml_forest_codes(f, x, rows, codes);
    if (qs == (EDGEML_FOREST_QS_BATCH | EDGEML_FOREST_QS_SCALAR)) {
        for (r = 0; r < rows; ++r) {
            edgeml_qs_row(f, codes + (r / LANES) * S * LANES + r % LANES, acc + r * K,
                          (uint64_t *)(void *)leaf);
        }
        return;
    }
    for (t = 0; t < f->n_trees && full > 0; ++t) {
        if (f->narrow != NULL) {
            for (r = 0; r < full; r += LANES) {
                tree_lanes_narrow(f, &f->trees[t], codes + r * S, acc + r * K);
            }
        } else if (f->nodes != NULL) {
            for (r = 0; r < full; r += LANES) {
                tree_lanes_compact(f, &f->trees[t], codes + r * S, acc + r * K);
            }
        } else {
            for (r = 0; r < full; r += LANES) {
                tree_lanes(f, &f->trees[t], codes + r * S, acc + r * K);
            }
        }
    }
    for (r = full; r < rows; ++r) {
        const uint32_t *row = codes + (r / LANES) * S * LANES + r % LANES;
        if (f->narrow != NULL) {
            row_trees_narrow(f, row, LANES, 16, acc + r * K);
        } else if (f->nodes != NULL) {
            row_trees_compact(f, row, acc + r * K);
        } else {
            row_trees(f, row, acc + r * K);
        }
    }
}

static void transform(const edgeml_forest *f, double *v)
{
    uint32_t k, K = f->n_outputs;
    if (f->flags & EDGEML_FOREST_AVERAGE) {
        for (k = 0; k < K; ++k) {
            v[k] /= (double)f->n_iterations;
        }
    }
    switch (f->link) {
    case EDGEML_LINK_SIGMOID:
        for (k = 0; k < K; ++k) {
            v[k] = 1.0 / (1.0 + exp(-f->sigmoid * v[k]));
        }
        break;
    case EDGEML_LINK_SOFTMAX: {
        double top = v[0], sum = 0.0;
        for (k = 1; k < K; ++k) {
            top = v[k] > top ? v[k] : top;
        }
        for (k = 0; k < K; ++k) {
            v[k] = exp(v[k] - top);
            sum += v[k];
        }
        for (k = 0; k < K; ++k) {
            v[k] /= sum;
        }
        break;
    }
    case EDGEML_LINK_EXP:
        for (k = 0; k < K; ++k) {
            v[k] = exp(v[k]);
        }
        break;
    case EDGEML_LINK_SQRT:
        for (k = 0; k < K; ++k) {
            v[k] = v[k] * fabs(v[k]);
        }
        break;
    default:
        break;
    }
}

/* uint32 values of one thread's work memory: a block's codes, then for a QuickScorer forest
 * its batches' leaf vectors (the walk's batches need nothing after the codes), rounded up to 64
 * bytes so that two threads' shares never write to one cache line (no false sharing between
 * threads). */
static size_t share_words(const edgeml_forest *f)
{
    typedef char block_matches_the_header[BLOCK == 64 ? 1 : -1];
    /* QuickScorer's SIMD lanes keep LANES leaf vectors per tree and LANES sums per output (the
     * byte lanes their own room, edgeml_qs8_words; scalar QuickScorer a vector per tree) */
    size_t lanes = (size_t)LANES * (f->n_trees + f->n_outputs), bytes = edgeml_qs8_words(f);
    size_t leaves = f->flags & EDGEML_FOREST_QS ? 2u * (lanes > bytes ? lanes : bytes) : 0u;
    (void)sizeof(block_matches_the_header);
    return ((size_t)BLOCK * f->n_slots + leaves + 15u) & ~(size_t)15u;
}

/* uint32 values of slack in edgeml_forest_work_size: batches start their work memory on a
 * 64-byte boundary themselves (see aligned_work). */
#define ALIGN_WORDS 16u

size_t edgeml_forest_work_size(const edgeml_forest *forest, int nthreads)
{
    return (size_t)(nthreads < 1 ? 1 : nthreads) * share_words(forest) + ALIGN_WORDS;
}

size_t edgeml_forest_one_size(const edgeml_forest *forest)
{
    size_t S = forest->n_slots, T = forest->n_trees, walk;
    /* QuickScorer's single rows, where the blob has its section (set_algorithm may choose it) */
    size_t words = EDGEML_FOREST_ONE_WORDS(S, T, forest->flags & EDGEML_FOREST_QS
                                                     ? EDGEML_FOREST_QS_ROW
                                                     : 0u);
    if (forest->narrow != NULL) { /* dense codes, then one exit per chain region (the chains'
                                     layout, edgeml_forest_chain.c), or per tree and a spare */
        walk = S + (size_t)LANES * ((T + LANES - 1u) / LANES + 1u);
    } else if (forest->nodes != NULL) { /* codes[slot * LANES], then the refilling lanes' exits */
        walk = (size_t)LANES * S + T + 1u;
    } else {
        walk = (size_t)LANES * S;
    }
    return words > EDGEML_FOREST_EVEN_WORDS(walk) ? words : EDGEML_FOREST_EVEN_WORDS(walk);
}

/* The work memory from its first 64-byte boundary on. Batches' SIMD lanes load their codes
 * and leaf vectors from it 32 bytes at a time; from malloc's 16-byte alignment half of those
 * loads straddle two cache lines (500x63 in QuickScorer's AVX2 lanes: ~5,400 against ~4,100
 * ns/row), so a batch does not rely on its caller for this. Every share is a multiple of 64
 * bytes, so each thread's share starts on a boundary too. */
static uint32_t *aligned_work(uint32_t *work)
{
    return work + ((0u - (uintptr_t)work) & 63u) / sizeof(uint32_t);
}

static void predict_share(const edgeml_forest *f, const double *x, size_t n, double *out,
                          uint32_t *codes, int raw)
{
    size_t r, k;
    /* the byte lanes: worth laying out their tables once per share from a few blocks on; where
     * the forest has its own (edgeml_forest_qs8), from one block (64 rows: 500x63 -62%; 32
     * rows -31%, 8 rows twice the time, against the 64-bit lanes) */
    int prepared = f->qs8_descs != 0 && n >= (f->qs8 != NULL ? QS8_MIN_OWN : QS8_MIN_ROWS) &&
                   (f->qs_use & (EDGEML_FOREST_QS_BATCH | EDGEML_FOREST_QS_SCALAR)) ==
                       EDGEML_FOREST_QS_BATCH &&
                   edgeml_qs_lanes_ok();
    if (prepared) {
        edgeml_qs8_prepare(f, (uint64_t *)(void *)(codes + BLOCK * f->n_slots));
    }
    /* the byte lanes take two blocks a pass (128 rows: each false node's descriptor serves
     * four vectors of 32 rows); their codes still go through one block's room at a time */
    size_t step = prepared ? 2 * BLOCK : BLOCK;
    for (r = 0; r < n; r += step) {
        size_t rows = n - r < step ? n - r : step;
        double *acc = out + r * f->n_outputs;
        block_raw(f, x + r * f->n_features, rows, acc, codes, prepared);
        if (!raw) {
            for (k = 0; k < rows; ++k) {
                transform(f, acc + k * f->n_outputs);
            }
        }
    }
}

void edgeml_forest_one(const edgeml_forest *forest, const double *x, double *out,
                       uint32_t *work)
{
    /* QuickScorer's leaf vectors after a row's codes (8-byte aligned: LANES * n_slots is even) */
    double *leaf = (double *)(work + LANES * forest->n_slots);
    uint32_t k;
    for (k = 0; k < forest->n_outputs; ++k) {
        out[k] = 0.0;
    }
    if (forest->qs_use & EDGEML_FOREST_QS_ROW) {
        row_codes(forest, x, work, LANES, code_shift(forest));
        edgeml_qs_row(forest, work, out, (uint64_t *)(void *)leaf);
    } else if (forest->narrow != NULL) { /* dense codes: a step's slot needs no multiply */
        row_codes(forest, x, work, 1, 16); /* n_slots codes, then the trees' exits */
        if (forest->refill && forest->chain_walk != NULL) {
            forest->chain_walk(forest, work, work + forest->n_slots, out);
        } else if (forest->refill) {
            row_refill_narrow(forest, work, work + forest->n_slots, out);
        } else {
            row_trees_narrow(forest, work, 1, 0, out);
        }
    } else if (forest->nodes != NULL) {
        row_codes(forest, x, work, LANES, 16); /* LANES * n_slots codes, then the exits */
        if (forest->refill) {
            row_refill_compact(forest, work, work + LANES * forest->n_slots, out);
        } else {
            row_trees_compact(forest, work, out);
        }
    } else {
        row_codes(forest, x, work, LANES, 0);
        row_trees(forest, work, out);
    }
    transform(forest, out);
}

int edgeml_forest_simd(void) { return edgeml_qs_lanes_ok(); }

int edgeml_forest_row_walk(const edgeml_forest *forest)
{
    if (forest->qs_use & EDGEML_FOREST_QS_ROW) {
        return EDGEML_ROW_QUICKSCORER;
    }
    if (forest->narrow != NULL && forest->refill) { /* as edgeml_forest_one decides */
        return forest->chain_walk != NULL ? EDGEML_ROW_CHAINS : EDGEML_ROW_REFILL;
    }
    return forest->nodes != NULL && forest->refill ? EDGEML_ROW_REFILL : EDGEML_ROW_GROUPS;
}

void edgeml_forest_raw(const edgeml_forest *forest, const double *x, size_t n, double *out,
                       uint32_t *work)
{
    predict_share(forest, x, n, out, aligned_work(work), 1);
}

#ifndef EDGEML_NO_THREADS
typedef struct share {
    const edgeml_forest *f;
    const double *x;
    size_t n;
    double *out;
    uint32_t *codes;
} share;

static void *run_share(void *arg)
{
    share *s = (share *)arg;
    predict_share(s->f, s->x, s->n, s->out, s->codes, 0);
    return NULL;
}
#endif

int edgeml_forest_predict(const edgeml_forest *forest, const double *x, size_t n, double *out,
                          int nthreads, uint32_t *work)
{
#ifndef EDGEML_NO_THREADS
    enum { MAX_THREADS = 64 };
    pthread_t ids[MAX_THREADS];
    share shares[MAX_THREADS];
    size_t per, start = 0;
    int t, started = 0;
    work = aligned_work(work);
    if (nthreads > MAX_THREADS) {
        nthreads = MAX_THREADS;
    }
    /* A thread costs tens of microseconds to start: give each at least a few blocks. */
    if ((size_t)nthreads > n / (4 * BLOCK)) {
        nthreads = (int)(n / (4 * BLOCK));
    }
    if (nthreads > 1) {
        per = (n + (size_t)nthreads - 1) / (size_t)nthreads;
        for (t = 0; t < nthreads; ++t) {
            size_t count = n - start < per ? n - start : per;
            shares[t].f = forest;
            shares[t].x = x + start * forest->n_features;
            shares[t].n = count;
            shares[t].out = out + start * forest->n_outputs;
            shares[t].codes = work + (size_t)t * share_words(forest);
            start += count;
        }
        /* share 0 runs on the calling thread, and so does any share no thread could take */
        for (t = 1; t < nthreads; ++t) {
            if (pthread_create(&ids[t], NULL, run_share, &shares[t]) != 0) {
                break;
            }
            started = t;
        }
        for (t = started + 1; t < nthreads; ++t) {
            run_share(&shares[t]);
        }
        run_share(&shares[0]);
        for (t = 1; t <= started; ++t) {
            pthread_join(ids[t], NULL);
        }
        return 0;
    }
#else
    (void)nthreads;
    work = aligned_work(work);
#endif
    predict_share(forest, x, n, out, work, 0);
    return 0;
}
