/*
 * edgeml_forest_qs_simd.c - QuickScorer for a block of rows in SIMD lanes (the vectorised
 * QuickScorer of Lucchese et al., 2016), over the same section as edgeml_forest_qs.c.
 *
 * Why: scalar QuickScorer costs a row in a batch what it costs alone (a load-AND-store per
 * false node), so the walk beat it on batches. Here a group of 8 rows shares each entry: the
 * rows' leaf vectors of one tree sit side by side (32-bit vectors: two groups, 16 rows, in two
 * 256-bit registers; 64-bit: 8 rows in two) and an entry is one masked AND for all of them. A
 * row's false nodes in a slot are the entries before its end (qs_bound[code]); the group walks
 * the slot's entries to the longest of its ends: up to the shortest end every lane ANDs (no
 * compare), past it a compare of the entry's index with each lane's end selects the lanes.
 * Rows whose prefix is shorter do extra entries for free in the lanes, which costs the group
 * only where its rows' ends differ widely. The block's codes are computed in lanes too (they
 * were 40% of a small forest's batch): the same compares as block_codes, 4 rows per vector.
 *
 * Byte lanes (at most 8,192 trees, at most 254 thresholds per slot, batches of at least
 * QS8_MIN_ROWS rows per thread): 32 rows per vector, a tree's leaf vectors as byte
 * slices (one per 8 leaves), the false nodes as descriptors laid out once per forest
 * (edgeml_forest_qs8; else once per call in work memory) (lanes8); a third of the bytes stored per false node: 12% faster than the 32-bit
 * lanes on the 10-class model (166 trees), 26% on 2,000 trees of depth 4 (C harness, CPU
 * time). Their exits add output by output in registers (add_leaves32): another 12% on the
 * 10-class model; then (session 6) exits found in the bytes and, for trees of at most 8
 * leaves, leaf values read from registers (lookup8), and each slot's last descriptor from a
 * table: 8-11% more (10-class; 2,000 depth-4 trees: 22% fewer instructions, the same time).
 * Width-64 forests (trees of 33-64 leaves) take them too, up to 8 slices a tree (session 8):
 * 500 trees x 63 leaves went from 4,016 to 1,323 ns/row (lanes64: every entry a read-modify-
 * write of 64 bytes per 8 rows, to the longest of 8 prefixes; here 1.45 descriptors an entry,
 * each 4 compares and 4 read-modify-writes of 32 bytes for 128 rows). Then the trees in blocks
 * whose slices stay in L1 (16 KB), each block's descriptors then its exits: 500x63 and the
 * 10-class model 13-17% faster (the slices of all trees, ~500 KB a pass, went through L2).
 *
 * Exit leaves and sums are per row, per tree in LightGBM's order: the same additions as the
 * scalar path, bit for bit. No vector is ever 0 (edgeml_qs_check: every mask keeps its tree's
 * last leaf), so a lowest set bit always exists. On x86-64 the SIMD code is compiled for AVX2
 * as its own functions (the rest of the core stays baseline x86-64) and runs only where the CPU
 * reports AVX2 at run time; on aarch64 it is NEON (every such CPU has it); anywhere else
 * edgeml_qs_lanes_ok() is 0 and a blob's QuickScorer batches walk.
 */
#include "edgeml_forest.h"

#define LANES EDGEML_FOREST_LANES
#define QS_VALUE(f, i) EDGEML_LEAF(f, qs_values, qs_values32, i)
#define QS8_MAX_TREES 8192u /* byte lanes: at most this many trees */
#define QS8_PASS 128u       /* byte lanes: rows a pass (two blocks of 64), 4 vectors of 32 */
#ifndef QS8_BLOCK
#define QS8_BLOCK 16384u /* bytes of a tree block's slices: half of L1 (12-20 KB: the same) */
#endif
#ifndef QS_WINDOWS
#define QS_WINDOWS 16u /* at most 16 windows of 16 thresholds: counted by windows, see below */
#endif
#ifndef QS_LINEAR
#define QS_LINEAR 32u /* at most this many thresholds: counted by compares, not searched */
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(EDGEML_NO_SIMD)
#define EDGEML_QS_AVX2 1
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__ARM_NEON) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(EDGEML_NO_SIMD)
#define EDGEML_QS_NEON 1 /* every aarch64 CPU has NEON (edgeml_forest_qs_neon.c) */
#endif

static uint32_t qs8_slices(const edgeml_forest *f, uint32_t t);

#ifdef EDGEML_QS_AVX2
#define AVX2 __attribute__((target("avx2")))

/* Each lane's end in slot s: qs_bound[first + min(code, count)] (the no-code value: all). */
AVX2 static __m256i lane_ends(const edgeml_forest *f, const uint32_t *codes, uint32_t s,
                              uint32_t shift)
{
    uint32_t first = f->qs_bound_start[s], count = f->qs_bound_start[s + 1] - first - 1u;
    __m256i code = _mm256_loadu_si256((const __m256i *)(const void *)(codes + (size_t)s * LANES));
    code = _mm256_min_epu32(_mm256_srl_epi32(code, _mm_cvtsi32_si128((int)shift)),
                            _mm256_set1_epi32((int)count));
    return _mm256_i32gather_epi32((const int *)(const void *)(f->qs_bound + first), code, 4);
}

/* The smallest and largest of 8 unsigned lanes. */
AVX2 static void lane_range(__m256i v, uint32_t *lo, uint32_t *hi)
{
    __m128i a = _mm_min_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    __m128i b = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    a = _mm_min_epu32(a, _mm_shuffle_epi32(a, 0x4E));
    b = _mm_max_epu32(b, _mm_shuffle_epi32(b, 0x4E));
    a = _mm_min_epu32(a, _mm_shuffle_epi32(a, 0xB1));
    b = _mm_max_epu32(b, _mm_shuffle_epi32(b, 0xB1));
    *lo = (uint32_t)_mm_cvtsi128_si32(a);
    *hi = (uint32_t)_mm_cvtsi128_si32(b);
}

/* The index of each 32-bit lane's lowest set bit, -127 for a lane of 0: the bit alone,
 * converted to float (a power of two converts exactly), is its exponent. AVX2 has no tzcnt. */
AVX2 static __m256i lowest_bits32(__m256i v)
{
    __m256i alone = _mm256_and_si256(v, _mm256_sub_epi32(_mm256_setzero_si256(), v));
    __m256i exponent = _mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(alone)), 23);
    return _mm256_sub_epi32(_mm256_and_si256(exponent, _mm256_set1_epi32(0xFF)),
                            _mm256_set1_epi32(127)); /* 2^31 converts to -2^31: same exponent */
}

/* The leaf values of 4 lanes at their indices (32-bit, in a 128-bit register). */
AVX2 static __m256d leaf_values(const edgeml_forest *f, __m128i index)
{
    if (f->qs_values32 != NULL) {
        return _mm256_cvtps_pd(_mm_i32gather_ps(f->qs_values32, index, 4));
    }
    return _mm256_i32gather_pd(f->qs_values, index, 8);
}

/* The rows' sums from their leaf vectors (bits[t * LANES + lane], width 32 or 64), added per
 * tree in LightGBM's order into sums[output * LANES + lane] - 8 rows per vector add, the same
 * IEEE additions in the same order per row as the scalar path - then copied into acc. */
AVX2 static void add_leaves(const edgeml_forest *f, const void *bits, size_t stride, double *sums,
                            double *acc, uint32_t count)
{
    const __m256i *vec = (const __m256i *)bits; /* tree t's vectors at vec + t * stride */
    size_t K = f->n_outputs;
    uint32_t t, k, l;
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd(); /* K == 1: in registers */
    for (k = 0; k < K * LANES; ++k) {
        sums[k] = 0.0;
    }
    for (t = 0; t < f->n_trees; ++t) {
        __m256i first = _mm256_set1_epi32((int)f->qs_leaf_start[t]), leaf;
        __m256d a, b;
        if (f->qs_width == 32) {
            leaf = _mm256_add_epi32(first, lowest_bits32(_mm256_loadu_si256(vec + t * stride)));
        } else {
            /* per 64-bit lane: the low half's lowest bit, or 32 + the high half's */
            __m256i halves = lowest_bits32(_mm256_loadu_si256(vec + t * stride));
            __m256i halves2 = lowest_bits32(_mm256_loadu_si256(vec + t * stride + 1));
            __m256i pick = _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0); /* evens, then odds */
            __m256i p1 = _mm256_permutevar8x32_epi32(halves, pick);
            __m256i p2 = _mm256_permutevar8x32_epi32(halves2, pick);
            __m256i low = _mm256_permute2x128_si256(p1, p2, 0x20);  /* 8 low halves */
            __m256i high = _mm256_permute2x128_si256(p1, p2, 0x31); /* 8 high halves */
            __m256i found = _mm256_cmpgt_epi32(low, _mm256_set1_epi32(-1));
            leaf = _mm256_blendv_epi8(_mm256_add_epi32(high, _mm256_set1_epi32(32)), low, found);
            leaf = _mm256_add_epi32(first, leaf);
        }
        if (f->qs_values != NULL) { /* 8 loads: cheaper than 2 gathers on AMD */
            uint32_t at[LANES];
            const double *v = f->qs_values;
            _mm256_storeu_si256((__m256i *)(void *)at, leaf);
            a = _mm256_set_pd(v[at[3]], v[at[2]], v[at[1]], v[at[0]]);
            b = _mm256_set_pd(v[at[7]], v[at[6]], v[at[5]], v[at[4]]);
        } else {
            a = leaf_values(f, _mm256_castsi256_si128(leaf));
            b = leaf_values(f, _mm256_extracti128_si256(leaf, 1));
        }
        if (K == 1) {
            lo = _mm256_add_pd(lo, a);
            hi = _mm256_add_pd(hi, b);
        } else {
            double *at = sums + (size_t)f->trees[t].output * LANES;
            _mm256_storeu_pd(at, _mm256_add_pd(_mm256_loadu_pd(at), a));
            _mm256_storeu_pd(at + 4, _mm256_add_pd(_mm256_loadu_pd(at + 4), b));
        }
    }
    if (K == 1) {
        _mm256_storeu_pd(sums, lo);
        _mm256_storeu_pd(sums + 4, hi);
    }
    for (l = 0; l < count; ++l) {
        for (k = 0; k < K; ++k) {
            acc[l * K + k] = sums[k * LANES + l];
        }
    }
}

/* The lowest set bit of each of 32 bytes plus 8 * slice, 255 for a byte of 0: two 16-entry
 * tables, one per nibble (low[n], high[n]: 8 * slice + the lowest bit of n, or of n << 4). */
AVX2 static __m256i lowest_bits8(__m256i v, const uint8_t *low, const uint8_t *high)
{
    __m256i nibble = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128(
                                         (const __m128i *)(const void *)low)),
                                     _mm256_and_si256(v, nibble));
    __m256i hi = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128(
                                         (const __m128i *)(const void *)high)),
                                     _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
    return _mm256_min_epu8(lo, hi);
}

/* The nibble tables of lowest_bits8 for slices 0-7 (low, high, low, high, ...). */
static const uint8_t nibble_bits[16][16] = {
#define EDGEML_NIBBLES(b)                                                                     \
    {255, b + 0, b + 1, b + 0, b + 2, b + 0, b + 1, b + 0,                                     \
     b + 3, b + 0, b + 1, b + 0, b + 2, b + 0, b + 1, b + 0}
    EDGEML_NIBBLES(0), EDGEML_NIBBLES(4), EDGEML_NIBBLES(8), EDGEML_NIBBLES(12),
    EDGEML_NIBBLES(16), EDGEML_NIBBLES(20), EDGEML_NIBBLES(24), EDGEML_NIBBLES(28),
    EDGEML_NIBBLES(32), EDGEML_NIBBLES(36), EDGEML_NIBBLES(40), EDGEML_NIBBLES(44),
    EDGEML_NIBBLES(48), EDGEML_NIBBLES(52), EDGEML_NIBBLES(56), EDGEML_NIBBLES(60)
#undef EDGEML_NIBBLES
};

/* The leaf values v[leaf] of 32 rows (leaf: their bytes, each below n <= 8) added to sum[8]
 * (rows 4g .. 4g + 3 in sum[g]): the tree's values in two registers, read by vpermd (a double
 * is dwords 2i and 2i + 1), where the loads take a store, 32 index and 32 value loads and 16
 * vector assemblies. Values past n are masked off (no read past the array's end); the same
 * values added in the same order as the loads would: the same sums. */
AVX2 static void lookup8(const double *v, uint32_t n, __m256i leaf, __m256d *sum)
{
    static const int64_t masks[9][4] = {
        {0, 0, 0, 0}, {-1, 0, 0, 0}, {-1, -1, 0, 0}, {-1, -1, -1, 0}, {-1, -1, -1, -1},
        {-1, -1, -1, -1}, {-1, -1, -1, -1}, {-1, -1, -1, -1}, {-1, -1, -1, -1}};
    __m256i low = _mm256_castpd_si256(_mm256_maskload_pd(
        v, _mm256_loadu_si256((const __m256i *)(const void *)masks[n])));
    __m256i twice = _mm256_add_epi8(leaf, leaf);
    /* per 128-bit lane: 2i, 2i + 1 for rows 0-7 (lane 0) and 16-23 (lane 1); then 8-15, 24-31 */
    __m256i odd = _mm256_add_epi8(twice, _mm256_set1_epi8(1));
    __m256i pairs[2];
    uint32_t g;
    pairs[0] = _mm256_unpacklo_epi8(twice, odd);
    pairs[1] = _mm256_unpackhi_epi8(twice, odd);
    if (n <= 4) {
        for (g = 0; g < 8; ++g) {
            __m128i p = g & 4u ? _mm256_extracti128_si256(pairs[(g >> 1) & 1u], 1)
                               : _mm256_castsi256_si128(pairs[(g >> 1) & 1u]);
            __m256i control = _mm256_cvtepu8_epi32(g & 1u ? _mm_srli_si128(p, 8) : p);
            sum[g] = _mm256_add_pd(
                sum[g], _mm256_castsi256_pd(_mm256_permutevar8x32_epi32(low, control)));
        }
    } else {
        __m256i high = _mm256_castpd_si256(_mm256_maskload_pd(
            v + 4, _mm256_loadu_si256((const __m256i *)(const void *)masks[n - 4])));
        for (g = 0; g < 8; ++g) {
            __m128i p = g & 4u ? _mm256_extracti128_si256(pairs[(g >> 1) & 1u], 1)
                               : _mm256_castsi256_si128(pairs[(g >> 1) & 1u]);
            __m256i control = _mm256_cvtepu8_epi32(g & 1u ? _mm_srli_si128(p, 8) : p);
            /* leaves 4-7: control 8-15, whose bit 3 moved to each double's sign picks high */
            __m256d pick = _mm256_castsi256_pd(_mm256_slli_epi64(control, 60));
            sum[g] = _mm256_add_pd(
                sum[g],
                _mm256_blendv_pd(_mm256_castsi256_pd(_mm256_permutevar8x32_epi32(low, control)),
                                 _mm256_castsi256_pd(_mm256_permutevar8x32_epi32(high, control)),
                                 pick));
        }
    }
}

/* The exits of 32 rows in byte lanes (tree t's byte slices at bits + slice[t], one per 8 of its
 * leaves, QS8_PASS bytes apart: bits is the pass's first, second, third or fourth 32 rows),
 * for one block of trees, output by output: the 32 rows' sums of output k (sums[k * QS8_PASS
 * + row], 0.0 before the first block) go into 8 registers, the block's trees of output k in
 * LightGBM's order (order[ostart[k]..ostart[k + 1]]) add into them, and they are stored back
 * - where add_leaves loads and stores an output's sums at every tree. A row's exit is the
 * lowest set bit over the tree's slices, found in the bytes themselves (a nibble table per
 * slice, the smallest over the slices: 7 instructions a slice for 32 rows), so a tree of at
 * most 8 leaves takes one slice, no transpose to uint32 lanes and no float conversion; then
 * the leaf values of 32 rows from registers (at most 8 leaves, lookup8) or by 32 loads. The
 * same additions in the same order per output (the order between outputs changes nothing):
 * the same sums. */
AVX2 static void add_leaves32(const edgeml_forest *f, const uint8_t *bits, const uint32_t *slice,
                              const uint32_t *order, const uint32_t *ostart, double *sums)
{
    size_t K = f->n_outputs, k;
    uint32_t i, g;
    for (k = 0; k < K; ++k) {
        __m256d sum[8];
        double *out = sums + k * QS8_PASS;
        if (ostart[k] == ostart[k + 1]) {
            continue;
        }
        for (g = 0; g < 8; ++g) {
            sum[g] = _mm256_loadu_pd(out + 4 * g);
        }
        for (i = ostart[k]; i < ostart[k + 1]; ++i) {
            uint32_t t = order[i], b, slices = slice[t] >> 16; /* see edgeml_qs8_prepare */
            const __m256i *vec = (const __m256i *)(const void *)(bits + (slice[t] & 0xFFFFu));
            __m256i leaf = lowest_bits8(_mm256_loadu_si256(vec), nibble_bits[0], nibble_bits[1]);
            __m128i low, high;
            for (b = 1; b < slices; ++b) { /* a set bit in slice 0 is below any in slice 1 */
                leaf = _mm256_min_epu8(leaf, lowest_bits8(_mm256_loadu_si256(vec + 4 * b),
                                                          nibble_bits[2 * b],
                                                          nibble_bits[2 * b + 1]));
            }
            if (slices == 1 && f->qs_values != NULL) { /* at most 8 leaves: in registers */
                lookup8(f->qs_values + f->qs_leaf_start[t],
                        f->qs_leaf_start[t + 1] - f->qs_leaf_start[t], leaf, sum);
                continue;
            }
            low = _mm256_castsi256_si128(leaf);
            high = _mm256_extracti128_si256(leaf, 1);
            if (f->qs_values != NULL) {
                /* 8 rows' leaves at a time in a general register, each taken by a shift and a
                 * mask: no store and 32 loads of the indices (2,000 depth-4 trees 8-13%
                 * faster; bytes read back from the 32-byte store stall it, 12% slower) */
                const double *v = f->qs_values + f->qs_leaf_start[t];
                uint64_t w[4];
                w[0] = (uint64_t)_mm_cvtsi128_si64(low);
                w[1] = (uint64_t)_mm_extract_epi64(low, 1);
                w[2] = (uint64_t)_mm_cvtsi128_si64(high);
                w[3] = (uint64_t)_mm_extract_epi64(high, 1);
                for (g = 0; g < 4; ++g) {
                    uint64_t x = w[g];
                    sum[2 * g] = _mm256_add_pd(
                        sum[2 * g], _mm256_set_pd(v[(x >> 24) & 0xFFu], v[(x >> 16) & 0xFFu],
                                                  v[(x >> 8) & 0xFFu], v[x & 0xFFu]));
                    sum[2 * g + 1] = _mm256_add_pd(
                        sum[2 * g + 1], _mm256_set_pd(v[x >> 56], v[(x >> 48) & 0xFFu],
                                                      v[(x >> 40) & 0xFFu], v[(x >> 32) & 0xFFu]));
                }
            } else { /* float leaf values: each converted exactly, as EDGEML_LEAF does */
                const float *v = f->qs_values32 + f->qs_leaf_start[t];
                uint32_t at[4 * LANES];
                /* widened to uint32 and read back from memory (the empty asm), where gcc would
                 * extract each by vpextrd and spill them */
                _mm256_storeu_si256((__m256i *)(void *)at, _mm256_cvtepu8_epi32(low));
                _mm256_storeu_si256((__m256i *)(void *)(at + 8),
                                    _mm256_cvtepu8_epi32(_mm_srli_si128(low, 8)));
                _mm256_storeu_si256((__m256i *)(void *)(at + 16), _mm256_cvtepu8_epi32(high));
                _mm256_storeu_si256((__m256i *)(void *)(at + 24),
                                    _mm256_cvtepu8_epi32(_mm_srli_si128(high, 8)));
                __asm__("" : "+m"(*(uint32_t(*)[4 * LANES])at));
                for (g = 0; g < 4; ++g) {
                    const uint32_t *a = at + 8 * g;
                    sum[2 * g] = _mm256_add_pd(
                        sum[2 * g],
                        _mm256_cvtps_pd(_mm_set_ps(v[a[3]], v[a[2]], v[a[1]], v[a[0]])));
                    sum[2 * g + 1] = _mm256_add_pd(
                        sum[2 * g + 1],
                        _mm256_cvtps_pd(_mm_set_ps(v[a[7]], v[a[6]], v[a[5]], v[a[4]])));
                }
            }
        }
        for (g = 0; g < 8; ++g) {
            _mm256_storeu_pd(out + 4 * g, sum[g]);
        }
    }
}

/* 4 uint64 lanes of a and 4 of b (each below 2^32) as 8 uint32 lanes, a's first. */
AVX2 static __m256i narrow(__m256i a, __m256i b)
{
    __m256i evens = _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0);
    return _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(a, evens),
                                     _mm256_permutevar8x32_epi32(b, evens), 0x20);
}

/* How many of the n sorted thresholds t are < x, for 8 lanes in two vectors (x not NaN):
 * count_below's steps (edgeml_forest.c), the same compares, a gather per step for 4 rows; the
 * two vectors' chains of gathers interleave. Returns the 8 counts as uint32. At most 32
 * thresholds are counted by compares; 33-256 by compares with every 16th (the window of 16
 * the count is in) and 4 gathers in the window: 8 gathers per 8 rows instead of 18 for 255
 * thresholds (500x63 batch -3 to -5%; LightGBM's default max_bin gives at most 254). */
AVX2 static __m256i count_below8(const double *t, uint32_t n, __m256d x0, __m256d x1)
{
    __m256i at0 = _mm256_setzero_si256(), at1 = _mm256_setzero_si256();
    uint32_t i;
    if (n <= QS_LINEAR) { /* few thresholds: count them all, no chain of dependent gathers */
        for (i = 0; i < n; ++i) {
            __m256d ti = _mm256_broadcast_sd(t + i);
            at0 = _mm256_sub_epi64(at0, _mm256_castpd_si256(_mm256_cmp_pd(ti, x0, _CMP_LT_OQ)));
            at1 = _mm256_sub_epi64(at1, _mm256_castpd_si256(_mm256_cmp_pd(ti, x1, _CMP_LT_OQ)));
        }
        return narrow(at0, at1);
    }
    if (n <= QS_WINDOWS * 16u) { /* windows of 16: one by compares, then 4 gathers in it */
        __m256i last = _mm256_set1_epi64x((long long)n - 1), sixteen = _mm256_set1_epi64x(16);
        uint32_t step;
        for (i = 15; i < n; i += 16) { /* t[i] < x: the count is at least i + 1 */
            __m256d ti = _mm256_broadcast_sd(t + i);
            at0 = _mm256_add_epi64(at0, _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(
                                                             ti, x0, _CMP_LT_OQ)), sixteen));
            at1 = _mm256_add_epi64(at1, _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(
                                                             ti, x1, _CMP_LT_OQ)), sixteen));
        }
        /* the rest, at most 15 (t[at + 15] is not < x, or past the end), by the steps 8, 4, 2,
         * 1 over t[at .. at + 14]; an index past the end reads t[n - 1] and does not count */
        for (step = 8; step > 0; step >>= 1) {
            __m256i add = _mm256_set1_epi64x((long long)step);
            __m256i i0 = _mm256_add_epi64(at0, _mm256_set1_epi64x((long long)step - 1));
            __m256i i1 = _mm256_add_epi64(at1, _mm256_set1_epi64x((long long)step - 1));
            __m256i out0 = _mm256_cmpgt_epi64(i0, last), out1 = _mm256_cmpgt_epi64(i1, last);
            __m256d p0 = _mm256_i64gather_pd(t, _mm256_blendv_epi8(i0, last, out0), 8);
            __m256d p1 = _mm256_i64gather_pd(t, _mm256_blendv_epi8(i1, last, out1), 8);
            at0 = _mm256_add_epi64(at0, _mm256_andnot_si256(out0, _mm256_and_si256(
                                            _mm256_castpd_si256(_mm256_cmp_pd(p0, x0, _CMP_LT_OQ)),
                                            add)));
            at1 = _mm256_add_epi64(at1, _mm256_andnot_si256(out1, _mm256_and_si256(
                                            _mm256_castpd_si256(_mm256_cmp_pd(p1, x1, _CMP_LT_OQ)),
                                            add)));
        }
        return narrow(at0, at1);
    }
    while (n > 1) {
        uint32_t half = n >> 1;
        __m256i step = _mm256_set1_epi64x((long long)half);
        __m256d p0 = _mm256_i64gather_pd(t + half - 1, at0, 8);
        __m256d p1 = _mm256_i64gather_pd(t + half - 1, at1, 8);
        at0 = _mm256_add_epi64(
            at0, _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(p0, x0, _CMP_LT_OQ)), step));
        at1 = _mm256_add_epi64(
            at1, _mm256_and_si256(_mm256_castpd_si256(_mm256_cmp_pd(p1, x1, _CMP_LT_OQ)), step));
        n -= half;
    }
    /* + (t[at] < x): the mask is -1 where true */
    at0 = _mm256_sub_epi64(at0, _mm256_castpd_si256(_mm256_cmp_pd(
                                    _mm256_i64gather_pd(t, at0, 8), x0, _CMP_LT_OQ)));
    at1 = _mm256_sub_epi64(at1, _mm256_castpd_si256(_mm256_cmp_pd(
                                    _mm256_i64gather_pd(t, at1, 8), x1, _CMP_LT_OQ)));
    return narrow(at0, at1);
}

/* LightGBM's dense-row rule (|v| <= 1e-35f reads as +0.0; NaN stays NaN), 4 lanes. */
AVX2 static __m256d dense4(__m256d v)
{
    __m256d tiny = _mm256_set1_pd((double)1e-35f);
    __m256d small = _mm256_and_pd(_mm256_cmp_pd(v, _mm256_sub_pd(_mm256_setzero_pd(), tiny),
                                                 _CMP_GE_OQ),
                                   _mm256_cmp_pd(v, tiny, _CMP_LE_OQ));
    return _mm256_andnot_pd(small, v);
}

/* The codes of a block of rows, as block_codes and row_codes give them (the same compares,
 * so the same codes), 8 rows per group in two vectors of 4; lanes past `rows` code 0.0. */
AVX2 static void codes_lanes(const edgeml_forest *f, const double *x, size_t rows,
                             uint32_t *codes)
{
    size_t S = f->n_slots, F = f->n_features, r;
    uint32_t s = 0, end, k, l;
    while (s < S) {
        uint32_t feature = f->slots[2 * s];
        const double *t = f->thresholds + f->feature_start[feature];
        uint32_t count = f->feature_start[feature + 1] - f->feature_start[feature];
        for (end = s; end < S && f->slots[2 * end] == feature; ++end) {
        }
        for (r = 0; r < rows; r += LANES) {
            __m256d v0, v1, nan0, nan1;
            __m256i bin, nan, zero, no_code = _mm256_set1_epi32((int)f->no_code);
            if (r + LANES <= rows) { /* a vector from 4 loads: no store to forward from */
                const double *in = x + r * F + feature;
                v0 = dense4(_mm256_set_pd(in[3 * F], in[2 * F], in[F], in[0]));
                v1 = dense4(_mm256_set_pd(in[7 * F], in[6 * F], in[5 * F], in[4 * F]));
            } else {
                double in[LANES];
                for (l = 0; l < LANES; ++l) {
                    in[l] = r + l < rows ? x[(r + l) * F + feature] : 0.0;
                }
                v0 = dense4(_mm256_loadu_pd(in));
                v1 = dense4(_mm256_loadu_pd(in + 4));
            }
            nan0 = _mm256_cmp_pd(v0, v0, _CMP_UNORD_Q);
            nan1 = _mm256_cmp_pd(v1, v1, _CMP_UNORD_Q);
            nan = narrow(_mm256_castpd_si256(nan0), _mm256_castpd_si256(nan1));
            zero = narrow(
                _mm256_castpd_si256(_mm256_cmp_pd(v0, _mm256_setzero_pd(), _CMP_EQ_OQ)),
                _mm256_castpd_si256(_mm256_cmp_pd(v1, _mm256_setzero_pd(), _CMP_EQ_OQ)));
            /* NaN searched as 0.0: what type None reads it as, and every other rule
             * overrides a NaN's bin */
            bin = count_below8(t, count, _mm256_andnot_pd(nan0, v0), _mm256_andnot_pd(nan1, v1));
            for (k = s; k < end; ++k) {
                uint32_t *out = codes + (r / LANES) * S * LANES + (size_t)k * LANES;
                __m256i code, missing = _mm256_or_si256(nan, zero);
                switch (f->slots[2 * k + 1]) {
                case EDGEML_SLOT_NONE: code = bin; break;
                case EDGEML_SLOT_NAN_LEFT: code = _mm256_andnot_si256(nan, bin); break;
                case EDGEML_SLOT_NAN_RIGHT: code = _mm256_blendv_epi8(bin, no_code, nan); break;
                case EDGEML_SLOT_ZERO_LEFT: code = _mm256_andnot_si256(missing, bin); break;
                case EDGEML_SLOT_ZERO_RIGHT:
                    code = _mm256_blendv_epi8(bin, no_code, missing);
                    break;
                default: { /* a category set (QuickScorer forests have no other) */
                    double d[LANES];
                    uint32_t c[LANES];
                    _mm256_storeu_pd(d, v0);
                    _mm256_storeu_pd(d + 4, v1);
                    for (l = 0; l < LANES; ++l) {
                        c[l] = edgeml_set_code(f->words, f->slots[2 * k + 1], d[l]);
                    }
                    code = _mm256_loadu_si256((const __m256i *)(const void *)c);
                    break;
                }
                }
                if (f->nodes != NULL) { /* compact forests keep codes << 16 */
                    code = _mm256_slli_epi32(code, 16);
                }
                _mm256_storeu_si256((__m256i *)(void *)out, code);
            }
        }
        s = end;
    }
}

/* Width 32: an entry is tree << 32 | mask. Two groups of 8 rows at once (a and b, b = a when
 * there is one): a tree's 16 vectors are two registers, bits[t * 16 + group * 8 + lane], so
 * each entry is loaded, and each slot's overhead (its ends, a mispredicted loop exit) paid,
 * once per 16 rows. */
AVX2 static void lanes32(const edgeml_forest *f, const uint32_t *a, const uint32_t *b,
                         uint32_t *bits)
{
    const uint64_t *entry = f->qs_mask;
    __m256i next_a, next_b;
    uint32_t shift = f->nodes != NULL ? 16u : 0u, s, t, last = f->n_slots - 1u;
    for (t = 0; t < 2u * f->n_trees; ++t) {
        _mm256_storeu_si256((__m256i *)(void *)(bits + (size_t)t * LANES),
                            _mm256_set1_epi32(-1));
    }
    next_a = lane_ends(f, a, 0, shift);
    next_b = lane_ends(f, b, 0, shift);
    for (s = 0; s < f->n_slots; ++s) {
        __m256i ends_a = next_a, ends_b = next_b, index;
        uint32_t j = f->qs_slot_start[s], lo, hi, lo_b, hi_b;
        /* the next slot's ends are loaded now: the gathers' latency hides behind this slot */
        next_a = lane_ends(f, a, s < last ? s + 1 : s, shift);
        next_b = lane_ends(f, b, s < last ? s + 1 : s, shift);
        lane_range(ends_a, &lo, &hi);
        lane_range(ends_b, &lo_b, &hi_b);
        lo = lo < lo_b ? lo : lo_b;
        hi = hi > hi_b ? hi : hi_b;
        for (; j < lo; ++j) { /* every lane's prefix: AND all 16 */
            __m256i *v = (__m256i *)(void *)(bits + (entry[j] >> 32) * 2u * LANES);
            __m256i m = _mm256_set1_epi32((int)(uint32_t)entry[j]);
            _mm256_storeu_si256(v, _mm256_and_si256(_mm256_loadu_si256(v), m));
            _mm256_storeu_si256(v + 1, _mm256_and_si256(_mm256_loadu_si256(v + 1), m));
        }
        index = _mm256_set1_epi32((int)j);
        for (; j < hi; ++j) { /* lanes with j < end clear the mask's zeros, the rest keep */
            __m256i *v = (__m256i *)(void *)(bits + (entry[j] >> 32) * 2u * LANES);
            __m256i m = _mm256_set1_epi32((int)(uint32_t)entry[j]);
            /* counts < 2^28: a signed compare is safe */
            __m256i clear_a = _mm256_andnot_si256(m, _mm256_cmpgt_epi32(ends_a, index));
            __m256i clear_b = _mm256_andnot_si256(m, _mm256_cmpgt_epi32(ends_b, index));
            _mm256_storeu_si256(v, _mm256_andnot_si256(clear_a, _mm256_loadu_si256(v)));
            _mm256_storeu_si256(v + 1, _mm256_andnot_si256(clear_b, _mm256_loadu_si256(v + 1)));
            index = _mm256_add_epi32(index, _mm256_set1_epi32(1));
        }
    }
}

/* Width 64: masks and trees in two arrays; a tree's 8 vectors are two registers of 4. */
AVX2 static void lanes64(const edgeml_forest *f, const uint32_t *codes, uint64_t *bits)
{
    const uint64_t *mask = f->qs_mask;
    const uint32_t *tree = f->qs_tree;
    __m256i next;
    uint32_t shift = f->nodes != NULL ? 16u : 0u, s, t;
    for (t = 0; t < f->n_trees; ++t) {
        _mm256_storeu_si256((__m256i *)(void *)(bits + (size_t)t * LANES), _mm256_set1_epi32(-1));
        _mm256_storeu_si256((__m256i *)(void *)(bits + (size_t)t * LANES + 4),
                            _mm256_set1_epi32(-1));
    }
    next = lane_ends(f, codes, 0, shift);
    for (s = 0; s < f->n_slots; ++s) {
        __m256i ends = next, index;
        __m256i ends_lo = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(ends));
        __m256i ends_hi = _mm256_cvtepu32_epi64(_mm256_extracti128_si256(ends, 1));
        uint32_t j = f->qs_slot_start[s], lo, hi;
        next = lane_ends(f, codes, s + 1 < f->n_slots ? s + 1 : s, shift);
        lane_range(ends, &lo, &hi);
        for (; j < lo; ++j) {
            __m256i *v = (__m256i *)(void *)(bits + (size_t)tree[j] * LANES);
            __m256i m = _mm256_set1_epi64x((long long)mask[j]);
            _mm256_storeu_si256(v, _mm256_and_si256(_mm256_loadu_si256(v), m));
            _mm256_storeu_si256(v + 1, _mm256_and_si256(_mm256_loadu_si256(v + 1), m));
        }
        index = _mm256_set1_epi64x((long long)j);
        for (; j < hi; ++j) {
            __m256i *v = (__m256i *)(void *)(bits + (size_t)tree[j] * LANES);
            __m256i m = _mm256_set1_epi64x((long long)mask[j]);
            __m256i clear_lo = _mm256_andnot_si256(m, _mm256_cmpgt_epi64(ends_lo, index));
            __m256i clear_hi = _mm256_andnot_si256(m, _mm256_cmpgt_epi64(ends_hi, index));
            _mm256_storeu_si256(v, _mm256_andnot_si256(clear_lo, _mm256_loadu_si256(v)));
            _mm256_storeu_si256(v + 1, _mm256_andnot_si256(clear_hi, _mm256_loadu_si256(v + 1)));
            index = _mm256_add_epi64(index, _mm256_set1_epi64x(1));
        }
    }
}

/* -- bytes: 32 rows per vector ------------------------------------------------------------ */

/* The byte codes of 32 rows (4 groups of 8 from codes_lanes) for each slot (at out + slot *
 * stride), clamped to the slot's count (<= 254) and biased by 0x80. */
AVX2 static void codes8(const edgeml_forest *f, const uint32_t *codes, size_t groups,
                        uint8_t *out, size_t stride)
{
    size_t S = f->n_slots, s, g;
    uint32_t shift = f->nodes != NULL ? 16u : 0u;
    __m128i sh = _mm_cvtsi32_si128((int)shift);
    __m256i order = _mm256_set_epi32(7, 3, 6, 2, 5, 1, 4, 0);
    for (s = 0; s < S; ++s) {
        uint32_t first = f->qs_bound_start[s];
        __m256i count = _mm256_set1_epi32((int)(f->qs_bound_start[s + 1] - first - 1u));
        __m256i c[4];
        for (g = 0; g < 4; ++g) {
            const uint32_t *at = codes + (g < groups ? g : 0) * S * LANES + s * LANES;
            c[g] = _mm256_min_epu32(
                _mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)(const void *)at), sh),
                count);
        }
        {
            __m256i ab = _mm256_packus_epi32(c[0], c[1]), cd = _mm256_packus_epi32(c[2], c[3]);
            __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), order);
            _mm256_storeu_si256((__m256i *)(void *)(out + s * stride),
                                _mm256_xor_si256(bytes, _mm256_set1_epi8((char)0x80)));
        }
    }
}

/* QuickScorer for 128 rows in bytes: a tree's leaf vectors of the 128 rows are byte slices,
 * one per 8 of its leaves (bits[slice[tree] + byte * 128 + row], leaves 8 * byte .. 8 * byte +
 * 7), so a descriptor (an entry's byte that clears leaves) is one compare of 32 rows' codes
 * with the node's k and one AND for all of them, four times - lanes32 spends a compare and two
 * ANDs on 16 rows, and stores 4 times the bytes. 128 rows, not 32: a descriptor's loads,
 * broadcasts and loop step serve four times the rows (64 rows: 10-class batch -6%, 2,000
 * depth-4 trees -10%; 128: 3% and 6% fewer instructions, 10-class ~2% faster, depth 4 a tie:
 * its slices take 512 KB a pass). This runs one block of trees (qs8_blocks: slices of at most
 * QS8_BLOCK bytes, which stay in L1 through the block's descriptors and its exits; the whole
 * forest's slices, 500 KB for 500x63, went to L2 and back at every descriptor): the slices
 * from..to, and per slot the block's descriptors dstart[s]..dstart[s + 1]. Every one of them
 * is run: one from k = the rows' largest code on clears no row (the compare is false in every
 * lane), and a random 128 rows' largest codes leave out under 1% of them (500x63: 30,885 of
 * 31,000 entries), so no table of the slot's ends (session 6's, per slot and code) is kept
 * for each block. */
AVX2 static void lanes8(const edgeml_forest *f, const uint8_t *code8, const uint64_t *desc,
                        const uint32_t *dstart, uint32_t from, uint32_t to, uint8_t *bits)
{
    uint32_t s, t, d;
    for (t = from; t < to; t += 32) {
        _mm256_storeu_si256((__m256i *)(void *)(bits + t), _mm256_set1_epi32(-1));
    }
    for (s = 0; s < f->n_slots; ++s) {
        const __m256i *at = (const __m256i *)(const void *)(code8 + s * QS8_PASS);
        __m256i code0, code1, code2, code3;
        uint32_t end = dstart[s + 1];
        if (dstart[s] == end) {
            continue;
        }
        code0 = _mm256_loadu_si256(at), code1 = _mm256_loadu_si256(at + 1);
        code2 = _mm256_loadu_si256(at + 2), code3 = _mm256_loadu_si256(at + 3);
        /* two descriptors an iteration (one loop branch for two; 4 or 8 no better) */
#pragma GCC unroll 2
        for (d = dstart[s]; d < end; ++d) {
            /* k and the mask byte broadcast straight from memory (bytes 4 and 5 of the
             * descriptor: x86-64 is little-endian) */
            const char *e = (const char *)(const void *)(desc + d);
            __m256i *v = (__m256i *)(void *)(bits + (uint32_t)desc[d]);
            __m256i k = _mm256_set1_epi8(e[4]), mask = _mm256_set1_epi8(e[5]);
            /* code > k: the node is false for the row; clear its leaves outside the mask */
            __m256i clear0 = _mm256_andnot_si256(mask, _mm256_cmpgt_epi8(code0, k));
            __m256i clear1 = _mm256_andnot_si256(mask, _mm256_cmpgt_epi8(code1, k));
            __m256i clear2 = _mm256_andnot_si256(mask, _mm256_cmpgt_epi8(code2, k));
            __m256i clear3 = _mm256_andnot_si256(mask, _mm256_cmpgt_epi8(code3, k));
            _mm256_storeu_si256(v, _mm256_andnot_si256(clear0, _mm256_loadu_si256(v)));
            _mm256_storeu_si256(v + 1, _mm256_andnot_si256(clear1, _mm256_loadu_si256(v + 1)));
            _mm256_storeu_si256(v + 2, _mm256_andnot_si256(clear2, _mm256_loadu_si256(v + 2)));
            _mm256_storeu_si256(v + 3, _mm256_andnot_si256(clear3, _mm256_loadu_si256(v + 3)));
        }
    }
}

#endif


int edgeml_qs_lanes_ok(void)
{
#if defined(EDGEML_QS_AVX2)
    __builtin_cpu_init(); /* idempotent; needed before __builtin_cpu_supports in some loaders */
    return __builtin_cpu_supports("avx2") ? 2 : 0;
#elif defined(EDGEML_QS_NEON)
    return 1;
#else
    return 0;
#endif
}

/* -- the byte lanes' descriptors (any build: plain C) ------------------------------------ */

/* Tree t's byte slices: one per 8 of its leaves (1-4). Its masks' bits from 8 * that on are
 * never needed: every mask keeps the tree's last leaf (edgeml_qs_check), so a row's lowest set
 * bit is below it. */
static uint32_t qs8_slices(const edgeml_forest *f, uint32_t t)
{
    return (f->qs_leaf_start[t + 1] - f->qs_leaf_start[t] + 7u) / 8u;
}

/* The byte of the lowest and of the highest set bit of v (not 0). */
static uint32_t lowest_byte(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return (uint32_t)__builtin_ctzll(v) / 8u;
#else
    uint32_t b = 0;
    while (!((v >> (8u * b)) & 0xFFu)) {
        ++b;
    }
    return b;
#endif
}

static uint32_t highest_byte(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return (63u - (uint32_t)__builtin_clzll(v)) / 8u;
#else
    uint32_t b = 7;
    while (!((v >> (8u * b)) & 0xFFu)) {
        --b;
    }
    return b;
#endif
}

/* One descriptor per entry and byte of its mask from the first to the last that clears a leaf
 * (bytes of its tree's slices only; a node clears its left subtree's leaves, one run, so no
 * byte between clears none, and one that did would be a no-op): the byte offset of the tree's
 * slice for that byte (slice[tree] + byte * 128), the node's threshold index k biased by 0x80
 * (a signed byte compare: the row's code > k), the mask's byte. Found from the run's ends, not
 * by testing every byte: that test mispredicted, and the layout of 500x63's 44,937
 * descriptors was ~5% of a 20,000-row batch. Entry j of slot s has k = c - 1 for the c with
 * qs_bound[c - 1] <= j < qs_bound[c]: false exactly where lanes32 ANDs it (j < its end). With
 * desc NULL, counts them (and, with dpos, each cell's count at dpos[cell + 1]); else each goes
 * to desc[dpos[cell]++], its cell (tree block, slot) = tblock[tree] * n_slots + slot, sorted by
 * k within a cell. */
static uint32_t qs8_descriptors(const edgeml_forest *f, const uint32_t *slice, uint64_t *desc,
                                uint32_t *dpos, const uint32_t *tblock)
{
    uint32_t n = 0, s, S = f->n_slots;
    for (s = 0; s < f->n_slots; ++s) {
        uint32_t first = f->qs_bound_start[s];
        uint32_t count = f->qs_bound_start[s + 1] - first - 1u, c, j = f->qs_slot_start[s];
        for (c = 1; c <= count; ++c) {
            uint32_t end = f->qs_bound[first + c];
            for (; j < end; ++j) {
                /* width 32: tree << 32 | mask; width 64: the mask, its tree in qs_tree */
                uint64_t e = f->qs_mask[j];
                uint64_t mask = f->qs_width == 64 ? e : (uint32_t)e;
                uint32_t tree = f->qs_width == 64 ? f->qs_tree[j] : (uint32_t)(e >> 32), b;
                uint32_t slices = qs8_slices(f, tree), lo, hi;
                /* the leaves it clears, in the tree's slices: a left subtree's, one run */
                uint64_t clears = ~mask & (slices >= 8u ? ~(uint64_t)0
                                                         : ((uint64_t)1 << (8u * slices)) - 1u);
                if (clears == 0) {
                    continue;
                }
                lo = lowest_byte(clears);
                hi = highest_byte(clears);
                n += hi - lo + 1u;
                if (desc == NULL) {
                    if (dpos != NULL) {
                        dpos[tblock[tree] * S + s + 1] += hi - lo + 1u;
                    }
                    continue;
                }
                for (b = lo; b <= hi; ++b) {
                    uint64_t k = ((c - 1u) ^ 0x80u) & 0xFFu, byte = (mask >> (8 * b)) & 0xFFu;
                    desc[dpos[tblock[tree] * S + s]++] =
                        ((slice[tree] & 0xFFFFu) + b * QS8_PASS) | k << 32 | byte << 40;
                }
            }
        }
    }
    return n;
}

uint32_t edgeml_qs8_count(const edgeml_forest *f)
{
#ifdef EDGEML_QS_AVX2
    uint32_t s;
    if ((f->qs_width != 32 && f->qs_width != 64) || f->n_trees == 0 ||
        f->n_trees > QS8_MAX_TREES ||
        edgeml_qs_lanes_ok() != 2) {
        return 0;
    }
    for (s = 0; s < f->n_slots; ++s) { /* codes fit a byte; code 0 clears nothing */
        uint32_t first = f->qs_bound_start[s];
        if (f->qs_bound_start[s + 1] - first - 1u > 254u ||
            f->qs_bound[first] != f->qs_slot_start[s]) {
            return 0;
        }
    }
    return qs8_descriptors(f, NULL, NULL, NULL, NULL);
#else
    (void)f;
    return 0;
#endif
}

/* uint64 of work memory for the byte slices of 128 rows: one block's (qs8_blocks), which every
 * block reuses in turn, so they stay in L1 from block to block (a tree takes at most 8 slices,
 * 1 KB, so a block of one tree fits). */
typedef char qs8_block_holds_a_tree[QS8_BLOCK >= 8u * QS8_PASS && QS8_BLOCK <= 0x10000u ? 1 : -1];
static size_t qs8_slice_words(const edgeml_forest *f)
{
    (void)f;
    (void)sizeof(qs8_block_holds_a_tree);
    return QS8_BLOCK / 8u;
}


/* Blocks of consecutive trees whose slices take at most QS8_BLOCK bytes (or one tree): their
 * count, each block's first tree into start (count + 1) and each tree's block into tblock. */
static uint32_t qs8_blocks(const edgeml_forest *f, uint32_t *start, uint32_t *tblock)
{
    uint32_t t, nb = 0, bytes = 0;
    for (t = 0; t < f->n_trees; ++t) {
        uint32_t b = QS8_PASS * qs8_slices(f, t);
        if (t == 0 || bytes + b > QS8_BLOCK) {
            if (start != NULL) {
                start[nb] = t;
            }
            ++nb;
            bytes = 0;
        }
        bytes += b;
        if (tblock != NULL) {
            tblock[t] = nb - 1u;
        }
    }
    if (start != NULL) {
        start[nb] = f->n_trees;
    }
    return nb;
}

/* uint64 of the byte lanes' tables, which depend only on the forest: the descriptors, then
 * uint32: the count of tree blocks nb and a pad, each tree's first slice (byte offset in its
 * block's room, below 2^16) | its count of slices << 16 (n_trees + 1), each tree's block
 * (n_trees), the trees by block and output (n_trees), each (block, slot) cell's first
 * descriptor (nb * n_slots + 1), each block's first tree (nb + 1), each (block, output)'s
 * first tree in that order (nb * n_outputs + 1). */
static size_t qs8_table_words(const edgeml_forest *f)
{
    size_t S = f->n_slots, T = f->n_trees, K = f->n_outputs, nb = qs8_blocks(f, NULL, NULL);
    return f->qs8_descs + (2u + T + 1u + T + T + nb * S + 1u + nb + 1u + nb * K + 1u + 1u) / 2u;
}

/* Work memory (uint64) after the codes: the byte slices of 128 rows (qs8_slice_words), the
 * byte codes of 128 rows per slot, the sums of 128 rows per output, then the tables
 * (qs8_table_words) only where the forest has none of its own (edgeml_forest_qs8): a share
 * reads the forest's, so its room would be unused (371 KB per thread on 500x63). */
size_t edgeml_qs8_words(const edgeml_forest *f)
{
    if (f->qs8_descs == 0) {
        return 0;
    }
    return qs8_slice_words(f) + 16u * f->n_slots + (size_t)QS8_PASS * f->n_outputs +
           (f->qs8 != NULL ? 0u : qs8_table_words(f));
}

/* Where a call's work memory keeps the tables when the forest has none of its own. */
static uint64_t *qs8_own(const edgeml_forest *f, uint64_t *bits)
{
    return bits + qs8_slice_words(f) + 16u * f->n_slots + (size_t)QS8_PASS * f->n_outputs;
}

/* The byte lanes' tables in work memory (see edgeml_qs8_words). */
typedef struct {
    uint8_t *code8;
    double *sums;
    uint64_t *desc;
    uint32_t nb, *slice, *tblock, *order, *dstart, *bstart, *ostart;
} qs8_tables;

/* The tables at `tables` (and a call's codes and sums in bits, where not NULL). store: count
 * the tree blocks and store their count (qs8_fill), else read it (a pass: no run over the
 * trees per 128 rows) */
static qs8_tables qs8_layout(const edgeml_forest *f, uint64_t *bits, uint64_t *tables, int store)
{
    qs8_tables m;
    size_t S = f->n_slots, T = f->n_trees;
    uint32_t *head;
    m.code8 = bits == NULL ? NULL : (uint8_t *)(void *)(bits + qs8_slice_words(f));
    m.sums = bits == NULL ? NULL : (double *)(void *)(bits + qs8_slice_words(f) + 16u * S);
    m.desc = tables;
    head = (uint32_t *)(void *)(m.desc + f->qs8_descs);
    if (store) {
        head[0] = qs8_blocks(f, NULL, NULL);
    }
    m.nb = head[0];
    m.slice = head + 2;
    m.tblock = m.slice + T + 1u;
    m.order = m.tblock + T;
    m.dstart = m.order + T;
    m.bstart = m.dstart + (size_t)m.nb * S + 1u;
    m.ostart = m.bstart + m.nb + 1u;
    return m;
}

static void qs8_fill(const edgeml_forest *f, uint64_t *tables)
{
    qs8_tables m = qs8_layout(f, NULL, tables, 1);
    uint32_t *order = m.order, *ostart = m.ostart, k, t, i, S = f->n_slots;
    uint32_t K = f->n_outputs, groups = m.nb * K, cells = m.nb * S;
    qs8_blocks(f, m.bstart, m.tblock);
    for (t = 0; t < f->n_trees; ++t) { /* byte offset in the block's room | slices << 16 */
        uint32_t at = t == 0 || m.tblock[t] != m.tblock[t - 1]
                          ? 0
                          : (m.slice[t - 1] & 0xFFFFu) + QS8_PASS * (m.slice[t - 1] >> 16);
        m.slice[t] = at | qs8_slices(f, t) << 16;
    }
    m.slice[f->n_trees] = 0;
    for (i = 0; i <= cells; ++i) {
        m.dstart[i] = 0;
    }
    qs8_descriptors(f, m.slice, NULL, m.dstart, m.tblock); /* counts at dstart[cell + 1] */
    for (i = 0; i < cells; ++i) {
        m.dstart[i + 1] += m.dstart[i];
    }
    qs8_descriptors(f, m.slice, m.desc, m.dstart, m.tblock);
    for (i = cells; i > 0; --i) { /* each start was moved to the next cell's */
        m.dstart[i] = m.dstart[i - 1];
    }
    m.dstart[0] = 0;
    /* the trees by (block, output), in LightGBM's order within each: a counting sort */
    for (k = 0; k <= groups; ++k) {
        ostart[k] = 0;
    }
    for (t = 0; t < f->n_trees; ++t) { /* trees[t].output < n_outputs: checked at open */
        ++ostart[m.tblock[t] * K + f->trees[t].output + 1u];
    }
    for (k = 0; k < groups; ++k) {
        ostart[k + 1] += ostart[k];
    }
    for (t = 0; t < f->n_trees; ++t) {
        order[ostart[m.tblock[t] * K + f->trees[t].output]++] = t;
    }
    for (k = groups; k > 0; --k) { /* each start was moved to the next group's */
        ostart[k] = ostart[k - 1];
    }
    ostart[0] = 0;
}

void edgeml_qs8_prepare(const edgeml_forest *f, uint64_t *bits)
{
    if (f->qs8 == NULL) {
        qs8_fill(f, qs8_own(f, bits));
    }
}

size_t edgeml_forest_qs8_size(const edgeml_forest *forest)
{
    return forest->qs8_descs == 0 ? 0 : qs8_table_words(forest) * sizeof(uint64_t);
}

int edgeml_forest_qs8(edgeml_forest *forest, void *memory, size_t size)
{
    size_t need = edgeml_forest_qs8_size(forest);
    if (need == 0 || memory == NULL || ((uintptr_t)memory & 7u) != 0 || size < need) {
        return -1;
    }
    qs8_fill(forest, (uint64_t *)memory);
    forest->qs8 = (const uint64_t *)memory;
    return 0;
}

void edgeml_qs_block(const edgeml_forest *f, const double *x, size_t rows, double *acc,
                     uint32_t *codes, uint64_t *bits, int prepared)
{
#ifdef EDGEML_QS_AVX2
    size_t S = f->n_slots, K = f->n_outputs, r;
    double *sums = (double *)(void *)(bits + (size_t)LANES * f->n_trees);
    if (prepared) {
        /* a pass of up to 128 rows (predict_share gives two blocks at once): each block's
         * codes in uint32 lanes, then as bytes (code8[slot * 128 + row]; a pass of at most 64
         * rows, the share's last, repeats its codes in rows 64-127, and a short group its
         * first), then block by block of trees the block's descriptors for all 128 rows and
         * its exits, whose sums wait in m.sums (output-major) for the next block's trees;
         * edgeml_qs8_prepare laid out the rest */
        qs8_tables m = qs8_layout(f, bits, f->qs8 != NULL ? (uint64_t *)(uintptr_t)f->qs8
                                                            : qs8_own(f, bits), 0);
        size_t h, q, l, k;
        uint32_t b;
        codes_lanes(f, x, rows < 8 * LANES ? rows : 8 * LANES, codes);
        for (h = 0; h < 2; ++h) {
            size_t first = rows > 8 * LANES ? h * 8 * LANES : 0, groups;
            if (first != 0) {
                codes_lanes(f, x + first * f->n_features, rows - first, codes);
            }
            groups = (rows - first < 8 * LANES ? rows - first + LANES - 1 : 8 * LANES) / LANES;
            codes8(f, codes, groups < 4 ? groups : 4, m.code8 + 64 * h, QS8_PASS);
            codes8(f, groups > 4 ? codes + 4 * LANES * S : codes, groups > 4 ? groups - 4 : groups,
                   m.code8 + 64 * h + 32, QS8_PASS);
        }
        for (l = 0; l < K * QS8_PASS; ++l) {
            m.sums[l] = 0.0;
        }
        for (b = 0; b < m.nb; ++b) {
            uint32_t last = m.bstart[b + 1] - 1u; /* the block's slices end after its last's */
            lanes8(f, m.code8, m.desc, m.dstart + (size_t)b * S, 0,
                   (m.slice[last] & 0xFFFFu) + QS8_PASS * (m.slice[last] >> 16),
                   (uint8_t *)(void *)bits);
            for (q = 0; q * 4 * LANES < rows; ++q) { /* the exits, 32 rows at a time */
                add_leaves32(f, (const uint8_t *)(const void *)bits + q * 4 * LANES, m.slice,
                             m.order, m.ostart + (size_t)b * K, m.sums + q * 4 * LANES);
            }
        }
        for (l = 0; l < rows; ++l) {
            for (k = 0; k < K; ++k) {
                acc[l * K + k] = m.sums[k * QS8_PASS + l];
            }
        }
        return;
    }
    codes_lanes(f, x, rows, codes); /* at most 64 rows here: one block */
    if (f->qs_width == 32) { /* 16 rows at a time: the two groups' vectors fill the bits */
        for (r = 0; r < rows; r += 2 * LANES) {
            const uint32_t *b = r + LANES < rows ? codes + (r + LANES) * S : codes + r * S;
            lanes32(f, codes + r * S, b, (uint32_t *)(void *)bits);
            add_leaves(f, bits, 2, sums, acc + r * K,
                       rows - r < LANES ? (uint32_t)(rows - r) : LANES);
            if (r + LANES < rows) {
                add_leaves(f, (uint32_t *)(void *)bits + LANES, 2, sums, acc + (r + LANES) * K,
                           rows - r - LANES < LANES ? (uint32_t)(rows - r - LANES) : LANES);
            }
        }
        return;
    }
    for (r = 0; r < rows; r += LANES) {
        lanes64(f, codes + r * S, bits);
        add_leaves(f, bits, 2, sums, acc + r * K, rows - r < LANES ? (uint32_t)(rows - r) : LANES);
    }
#elif defined(EDGEML_QS_NEON)
    (void)prepared; /* edgeml_qs8_count is 0 here */
    edgeml_qs_neon_block(f, x, rows, acc, codes, bits);
#else
    (void)prepared;
    (void)f; /* never called: edgeml_qs_lanes_ok() is 0 here */
    (void)x;
    (void)rows;
    (void)acc;
    (void)codes;
    (void)bits;
#endif
}
