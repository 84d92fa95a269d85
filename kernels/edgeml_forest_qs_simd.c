/*
 * edgeml_forest_qs_simd.c - QuickScorer for a group of EDGEML_FOREST_LANES rows in SIMD lanes
 * (the vectorised QuickScorer of Lucchese et al., 2016), over the same section and codes as
 * edgeml_forest_qs.c.
 *
 * Why: scalar QuickScorer costs a row in a batch what it costs alone (a load-AND-store per
 * false node), so the walk beat it on batches. Here the 8 rows of a code group share each
 * entry: the 8 rows' leaf vectors of one tree sit side by side (one or two 256-bit registers)
 * and an entry is one masked AND for all 8. A row's false nodes in a slot are the entries
 * before its end (qs_bound[code]); the group walks the slot's entries to the longest of its 8
 * ends: up to the shortest end every lane ANDs (no compare), past it a compare of the entry's
 * index with each lane's end selects the lanes. Rows whose prefix is shorter do extra entries
 * for free in the lanes, which costs the group only where its rows' ends differ widely.
 *
 * Exit leaves and sums are per row, per tree in LightGBM's order: the same additions as the
 * scalar path, bit for bit. The SIMD code is compiled for AVX2 as its own functions (the rest
 * of the core stays baseline x86-64) and runs only where the CPU reports AVX2 at run time;
 * anywhere else edgeml_qs_lanes_ok() is 0 and batches take the scalar path.
 */
#include "edgeml_forest.h"

#define LANES EDGEML_FOREST_LANES
#define QS_VALUE(f, i) EDGEML_LEAF(f, qs_values, qs_values32, i)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(EDGEML_NO_SIMD)
#define EDGEML_QS_AVX2 1
#include <immintrin.h>
#endif

#ifdef EDGEML_QS_AVX2
/* Lanes past `count` (a short last group) take lane 0's codes: their sums are never written,
 * and every lane's end stays inside its slot's entries. */
static void fill_lanes(const edgeml_forest *f, uint32_t *codes, uint32_t count)
{
    uint32_t s, l;
    for (s = 0; s < f->n_slots && count < LANES; ++s) {
        for (l = count; l < LANES; ++l) {
            codes[(size_t)s * LANES + l] = codes[(size_t)s * LANES];
        }
    }
}

/* The rows' sums from their leaf vectors: bits[t * LANES + l] (width 32 or 64), per tree in
 * LightGBM's order. */
static void add_leaves(const edgeml_forest *f, const void *bits, double *acc, uint32_t count)
{
    const uint32_t *b32 = (const uint32_t *)bits;
    const uint64_t *b64 = (const uint64_t *)bits;
    size_t K = f->n_outputs;
    uint32_t t, l;
    for (t = 0; t < f->n_trees; ++t) {
        uint32_t first = f->qs_leaf_start[t], out = f->trees[t].output;
        for (l = 0; l < count; ++l) {
            uint32_t leaf = f->qs_width == 32 ? (uint32_t)__builtin_ctz(b32[t * LANES + l])
                                              : (uint32_t)__builtin_ctzll(b64[t * LANES + l]);
            acc[l * K + out] += QS_VALUE(f, first + leaf);
        }
    }
}

#define AVX2 __attribute__((target("avx2,bmi")))

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

/* Width 32: an entry is tree << 32 | mask; a tree's 8 vectors are one register. */
AVX2 static void lanes32(const edgeml_forest *f, const uint32_t *codes, uint32_t *bits)
{
    const uint64_t *entry = f->qs_mask;
    uint32_t shift = f->nodes != NULL ? 16u : 0u, s, t;
    for (t = 0; t < f->n_trees; ++t) {
        _mm256_storeu_si256((__m256i *)(void *)(bits + (size_t)t * LANES),
                            _mm256_set1_epi32(-1));
    }
    for (s = 0; s < f->n_slots; ++s) {
        __m256i ends = lane_ends(f, codes, s, shift), index;
        uint32_t j = f->qs_slot_start[s], lo, hi;
        lane_range(ends, &lo, &hi);
        for (; j < lo; ++j) { /* every lane's prefix: AND all 8 */
            __m256i *v = (__m256i *)(void *)(bits + (entry[j] >> 32) * LANES);
            _mm256_storeu_si256(v, _mm256_and_si256(_mm256_loadu_si256(v),
                                                    _mm256_set1_epi32((int)(uint32_t)entry[j])));
        }
        index = _mm256_set1_epi32((int)j);
        for (; j < hi; ++j) { /* lanes with j < end clear the mask's zeros, the rest keep */
            __m256i *v = (__m256i *)(void *)(bits + (entry[j] >> 32) * LANES);
            __m256i taken = _mm256_cmpgt_epi32(ends, index); /* counts < 2^28: signed is safe */
            __m256i clear = _mm256_andnot_si256(_mm256_set1_epi32((int)(uint32_t)entry[j]), taken);
            _mm256_storeu_si256(v, _mm256_andnot_si256(clear, _mm256_loadu_si256(v)));
            index = _mm256_add_epi32(index, _mm256_set1_epi32(1));
        }
    }
}

/* Width 64: masks and trees in two arrays; a tree's 8 vectors are two registers of 4. */
AVX2 static void lanes64(const edgeml_forest *f, const uint32_t *codes, uint64_t *bits)
{
    const uint64_t *mask = f->qs_mask;
    const uint32_t *tree = f->qs_tree;
    uint32_t shift = f->nodes != NULL ? 16u : 0u, s, t;
    for (t = 0; t < f->n_trees; ++t) {
        _mm256_storeu_si256((__m256i *)(void *)(bits + (size_t)t * LANES), _mm256_set1_epi32(-1));
        _mm256_storeu_si256((__m256i *)(void *)(bits + (size_t)t * LANES + 4),
                            _mm256_set1_epi32(-1));
    }
    for (s = 0; s < f->n_slots; ++s) {
        __m256i ends = lane_ends(f, codes, s, shift), index;
        __m256i ends_lo = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(ends));
        __m256i ends_hi = _mm256_cvtepu32_epi64(_mm256_extracti128_si256(ends, 1));
        uint32_t j = f->qs_slot_start[s], lo, hi;
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
#endif

int edgeml_qs_lanes_ok(void)
{
#ifdef EDGEML_QS_AVX2
    __builtin_cpu_init(); /* idempotent; needed before __builtin_cpu_supports in some loaders */
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi");
#else
    return 0;
#endif
}

void edgeml_qs_lanes(const edgeml_forest *f, uint32_t *codes, uint32_t count, double *acc,
                     uint64_t *bits)
{
#ifdef EDGEML_QS_AVX2
    fill_lanes(f, codes, count);
    if (f->qs_width == 32) {
        lanes32(f, codes, (uint32_t *)(void *)bits);
    } else {
        lanes64(f, codes, bits);
    }
    add_leaves(f, bits, acc, count);
#else
    (void)f; /* never called: edgeml_qs_lanes_ok() is 0 here */
    (void)codes;
    (void)count;
    (void)acc;
    (void)bits;
#endif
}
