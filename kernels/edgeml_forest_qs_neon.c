/*
 * edgeml_forest_qs_neon.c - QuickScorer's SIMD lanes on aarch64 (see edgeml_forest_qs_simd.c,
 * which dispatches here): the same entries, rows and layout of the leaf vectors, in NEON.
 *
 * NEON has 128-bit registers and no gather, so the codes stay the core's own scalar ones
 * (edgeml_forest_codes) and each lane's end is a scalar load; the entries' ANDs, the work that
 * grows with the model, are the lanes' (four vectors per tree). Exit leaves and sums are per
 * row, per tree in LightGBM's order: bit for bit the scalar path.
 */
#include "edgeml_forest.h"

#define LANES EDGEML_FOREST_LANES
#define QS_VALUE(f, i) EDGEML_LEAF(f, qs_values, qs_values32, i)

#if defined(__aarch64__) && defined(__ARM_NEON) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(EDGEML_NO_SIMD)
#include <arm_neon.h>

/* The 8 lanes' ends in slot s into ends[0..7]. */
static void neon_ends(const edgeml_forest *f, const uint32_t *codes, uint32_t s, uint32_t shift,
                      uint32_t *ends)
{
    uint32_t first = f->qs_bound_start[s], count = f->qs_bound_start[s + 1] - first - 1u, l;
    for (l = 0; l < LANES; ++l) {
        uint32_t code = codes[(size_t)s * LANES + l] >> shift;
        ends[l] = f->qs_bound[first + (code < count ? code : count)];
    }
}

/* Width 32: groups a and b (16 rows) as four vectors per tree, bits[t * 16 + lane]. */
static void neon_lanes32(const edgeml_forest *f, const uint32_t *a, const uint32_t *b,
                         uint32_t *bits)
{
    const uint64_t *entry = f->qs_mask;
    uint32_t shift = f->nodes != NULL ? 16u : 0u, s, t, i, e[2 * LANES];
    for (t = 0; t < 2u * LANES * f->n_trees; ++t) {
        bits[t] = ~(uint32_t)0;
    }
    for (s = 0; s < f->n_slots; ++s) {
        uint32x4_t ends[4], index;
        uint32_t j = f->qs_slot_start[s], lo, hi;
        neon_ends(f, a, s, shift, e);
        neon_ends(f, b, s, shift, e + LANES);
        for (i = 0; i < 4; ++i) {
            ends[i] = vld1q_u32(e + 4 * i);
        }
        lo = vminvq_u32(vminq_u32(vminq_u32(ends[0], ends[1]), vminq_u32(ends[2], ends[3])));
        hi = vmaxvq_u32(vmaxq_u32(vmaxq_u32(ends[0], ends[1]), vmaxq_u32(ends[2], ends[3])));
        for (; j < lo; ++j) { /* every lane's prefix: AND all 16 */
            uint32_t *v = bits + (entry[j] >> 32) * 2u * LANES;
            uint32x4_t m = vdupq_n_u32((uint32_t)entry[j]);
            for (i = 0; i < 4; ++i) {
                vst1q_u32(v + 4 * i, vandq_u32(vld1q_u32(v + 4 * i), m));
            }
        }
        index = vdupq_n_u32(j);
        for (; j < hi; ++j) { /* lanes with j < end clear the mask's zeros, the rest keep */
            uint32_t *v = bits + (entry[j] >> 32) * 2u * LANES;
            uint32x4_t m = vdupq_n_u32((uint32_t)entry[j]);
            for (i = 0; i < 4; ++i) {
                uint32x4_t clear = vbicq_u32(vcgtq_u32(ends[i], index), m);
                vst1q_u32(v + 4 * i, vbicq_u32(vld1q_u32(v + 4 * i), clear));
            }
            index = vaddq_u32(index, vdupq_n_u32(1));
        }
    }
}

/* Width 64: 8 rows as four vectors of 2 per tree, bits[t * 8 + lane]. */
static void neon_lanes64(const edgeml_forest *f, const uint32_t *codes, uint64_t *bits)
{
    const uint64_t *mask = f->qs_mask;
    const uint32_t *tree = f->qs_tree;
    uint32_t shift = f->nodes != NULL ? 16u : 0u, s, t, i, e[LANES];
    for (t = 0; t < LANES * f->n_trees; ++t) {
        bits[t] = ~(uint64_t)0;
    }
    for (s = 0; s < f->n_slots; ++s) {
        uint32x4_t e0, e1;
        uint64x2_t ends[4], index;
        uint32_t j = f->qs_slot_start[s], lo, hi;
        neon_ends(f, codes, s, shift, e);
        e0 = vld1q_u32(e);
        e1 = vld1q_u32(e + 4);
        ends[0] = vmovl_u32(vget_low_u32(e0));
        ends[1] = vmovl_u32(vget_high_u32(e0));
        ends[2] = vmovl_u32(vget_low_u32(e1));
        ends[3] = vmovl_u32(vget_high_u32(e1));
        lo = vminvq_u32(vminq_u32(e0, e1));
        hi = vmaxvq_u32(vmaxq_u32(e0, e1));
        for (; j < lo; ++j) {
            uint64_t *v = bits + (size_t)tree[j] * LANES;
            uint64x2_t m = vdupq_n_u64(mask[j]);
            for (i = 0; i < 4; ++i) {
                vst1q_u64(v + 2 * i, vandq_u64(vld1q_u64(v + 2 * i), m));
            }
        }
        index = vdupq_n_u64(j);
        for (; j < hi; ++j) {
            uint64_t *v = bits + (size_t)tree[j] * LANES;
            uint64x2_t m = vdupq_n_u64(mask[j]);
            for (i = 0; i < 4; ++i) {
                uint64x2_t clear = vbicq_u64(vcgtq_u64(ends[i], index), m);
                vst1q_u64(v + 2 * i, vbicq_u64(vld1q_u64(v + 2 * i), clear));
            }
            index = vaddq_u64(index, vdupq_n_u64(1));
        }
    }
}

/* The rows' sums, per tree in LightGBM's order; tree t's vectors at words + t * stride. */
static void neon_add_leaves(const edgeml_forest *f, const uint32_t *words, size_t stride,
                            double *acc, uint32_t count)
{
    size_t K = f->n_outputs;
    uint32_t t, l;
    for (t = 0; t < f->n_trees; ++t) {
        const uint32_t *w = words + t * stride;
        uint32_t first = f->qs_leaf_start[t], out = f->trees[t].output;
        for (l = 0; l < count; ++l) {
            uint32_t leaf = f->qs_width == 32
                                ? (uint32_t)__builtin_ctz(w[l])
                                : (uint32_t)__builtin_ctzll(((const uint64_t *)(const void *)w)[l]);
            acc[l * K + out] += QS_VALUE(f, first + leaf);
        }
    }
}

void edgeml_qs_neon_block(const edgeml_forest *f, const double *x, size_t rows, double *acc,
                          uint32_t *codes, uint64_t *bits)
{
    size_t S = f->n_slots, K = f->n_outputs, r;
    uint32_t s, l, tail = (uint32_t)(rows % LANES);
    edgeml_forest_codes(f, x, rows, codes);
    for (s = 0; tail != 0 && s < f->n_slots; ++s) { /* a short last group's empty lanes */
        uint32_t *group = codes + (rows - tail) * S + (size_t)s * LANES;
        for (l = tail; l < LANES; ++l) {
            group[l] = group[0];
        }
    }
    for (r = 0; r < rows; r += f->qs_width == 32 ? 2 * LANES : LANES) {
        uint32_t count = rows - r < LANES ? (uint32_t)(rows - r) : LANES;
        if (f->qs_width == 32) {
            const uint32_t *b = r + LANES < rows ? codes + (r + LANES) * S : codes + r * S;
            neon_lanes32(f, codes + r * S, b, (uint32_t *)(void *)bits);
            neon_add_leaves(f, (const uint32_t *)(void *)bits, 2 * LANES, acc + r * K, count);
            if (r + LANES < rows) {
                count = rows - r - LANES < LANES ? (uint32_t)(rows - r - LANES) : LANES;
                neon_add_leaves(f, (const uint32_t *)(void *)bits + LANES, 2 * LANES,
                                acc + (r + LANES) * K, count);
            }
        } else {
            neon_lanes64(f, codes + r * S, bits);
            neon_add_leaves(f, (const uint32_t *)(void *)bits, 2 * LANES, acc + r * K, count);
        }
    }
}
#else
typedef int edgeml_qs_neon_unused; /* ISO C wants a translation unit to declare something */
#endif
