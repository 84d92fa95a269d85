/*
 * edgeml_forest_open.c - the engine's blob (see edgeml_forest.h): its checks and its mapping.
 *
 * edgeml_forest_open checks everything a traversal will index (counts, offsets, every node's
 * slot, threshold and children, every set, the QuickScorer section) so that no later read can
 * leave the blob, whatever bytes it holds; edgeml_forest_map trusts a blob checked at export
 * (a C package's const array) and only lays it out.
 */
#include "edgeml_forest.h"

#include <string.h>

#define MAGIC "EDGEMLFT"
#define MAX_COUNT (1u << 28) /* any count above this is a corrupted header */
#define MAX_DEPTH 100000u
#define LANES EDGEML_FOREST_LANES /* a slot's code sits at codes[slot * LANES] in batches */
#define NO_CODE UINT32_MAX

/* -- the blob ---------------------------------------------------------------------------- */

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t pad8(uint64_t n) { return (n + 7u) & ~(uint64_t)7u; }

uint64_t edgeml_forest_checksum(const void *blob, size_t size)
{
    /* CRC-32 (zlib's), over the blob with the checksum field (bytes 64..71) read as zeros */
    const unsigned char *p = (const unsigned char *)blob;
    uint32_t table[256], crc = 0xFFFFFFFFu;
    size_t i;
    for (i = 0; i < 256; ++i) {
        uint32_t c = (uint32_t)i;
        int k;
        for (k = 0; k < 8; ++k) {
            c = c & 1u ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        table[i] = c;
    }
    for (i = 0; i < size; ++i) {
        unsigned char byte = (i >= 64 && i < 72) ? 0 : p[i];
        crc = table[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

size_t edgeml_forest_sizeof(void) { return sizeof(edgeml_forest); }

static int little_endian(void)
{
    const uint32_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* Whether codes are 16-bit (compact and narrow forests: default right is 0xFFFF). */
static int short_codes(const edgeml_forest *f) { return f->nodes != NULL || f->narrow != NULL; }

static int check_thresholds(const edgeml_forest *f, size_t *where)
{
    uint32_t j, k;
    if (f->feature_start[0] != 0 || f->feature_start[f->n_features] != f->n_thresholds) {
        *where = 0;
        return EDGEML_FOREST_BAD_THRESHOLDS;
    }
    for (j = 0; j < f->n_features; ++j) {
        uint32_t a = f->feature_start[j], b = f->feature_start[j + 1];
        if (a > b || b > f->n_thresholds) {
            *where = j;
            return EDGEML_FOREST_BAD_THRESHOLDS;
        }
        for (k = a; k < b; ++k) { /* sorted, unique, no NaN: the binary search relies on it */
            if (f->thresholds[k] != f->thresholds[k] || (k > a && !(f->thresholds[k - 1] <
                                                                    f->thresholds[k]))) {
                *where = j;
                return EDGEML_FOREST_BAD_THRESHOLDS;
            }
        }
    }
    for (j = 0; short_codes(f) && j < f->n_features; ++j) {
        /* compact, narrow: every code (at most the count of thresholds) stays below a leaf's
         * 0xFFFF */
        if (f->feature_start[j + 1] - f->feature_start[j] >= EDGEML_COMPACT_LEAF) {
            *where = j;
            return EDGEML_FOREST_BAD_THRESHOLDS;
        }
    }
    for (j = 0; j < f->n_slots; ++j) {
        uint32_t variant = f->slots[2 * j + 1], at = EDGEML_SLOT_SET_WORDS(variant);
        int set = EDGEML_SLOT_KIND(variant) == EDGEML_SLOT_IN_SET;
        if (f->slots[2 * j] >= f->n_features || (variant > EDGEML_SLOT_CATEGORY && !set) ||
            (set && (at >= f->n_words || f->words[at] > f->n_words - at - 1u)) ||
            (short_codes(f) && variant == EDGEML_SLOT_CATEGORY) ||
            (f->nodes != NULL && (uint64_t)j * LANES >= EDGEML_COMPACT_LEAF) ||
            (f->narrow != NULL && j > 0xFFu)) { /* a narrow node's slot is one byte */
            *where = j;
            return EDGEML_FOREST_BAD_SLOT;
        }
    }
    return EDGEML_FOREST_OK;
}

static int check_nodes(const edgeml_forest *f, size_t *where)
{
    uint32_t i;
    for (i = 0; i < f->n_trees; ++i) {
        const edgeml_tree_info *t = &f->trees[i];
        if (t->root >= f->n_nodes || t->output >= f->n_outputs || t->depth > MAX_DEPTH ||
            t->by_depth >= f->n_trees || t->check > t->depth) {
            *where = i;
            return EDGEML_FOREST_BAD_TREE;
        }
    }
    for (i = 0; f->nodes != NULL && i < f->n_nodes; ++i) {
        uint32_t left = f->nodes[i].left, threshold = f->nodes[i].rule >> 16;
        uint32_t slot = f->nodes[i].rule & 0xFFFFu;
        if (slot % LANES != 0 || slot / LANES >= f->n_slots ||
            (threshold == EDGEML_COMPACT_LEAF ? left >= f->n_nodes
                                              : (uint64_t)left + 1u >= f->n_nodes)) {
            *where = i;
            return EDGEML_FOREST_BAD_NODE;
        }
    }
    for (i = 0; f->narrow != NULL && i < f->n_nodes; ++i) {
        /* a leaf stays (delta 0, slot 0: the walk still reads codes[slot]); any other node's
         * children i + delta and i + delta + 1 exist */
        uint32_t node = f->narrow[i], delta = node & 0xFFu, slot = node >> 8 & 0xFFu;
        if (slot >= f->n_slots || ((node & EDGEML_NARROW_LEAF) == EDGEML_NARROW_LEAF
                                       ? delta != 0 || slot != 0
                                       : delta == 0 || (uint64_t)i + delta + 1u >= f->n_nodes)) {
            *where = i;
            return EDGEML_FOREST_BAD_NODE;
        }
    }
    for (i = 0; f->nodes == NULL && f->narrow == NULL && i < f->n_nodes; ++i) {
        uint32_t slot = f->slot[i] / LANES, threshold = f->threshold[i], left = f->left[i];
        uint32_t cat = f->cat[i];
        int category;
        if (f->slot[i] % LANES != 0 || slot >= f->n_slots) {
            *where = i;
            return EDGEML_FOREST_BAD_NODE;
        }
        category = f->slots[2 * slot + 1] == EDGEML_SLOT_CATEGORY;
        if (cat != EDGEML_FOREST_NO_CAT) {
            /* a bitset of `threshold` bits starting at word `cat`, inside words[] */
            uint64_t needed = ((uint64_t)threshold + 31u) / 32u;
            if (!category || cat > f->n_words || needed > f->n_words - cat ||
                (uint64_t)left + 1u >= f->n_nodes) {
                *where = i;
                return EDGEML_FOREST_BAD_NODE;
            }
        } else if (category && threshold != UINT32_MAX) {
            *where = i; /* a numeric compare on a category code */
            return EDGEML_FOREST_BAD_NODE;
        } else if (threshold == UINT32_MAX ? left >= f->n_nodes
                                           : (uint64_t)left + 1u >= f->n_nodes) {
            *where = i; /* a leaf never goes right: only left must exist */
            return EDGEML_FOREST_BAD_NODE;
        }
    }
    return EDGEML_FOREST_OK;
}

/* The header's identity: size, magic, version, byte order and alignment (what both open and
 * map check; the checksum and every index are open's alone). */
static int check_identity(const unsigned char *p, size_t size)
{
    if (size < EDGEML_FOREST_HEADER) {
        return EDGEML_FOREST_TRUNCATED;
    }
    if (memcmp(p, MAGIC, 8) != 0) {
        return EDGEML_FOREST_MAGIC;
    }
    if (get32(p + 8) != EDGEML_FOREST_VERSION || get32(p + 12) != EDGEML_FOREST_HEADER ||
        !little_endian()) {
        return EDGEML_FOREST_BAD_VERSION;
    }
    if (((uintptr_t)p & 7u) != 0) {
        return EDGEML_FOREST_ALIGNMENT;
    }
    if (get64(p + 72) != size) {
        return EDGEML_FOREST_TRUNCATED;
    }
    return EDGEML_FOREST_OK;
}

/* The header's counts and settings and the section pointers: O(1), no index is read. */
static int lay_out(const unsigned char *p, size_t size, edgeml_forest *out)
{
    edgeml_forest f;
    uint64_t at, total;
    uint32_t counts[7];
    size_t i;
    for (i = 0; i < 7; ++i) {
        counts[i] = get32(p + 16 + 4 * i);
        if (counts[i] > MAX_COUNT) {
            return EDGEML_FOREST_BAD_HEADER;
        }
    }
    memset(&f, 0, sizeof f);
    f.n_features = counts[0];
    f.n_outputs = counts[1];
    f.n_trees = counts[2];
    f.n_nodes = counts[3];
    f.n_slots = counts[4];
    f.n_thresholds = counts[5];
    f.n_words = counts[6];
    f.link = get32(p + 44);
    f.flags = get32(p + 48);
    f.n_iterations = get32(p + 52);
    memcpy(&f.sigmoid, p + 56, sizeof f.sigmoid);
    if (f.n_outputs == 0 || f.link > EDGEML_LINK_SQRT || (f.flags & ~EDGEML_FOREST_FLAGS) != 0 ||
        (f.flags & (EDGEML_FOREST_COMPACT | EDGEML_FOREST_NARROW)) ==
            (EDGEML_FOREST_COMPACT | EDGEML_FOREST_NARROW) ||
        ((f.flags & (EDGEML_FOREST_QS_ROW | EDGEML_FOREST_QS_BATCH)) != 0 &&
         (f.flags & EDGEML_FOREST_QS) == 0) ||
        f.n_iterations == 0 || (f.n_trees > 0 && f.n_nodes == 0) || f.n_slots == 0) {
        return EDGEML_FOREST_BAD_HEADER;
    }
    at = EDGEML_FOREST_HEADER;
    f.feature_start = (const uint32_t *)(p + at);
    at += pad8(4ull * (f.n_features + 1ull));
    f.thresholds = (const double *)(p + at);
    at += 8ull * f.n_thresholds;
    f.slots = (const uint32_t *)(p + at);
    at += 8ull * f.n_slots;
    f.trees = (const edgeml_tree_info *)(p + at);
    at += 32ull * f.n_trees;
    if (f.flags & EDGEML_FOREST_COMPACT) {
        f.nodes = (const edgeml_node *)(p + at);
        at += 8ull * f.n_nodes;
        f.no_code = EDGEML_COMPACT_LEAF;
    } else if (f.flags & EDGEML_FOREST_NARROW) {
        f.narrow = (const uint32_t *)(p + at);
        at += pad8(4ull * f.n_nodes);
        f.no_code = EDGEML_COMPACT_LEAF;
    } else {
        f.threshold = (const uint32_t *)(p + at);
        at += pad8(4ull * f.n_nodes);
        f.slot = (const uint32_t *)(p + at);
        at += pad8(4ull * f.n_nodes);
        f.left = (const uint32_t *)(p + at);
        at += pad8(4ull * f.n_nodes);
        f.cat = (const uint32_t *)(p + at);
        at += pad8(4ull * f.n_nodes);
        f.no_code = NO_CODE;
    }
    if (f.flags & EDGEML_FOREST_F32) {
        f.values32 = (const float *)(p + at);
        at += pad8(4ull * f.n_nodes);
    } else {
        f.values = (const double *)(p + at);
        at += 8ull * f.n_nodes;
    }
    f.words = (const uint32_t *)(p + at);
    total = at + pad8(4ull * f.n_words);
    if (f.flags & EDGEML_FOREST_QS) {
        total = edgeml_qs_lay_out(p, total, size, &f);
        f.qs_use = f.flags & (EDGEML_FOREST_QS_ROW | EDGEML_FOREST_QS_BATCH);
    }
    if (total != size) {
        return EDGEML_FOREST_TRUNCATED;
    }
    /* Only categorical nodes (wide layout) and category-set slots own bitset words; a walk
     * that steps categorical nodes costs only speed on a forest without them. */
    f.has_categorical = f.n_words > 0 && f.cat != NULL;
    *out = f;
    return EDGEML_FOREST_OK;
}

int edgeml_forest_open(const void *blob, size_t size, edgeml_forest *forest, size_t *where)
{
    const unsigned char *p = (const unsigned char *)blob;
    edgeml_forest f;
    size_t i, dummy;
    uint64_t depths;
    int status;
    if (where == NULL) {
        where = &dummy;
    }
    *where = 0;
    status = check_identity(p, size);
    if (status != EDGEML_FOREST_OK) {
        return status;
    }
    if (get64(p + 64) != edgeml_forest_checksum(blob, size)) {
        return EDGEML_FOREST_CHECKSUM;
    }
    status = lay_out(p, size, &f);
    if (status != EDGEML_FOREST_OK) {
        return status;
    }
    status = check_thresholds(&f, where);
    if (status == EDGEML_FOREST_OK) {
        status = check_nodes(&f, where);
    }
    if (status == EDGEML_FOREST_OK && (f.flags & EDGEML_FOREST_QS)) {
        status = edgeml_qs_check(&f, where);
    }
    if (status != EDGEML_FOREST_OK) {
        return status;
    }
    if (f.flags & EDGEML_FOREST_QS) { /* from the checked section: every index in range */
        f.qs8_descs = edgeml_qs8_count(&f);
    }
    /* groups of LANES wait on their longest path, refilling lanes do not, but they step 4 times
     * between checkpoints: the lanes lose only on stumps and trees of depth 2. The rule was a
     * mean depth of 14 (500x63, 15: 5-8% faster; 1000x255, 15.8: 30%; "depth 6 or less: 20-50%
     * slower" when the lanes were first measured). Measured again (predict_one on 1,000
     * distinct rows, 11 alternated passes, medians, 2 runs, no chains; groups / lanes, us):
     * 500 trees of depth 1 3.38-3.68 / 3.77-4.04, depth 2 3.54-5.39 / 3.74-5.73, depth 3
     * 4.62-5.78 / 3.89-5.61, depth 4 6.30-6.44 / 5.99-6.22; 2,000 trees of depth 4, compact
     * 16.3-19.0 / 14.6-16.5; the real 10-class model (mean depth 10.75), compact 14.3-15.5 /
     * 10.8-14.1, narrow 12.3 / 10.8. (Where a narrow forest's chains are laid out, single rows
     * take them at any depth: edgeml_forest_chain.) */
    for (i = 0, depths = 0; short_codes(&f) && i < f.n_trees; ++i) {
        depths += f.trees[i].depth;
    }
    f.refill = short_codes(&f) && depths >= (uint64_t)EDGEML_FOREST_REFILL_DEPTH * f.n_trees;
    f.has_categorical = 0;
    for (i = 0; f.cat != NULL && i < f.n_nodes; ++i) {
        if (f.cat[i] != EDGEML_FOREST_NO_CAT) {
            f.has_categorical = 1;
            break;
        }
    }
    *forest = f;
    return EDGEML_FOREST_OK;
}

int edgeml_forest_map(const void *blob, size_t size, edgeml_forest *forest)
{
    const unsigned char *p = (const unsigned char *)blob;
    int status = check_identity(p, size);
    return status != EDGEML_FOREST_OK ? status : lay_out(p, size, forest);
}

int edgeml_forest_set_algorithm(edgeml_forest *forest, uint32_t use)
{
    uint32_t known = EDGEML_FOREST_QS_ROW | EDGEML_FOREST_QS_BATCH | EDGEML_FOREST_QS_SCALAR;
    uint32_t walks = EDGEML_FOREST_ROW_REFILL | EDGEML_FOREST_ROW_GROUPS;
    uint32_t walk = use & walks, qs = use & ~walks;
    if ((qs & ~known) != 0 || (qs != 0 && (forest->flags & EDGEML_FOREST_QS) == 0) ||
        walk == walks || (walk != 0 && !short_codes(forest))) {
        return -1;
    }
    forest->qs_use = qs;
    if (walk != 0) {
        forest->refill = walk == EDGEML_FOREST_ROW_REFILL;
    }
    return 0;
}
