/* NEON kernels (AArch64, where NEON is always present): 4-wide f32, int8 products by
 * widening multiplies and pairwise adds (baseline ARMv8, no dot-product extension). */
#ifdef __aarch64__
#include <arm_neon.h>
#include <string.h>

#define K_TARGET
#define K_OPS_NAME  k_ops_neon
#define K_NAME      "neon"
#define K_MR        6 /* 6 rows x 1 panel = 24 accumulators of the 32 registers */
#define K_NP        1
#define K_KC        256
#define K_Q8_OFFSET 0

/* 8-entry float table lookup: byte indices 4i..4i+3 into the 32-byte table. */
static inline float32x4_t lut8(const float *t, int32x4_t i) {
    const uint8x16x2_t tb = {{vld1q_u8((const uint8_t *)t), vld1q_u8((const uint8_t *)t + 16)}};
    const uint32x4_t bi =
        vmlaq_n_u32(vdupq_n_u32(0x03020100u), vreinterpretq_u32_s32(i), 0x04040404u);
    return vreinterpretq_f32_u8(vqtbl2q_u8(tb, vreinterpretq_u8_u32(bi)));
}

/* Per 32-bit lane: the dot product of 4 signed bytes of x and of w. */
static inline int32x4_t dot4(int32x4_t acc, int8x16_t x, int8x16_t w) {
    const int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    const int32x4_t hi = vpaddlq_s16(vmull_high_s8(w, x));
    return vaddq_s32(acc, vpaddq_s32(lo, hi));
}

static inline void store_i8(int8_t *p, int32x4_t v) {
    const int16x4_t h = vmovn_s32(v);
    int8_t b[8];
    vst1_s8(b, vmovn_s16(vcombine_s16(h, h)));
    memcpy(p, b, 4);
}

#define VW             4
#define V              float32x4_t
#define VI             int32x4_t
#define VB             int8x16_t
#define V_ZERO         vdupq_n_f32(0.0f)
#define V_LOAD         vld1q_f32
#define V_STORE        vst1q_f32
#define V_SET1         vdupq_n_f32
#define V_ADD          vaddq_f32
#define V_SUB          vsubq_f32
#define V_MUL          vmulq_f32
#define V_DIV          vdivq_f32
#define V_MIN          vminq_f32
#define V_MAX          vmaxq_f32
#define V_ABS          vabsq_f32
#define V_ROUND        vrndnq_f32
#define V_FMA(a, b, c) vfmaq_f32(c, a, b)
#define V_HSUM         vaddvq_f32
#define V_HMAX         vmaxvq_f32
#define V_LT           vcltq_f32
#define V_SEL          vbslq_f32
#define V_TRUNC_I      vcvtq_s32_f32
#define V_ROUND_I      vcvtnq_s32_f32
#define V_CVT_F        vcvtq_f32_s32
#define V_EXP2I(n)                                                                                 \
    vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23))
#define V_LUT8                 lut8
#define VI_ZERO                vdupq_n_s32(0)
#define VI_LOADU               vld1q_s32
#define VI_STOREU              vst1q_s32
#define VI_SUB                 vsubq_s32
#define VB_LOADU               vld1q_s8
#define VI_STORE_I8(p, v)      store_i8(p, v)
#define VB_SET1_32(v)          vreinterpretq_s8_s32(vdupq_n_s32(v))
#define VQ_XPREP(xb)           (xb)
#define VQ_DOT(acc, xb, xa, w) ((acc) = dot4((acc), (xa), (w)))

#include "kernels_simd.h"
#endif
