/*
 * edgeml_forest.h - edgeml's tree engine: a LightGBM forest as data, one traversal core.
 *
 * No per-model code: a model is a table blob (written by edgeml export --format native, or
 * compiled into a C package as a const array) that edgeml_forest_open checks and maps. The
 * engine then predicts exactly what LightGBM's Booster.predict gives:
 *
 *  1. per row, each (feature, missing rule) pair in use - a "slot" - becomes an integer code:
 *     the count of the feature's sorted split thresholds below the value (a branch-free binary
 *     search), so "x <= threshold k" is "code <= k"; a value that goes its node's default way
 *     gets code 0 (default left) or UINT32_MAX (default right), following LightGBM's rules for
 *     missing types None (NaN reads as 0), Zero (0 and NaN are missing) and NaN, after
 *     LightGBM's dense-row rule |x| <= 1e-35f -> 0. A categorical slot's code is the category
 *     (trunc(x)), or UINT32_MAX (right) for NaN, x <= -1 and x >= 2^31;
 *  2. every tree is a breadth-first array of nodes whose children are adjacent, leaves looping
 *     to themselves, so a step is  node = left[node] + (code[slot[node]] > threshold[node])
 *     for exactly depth(tree) steps: no data-dependent branch, and several rows (or, for a
 *     single row, several trees) walk interleaved so their loads overlap;
 *  3. leaf values are added per output in LightGBM's tree order (bit-for-bit its sums), then
 *     averaged (random forest) and transformed (sigmoid, softmax, exp, x|x|) as LightGBM does.
 *
 * C99 plus pthreads for edgeml_forest_predict's threads; no allocation: the caller passes the
 * work memory (edgeml_forest_work_size), so every function is thread-safe.
 */
#ifndef EDGEML_FOREST_H
#define EDGEML_FOREST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGEML_FOREST_VERSION 2u
#define EDGEML_FOREST_HEADER 80u /* bytes before the first section */

/* Slot variants: how a feature's value becomes a code for the nodes that read the slot. */
enum edgeml_slot_variant {
    EDGEML_SLOT_NONE = 0,       /* missing type None: NaN reads as 0.0 */
    EDGEML_SLOT_NAN_LEFT = 1,   /* missing type NaN, NaN goes left */
    EDGEML_SLOT_NAN_RIGHT = 2,  /* missing type NaN, NaN goes right */
    EDGEML_SLOT_ZERO_LEFT = 3,  /* missing type Zero: 0 and NaN go left */
    EDGEML_SLOT_ZERO_RIGHT = 4, /* missing type Zero: 0 and NaN go right */
    EDGEML_SLOT_CATEGORY = 5,   /* categorical: the category, UINT32_MAX for none */
    EDGEML_SLOT_IN_SET = 6      /* a category set, see below: 0 in the set, 1 not */
};

/* A categorical split reads an EDGEML_SLOT_IN_SET slot: its variant's low byte is 6 and its
 * high 24 bits the offset of the set in words[]: words[offset] is the set's count of words n,
 * words[offset + 1 .. offset + n] its bitset. The code is 0 when the category (as for
 * EDGEML_SLOT_CATEGORY) is in the set, else 1, so the split is the numeric node "code > 0 goes
 * right" and categorical models take the compact, narrow and QuickScorer layouts. */
#define EDGEML_SLOT_KIND(variant) ((variant) & 0xFFu)
#define EDGEML_SLOT_SET_WORDS(variant) ((variant) >> 8)

/* LightGBM's category of v ((int)v; NaN, v <= -1 and v >= 2^31: none, UINT32_MAX). */
static inline uint32_t edgeml_category(double v)
{
    return v > -1.0 && v < 2147483648.0 ? (uint32_t)(int32_t)v : UINT32_MAX;
}

/* The code of v in a category-set slot of `variant` (checked at open): 0 in the set, else 1. */
static inline uint32_t edgeml_set_code(const uint32_t *words, uint32_t variant, double v)
{
    const uint32_t *set = words + EDGEML_SLOT_SET_WORDS(variant);
    uint32_t category = edgeml_category(v);
    return category / 32u < set[0] && (set[1u + category / 32u] >> (category & 31u)) & 1u ? 0u
                                                                                          : 1u;
}

/* Output transforms (LightGBM's ConvertOutput). */
enum edgeml_link {
    EDGEML_LINK_IDENTITY = 0,
    EDGEML_LINK_SIGMOID = 1, /* 1 / (1 + exp(-sigmoid * s)) per output */
    EDGEML_LINK_SOFTMAX = 2,
    EDGEML_LINK_EXP = 3,
    EDGEML_LINK_SQRT = 4 /* s * |s| */
};

#define EDGEML_FOREST_AVERAGE 1u /* flag: divide sums by n_iterations (random forest) */
#define EDGEML_FOREST_COMPACT 2u /* flag: nodes in the 8-byte layout (see below) */
#define EDGEML_FOREST_QS 4u      /* flag: a QuickScorer section follows the bitset words */
#define EDGEML_FOREST_QS_ROW 8u  /* flag: single rows use QuickScorer (measured at export) */
#define EDGEML_FOREST_QS_BATCH 16u /* flag: batches use QuickScorer in SIMD lanes (measured at
                                      export); a CPU without the lanes walks them (scalar
                                      QuickScorer never beat the walk on batches) */
#define EDGEML_FOREST_F32 32u   /* flag: leaf values stored as float (devices: smaller tables;
                                   export keeps it only where the parity gate passes) */
#define EDGEML_FOREST_NARROW 128u /* flag: nodes in the 4-byte layout (see below) */
#define EDGEML_FOREST_FLAGS (63u | EDGEML_FOREST_NARROW) /* every flag a blob may carry */
/* Not a blob flag (a blob carrying it is refused): with EDGEML_FOREST_QS_BATCH,
 * edgeml_forest_set_algorithm's way to run batches on scalar QuickScorer, lanes or not (tests
 * and the benchmark compare the two). */
#define EDGEML_FOREST_QS_SCALAR 64u
/* Not blob flags either: edgeml_forest_set_algorithm's way to choose how a narrow or compact
 * forest walks single rows: lanes that take the next tree as theirs ends (REFILL) or groups of
 * EDGEML_FOREST_LANES trees that each run to their longest path (GROUPS). edgeml_forest_open
 * chooses refill where the trees' mean depth is at least EDGEML_FOREST_REFILL_DEPTH (groups
 * wait on their longest path; stumps finish before a checkpoint); edgeml_forest_map (O(1), no pass
 * over the trees) keeps groups. */
#define EDGEML_FOREST_ROW_REFILL 256u
#define EDGEML_FOREST_ROW_GROUPS 512u
#define EDGEML_FOREST_REFILL_DEPTH 4u

/* A leaf value, stored as double or (EDGEML_FOREST_F32) as float; the model-wide choice is a
 * branch that always goes the same way. Sums stay double, in LightGBM's tree order. */
#define EDGEML_LEAF(f, doubles, floats, i) \
    ((f)->floats != NULL ? (double)(f)->floats[i] : (f)->doubles[i])

/* QuickScorer over the codes (edgeml_forest_qs.c), for forests without categorical splits
 * whose trees all have at most 64 leaves. A tree's leaves are numbered left to right, and a
 * row's exit leaf is the lowest set bit of a 64-bit vector that starts all ones and is ANDed
 * with the mask of every node the row does NOT take left (its "false" nodes: the mask clears
 * the leaves of the node's left subtree). A node goes right iff its slot's code > k, so the
 * false nodes of a slot are exactly its nodes with k < code: listed per slot sorted by k,
 * they are a prefix whose end qs_bound gives per code - no compare per node. The section:
 *   "EDGEMLQS", version, n_entries, n_leaves, n_bounds, width, 0   (32 bytes)
 *   qs_slot_start[n_slots + 1]   offsets into the entries, per slot
 *   qs_bound_start[n_slots + 1]  offsets into qs_bound: slot s owns count(feature) + 1
 *   qs_bound[n_bounds]           per slot and code c: the end of the entries with k < c
 *   qs_mask[n_entries] (uint64), qs_tree[n_entries]                       (width 64)
 *   or qs_mask[n_entries] as tree << 32 | 32-bit mask, no qs_tree   (width 32: every tree
 *      has at most 32 leaves; one 8-byte load per entry instead of 12 bytes from two arrays)
 *   qs_leaf_start[n_trees + 1], qs_values[n_leaves] (double, left to right per tree)
 * every array padded to 8 bytes, covered by the blob's checksum and size. */
#define EDGEML_QS_VERSION 2u
#define EDGEML_QS_HEADER 32u
#define EDGEML_QS_MAX_LEAVES 64u

/* Nodes are four parallel uint32 arrays. A numeric node goes right iff code > threshold; a
 * categorical node (cat != EDGEML_FOREST_NO_CAT) goes left iff code < threshold (its bitset's
 * bit count) and bit `code` of words[cat..] is set. The right child is left + 1. A leaf has
 * threshold UINT32_MAX and left = itself. A node's slot is stored times EDGEML_FOREST_LANES
 * (the codes of a group of rows are slot-major), saving a multiply per step. */
#define EDGEML_FOREST_LANES 8u
#define EDGEML_FOREST_NO_CAT UINT32_MAX

/* The compact layout, when the model allows it (no categorical split, fewer than 65,535
 * thresholds per feature, fewer than 8,192 slots; chosen at export): a node is two uint32,
 * left and threshold << 16 | slot (slot times EDGEML_FOREST_LANES), so the nodes of a
 * 500-tree x 63-leaf model take 500 KB instead of 1 MB. A compact forest's codes are stored
 * shifted left by 16, so "code > threshold" is one compare of the code with the whole second
 * word. A leaf has threshold 0xFFFF (no code is above it: default-right values get code 0xFFFF
 * in a compact forest, every other code is at most its feature's count of thresholds) and
 * left = itself. */
#define EDGEML_COMPACT_LEAF 0xFFFFu

/* The narrow layout, when the model allows it (compact's conditions, plus at most 256 slots and
 * every left child at most 255 nodes after its parent; chosen at export): a node is one uint32,
 * threshold << 16 | slot << 8 | delta, its left child delta nodes after it, so the nodes of a
 * 500-tree x 63-leaf model take 250 KB, and a step is two loads (the node with its slot byte,
 * then the code) where the compact layout makes three. A narrow forest's codes are not
 * shifted (threshold = node >> 16, computed while the code loads), default-right values get
 * code 0xFFFF as in a compact forest, and a leaf has threshold 0xFFFF, slot 0 and delta 0. A
 * single row's codes are dense (codes[slot]); a batch group's stay slot-major. */
#define EDGEML_NARROW_LEAF 0xFFFF0000u

typedef struct edgeml_node {
    uint32_t left; /* the left child; the right child is left + 1 */
    uint32_t rule; /* threshold << 16 | slot: the slot is the low half (little-endian) */
} edgeml_node;

typedef struct edgeml_tree_info {
    uint32_t root;  /* node index */
    uint32_t depth; /* steps from the root to the deepest leaf */
    uint32_t output;
    uint32_t by_depth; /* the i-th tree in order of depth (checked; the walks now go in
                          LightGBM's order, see row_trees_narrow) */
    uint32_t check;    /* steps taken before first testing whether all lanes reached leaves */
    uint32_t pad[3];
} edgeml_tree_info;

/* An opened forest: pointers into the caller's blob (which must outlive it). */
typedef struct edgeml_forest {
    uint32_t n_features, n_outputs, n_trees, n_nodes, n_slots, n_thresholds, n_words;
    uint32_t link, flags, n_iterations, has_categorical;
    uint32_t no_code; /* the code of a value that goes right by default */
    double sigmoid;
    const uint32_t *feature_start; /* n_features + 1 offsets into thresholds */
    const double *thresholds;      /* sorted, unique per feature */
    const uint32_t *slots;         /* n_slots (feature, variant) pairs */
    const edgeml_tree_info *trees;
    const uint32_t *threshold, *slot, *left, *cat; /* per node; NULL when compact */
    const edgeml_node *nodes; /* per node when compact, else NULL */
    const uint32_t *narrow;   /* per node when narrow, else NULL */
    const double *values; /* per node: the leaf value (0 for internal nodes); NULL if F32 */
    const float *values32; /* the same as float (EDGEML_FOREST_F32), else NULL */
    const uint32_t *words; /* categorical bitsets */
    /* QuickScorer (see above); qs_use: EDGEML_FOREST_QS_ROW | _BATCH, the algorithms in use */
    uint32_t qs_use, qs_entries, qs_leaves, qs_bounds, qs_width;
    uint32_t qs8_descs; /* batches' byte lanes (AVX2, edgeml_forest_qs_simd.c): descriptors in
                           work memory, 0 where the lanes do not apply (set by open only) */
    const uint64_t *qs8; /* their tables, once edgeml_forest_qs8 laid them out (NULL before:
                            each call lays them out in its work memory) */
    const uint32_t *qs_slot_start, *qs_bound_start, *qs_bound, *qs_tree, *qs_leaf_start;
    const uint64_t *qs_mask;
    const double *qs_values;
    const float *qs_values32; /* as values32 */
    uint32_t refill; /* 1: single rows walk with refilling lanes (EDGEML_FOREST_ROW_REFILL) */
    /* the chains refilling single rows of a narrow forest take instead, once
     * edgeml_forest_chain built them (NULL before) */
    const uint32_t *chain;
    uint32_t chain_shift, chain_lanes; /* regions of 2^chain_shift nodes, per lane */
    void (*chain_walk)(const struct edgeml_forest *f, const uint32_t *codes, uint32_t *exits,
                       double *acc);
} edgeml_forest;

/* Error codes of edgeml_forest_open (0 is success). */
enum edgeml_forest_error {
    EDGEML_FOREST_OK = 0,
    EDGEML_FOREST_TRUNCATED = 1, /* shorter (or longer) than its header says */
    EDGEML_FOREST_MAGIC = 2,     /* not a forest blob */
    EDGEML_FOREST_BAD_VERSION = 3,
    EDGEML_FOREST_CHECKSUM = 4,
    EDGEML_FOREST_BAD_HEADER = 5, /* a count or setting out of range */
    EDGEML_FOREST_BAD_THRESHOLDS = 6,
    EDGEML_FOREST_BAD_SLOT = 7,
    EDGEML_FOREST_BAD_TREE = 8,
    EDGEML_FOREST_BAD_NODE = 9,
    EDGEML_FOREST_ALIGNMENT = 10, /* the blob must start on an 8-byte boundary */
    EDGEML_FOREST_BAD_QS = 11     /* the QuickScorer section: *where is the entry, slot or tree */
};

/*
 * Check a blob completely (size, magic, version, checksum, every index in range) and map it
 * into *forest. On an error *forest is untouched and *where names the offending item (node,
 * tree, slot or feature index) when there is one. The blob is never read out of its bounds.
 */
int edgeml_forest_open(const void *blob, size_t size, edgeml_forest *forest, size_t *where);

/*
 * Map a blob that was checked when it was made - one compiled into a program by edgeml export
 * --format c, whose parity gate ran that very program - in O(1): the header's identity and
 * counts and the section pointers, no checksum, no index check. Never use it on bytes read at
 * run time (a file, a network): edgeml_forest_open checks everything.
 */
int edgeml_forest_map(const void *blob, size_t size, edgeml_forest *forest);

/* CRC-32 (zlib's) of the blob with its checksum field read as zeros (what the header holds). */
uint64_t edgeml_forest_checksum(const void *blob, size_t size);

/* sizeof(edgeml_forest), for callers that allocate it without this header (ctypes). */
size_t edgeml_forest_sizeof(void);

/* uint32 values of work memory edgeml_forest_one needs on a forest edgeml_forest_map mapped from
 * a blob with these header flags, for callers that size the buffer at compile time (a C
 * package's stack): a single row's codes - dense for a narrow forest's walk, codes[slot *
 * EDGEML_FOREST_LANES] otherwise - and, where QuickScorer takes single rows, a leaf vector
 * (uint64) per tree after them; even (a uint64 buffer holds it), at least 2. A mapped forest
 * walks in groups, which keep their nodes in registers. (Every caller used to reserve a 64-row
 * block's codes: 14,272 bytes on 500x63, where a narrow walk's row takes 160, 40 slots.) */
#define EDGEML_FOREST_ONE_WORDS(n_slots, n_trees, flags) \
    EDGEML_FOREST_EVEN_WORDS(((flags) & EDGEML_FOREST_QS_ROW) \
                                 ? 8u * (size_t)(n_slots) + 2u * (size_t)(n_trees) \
                                 : ((flags) & EDGEML_FOREST_NARROW) ? (size_t)(n_slots) \
                                                                    : 8u * (size_t)(n_slots))
#define EDGEML_FOREST_EVEN_WORDS(words) ((words) < 2u ? (size_t)2u : ((words) + 1u) & ~(size_t)1u)

/* uint32 values of work memory edgeml_forest_predict and edgeml_forest_raw need for nthreads
 * threads (any 4-byte aligned buffer: they align it to 64 bytes within it). */
size_t edgeml_forest_work_size(const edgeml_forest *forest, int nthreads);

/* uint32 values of work memory edgeml_forest_one needs (8-byte aligned) on this forest, whatever
 * single-row algorithm edgeml_forest_set_algorithm or edgeml_forest_chain gives it later: the
 * codes and QuickScorer's leaf vectors (EDGEML_FOREST_ONE_WORDS), or the codes and the walks'
 * exits (refilling lanes: one per tree and a spare; chains: one per region). Not a batch
 * share's (edgeml_forest_work_size: a 64-row block's codes and the lanes' leaf vectors). */
size_t edgeml_forest_one_size(const edgeml_forest *forest);

/*
 * n rows of features (row-major, n_features doubles each, NaN for missing) to n x n_outputs
 * values: LightGBM's Booster.predict (binary: the positive class's probability). With
 * nthreads > 1 the rows are split into contiguous shares (fewer threads for small batches; a
 * share no thread can be started for runs on the calling thread). Returns 0.
 */
int edgeml_forest_predict(const edgeml_forest *forest, const double *x, size_t n, double *out,
                          int nthreads, uint32_t *work);

/* One row of features to its n_outputs values, as edgeml_forest_predict with n = 1 and one
 * thread, without its block set-up (the single-row path of edgeml_row_predict). */
void edgeml_forest_one(const edgeml_forest *forest, const double *x, double *out,
                       uint32_t *work);

/*
 * Choose the algorithms of an opened forest: use = 0 (walk everywhere) or EDGEML_FOREST_QS_ROW
 * and/or EDGEML_FOREST_QS_BATCH (QuickScorer for single rows / batches), plus
 * EDGEML_FOREST_QS_SCALAR for batches on scalar QuickScorer, plus EDGEML_FOREST_ROW_REFILL or
 * EDGEML_FOREST_ROW_GROUPS for how single rows walk a narrow or compact forest (neither: as
 * opened).
 * Returns 0, or -1 (nothing changed) when use asks for QuickScorer and the blob has no
 * QuickScorer section, or for both walks or a walk of a wide forest. The blob's
 * flags hold the choice made at export; this is how export measures both.
 */
int edgeml_forest_set_algorithm(edgeml_forest *forest, uint32_t use);

/*
 * Single rows of a narrow forest as chains (kernels/edgeml_forest_chain.c; host runtime): tree
 * t's nodes copied into region (t % LANES) * per_lane + t / LANES of a region size 2^shift
 * that holds the largest tree, per_lane = ceil(n_trees / LANES) + 1, each leaf turned into a
 * word that holds the leaf's number in its tree and takes the lane's next tree's first step
 * (or steps to that root: the next tree a single leaf, or after the lane's last tree a region
 * of looping leaves), thresholds in the top byte, and after the nodes each region's leaf values
 * side by side (the sums read only these). Single rows then walk every lane through its trees
 * with no checkpoint, whatever the trees' depth (edgeml_forest_chain sets the forest to refill;
 * EDGEML_FOREST_ROW_GROUPS still walks groups): edgeml_forest_open's depth rule weighs the
 * refilling lanes' checkpoints against groups, and the chains have none.
 * edgeml_forest_chain_size: the bytes of memory that takes, 0 where the forest is not narrow
 * or does not fit (a tree over 256 nodes, regions beyond a uint32 index or the work memory).
 * edgeml_forest_chain: lays the chains out in `memory` (64-byte aligned, at least that size,
 * kept as long as the forest is used) and makes the forest use them; -1 and nothing changed
 * where it cannot (a child outside its tree, a single-leaf tree in 256-node regions, a
 * threshold index of 255 or more: max_bin above 256). Call it
 * before sharing the forest between threads.
 */
size_t edgeml_forest_chain_size(const edgeml_forest *forest);
int edgeml_forest_chain(edgeml_forest *forest, void *memory, size_t size);

/*
 * The byte lanes' tables of a forest's QuickScorer batches (descriptors, tree blocks, exit
 * order: they depend only on the forest), laid out once instead of once per call and thread
 * (which cost batches of 1,024-2,000 rows noticeably). edgeml_forest_qs8_size: the bytes they
 * take, 0 where the byte lanes do not apply (no AVX2, a forest they do not take).
 * edgeml_forest_qs8: lays them out in `memory` (8-byte aligned, at least that size, kept as
 * long as the forest is used) and makes the forest's batches read them there; -1 and nothing
 * changed where it cannot. Call it before sharing the forest between threads; then every
 * thread only reads them.
 */
size_t edgeml_forest_qs8_size(const edgeml_forest *forest);
int edgeml_forest_qs8(edgeml_forest *forest, void *memory, size_t size);

/* What edgeml_forest_one runs on this forest now (export records the walk it timed). */
enum edgeml_row_walk {
    EDGEML_ROW_GROUPS = 0,     /* groups of EDGEML_FOREST_LANES trees (wide forests: always) */
    EDGEML_ROW_REFILL = 1,     /* refilling lanes */
    EDGEML_ROW_CHAINS = 2,     /* the chains (edgeml_forest_chain) */
    EDGEML_ROW_QUICKSCORER = 3 /* QuickScorer (EDGEML_FOREST_QS_ROW) */
};
int edgeml_forest_row_walk(const edgeml_forest *forest);

/* The SIMD lanes batches of QuickScorer run on this CPU: 0 (none: batches walk), 1 (aarch64
 * NEON), 2 (x86-64 AVX2);
 * decided at run time, so one core serves machines with and without them. */
int edgeml_forest_simd(void);

/* The raw sums (before averaging and the link), n x n_outputs; one thread. */
void edgeml_forest_raw(const edgeml_forest *forest, const double *x, size_t n, double *out,
                       uint32_t *work);

/* Internal, between edgeml_forest.c and edgeml_forest_qs.c: map the QuickScorer section that
 * starts at byte `at` (returns the byte after it, or 0 if it does not fit in size), check
 * every index in it, and score one row's codes (codes[slot * EDGEML_FOREST_LANES]) into acc
 * with bits: n_trees uint64 of work memory. */
uint64_t edgeml_qs_lay_out(const unsigned char *p, uint64_t at, size_t size, edgeml_forest *f);
int edgeml_qs_check(const edgeml_forest *f, size_t *where);
void edgeml_qs_row(const edgeml_forest *f, const uint32_t *codes, double *acc, uint64_t *bits);
/* edgeml_forest_qs_simd.c: whether this CPU has the lanes, and one block of at most 64 rows
 * (row-major x; prepared: a pass of at most 128, two blocks) into acc[row * n_outputs + k],
 * coded into codes (a block's codes, one block at a time) and scored with bits: LANES *
 * (n_trees + n_outputs) uint64 of work memory, or edgeml_qs8_words when prepared. */
int edgeml_qs_lanes_ok(void); /* 0: none, 1: NEON, 2: AVX2 */
/* edgeml_forest_qs_neon.c: edgeml_qs_block on aarch64 (defined only there). */
void edgeml_qs_neon_block(const edgeml_forest *f, const double *x, size_t rows, double *acc,
                          uint32_t *codes, uint64_t *bits);
/* edgeml_forest.c: a block's codes (at most 64 rows) as batches code them, for the lanes. */
void edgeml_forest_codes(const edgeml_forest *f, const double *x, size_t rows, uint32_t *codes);
/* prepared: edgeml_qs8_prepare laid out the byte lanes' descriptors in bits (see below). */
void edgeml_qs_block(const edgeml_forest *f, const double *x, size_t rows, double *acc,
                     uint32_t *codes, uint64_t *bits, int prepared);
/* The byte lanes (32 rows per vector, a tree's leaf vectors as byte slices, one per 8 leaves)
 * for forests of at most 8,192 trees whose slots have at most 254 thresholds, on AVX2: the
 * count of their descriptors (0: not for this forest or CPU), the uint64 of work memory they
 * take after the codes, and their layout into it (once per call of a thread's share, unless
 * the forest has its own: edgeml_forest_qs8). */
uint32_t edgeml_qs8_count(const edgeml_forest *f);
size_t edgeml_qs8_words(const edgeml_forest *f);
void edgeml_qs8_prepare(const edgeml_forest *f, uint64_t *bits);

#ifdef __cplusplus
}
#endif

#endif /* EDGEML_FOREST_H */
