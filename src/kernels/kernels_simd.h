/* The SIMD kernels, written once over a small vector vocabulary that each path file
 * (kernels_avx2.c, kernels_avx512.c, kernels_neon.c) defines before including this file,
 * which then defines that path's k_ops table. The path provides:
 *   K_TARGET                function attribute enabling its instruction set (or empty)
 *   K_OPS_NAME, K_NAME      table identifier and its PTTS_KERNELS name
 *   K_MR, K_NP, K_KC        tile rows (<= 6), tile panels, f32 k block (see k_ops)
 *   K_Q8_OFFSET             1 when VQ_DOT multiplies x + 128 (unsigned) by q
 *   VW; V, VI, VB, VM       floats per vector; f32, int32, byte and mask vectors
 *   V_ZERO V_LOAD V_STORE V_SET1 V_ADD V_SUB V_MUL V_DIV V_MIN V_MAX V_ABS V_ROUND
 *   V_FMA(a, b, c) = a*b + c; V_HSUM, V_HMAX (horizontal); V_LT(a, b) -> mask;
 *   V_SEL(m, a, b) = m ? a : b; V_TRUNC_I, V_ROUND_I, V_CVT_F (f32 <-> int32, truncating or
 *   to nearest even); VI_STORE_I8(p, v) stores VW int32 lanes in [-127, 127] as bytes;
 *   V_EXP2I(n) = 2^n for
 *   integral n in [-126, 127]; V_LUT8(t, i) = t[i] for 8 floats t and int32 lanes i < 8
 *   VI_ZERO VI_LOADU VI_STOREU VI_SUB; VB_LOADU, VB_SET1_32 (broadcast 4 bytes)
 *   VQ_XPREP(xb), VQ_DOT(acc, xb, xa, w): acc += per 32-bit lane, the dot product of the
 *   4 signed bytes of xb (xa = VQ_XPREP(xb)) with the 4 signed bytes of w. */
#include <math.h>
#include <string.h>

#include "kernels_ops.h"

#define PV     (K_PANEL / VW) /* vectors per panel row */
#define KFN    static K_TARGET
#define KINL   static inline __attribute__((always_inline)) K_TARGET
#define UNROLL _Pragma("GCC unroll 16")

/* Case labels for the tile heights 1..K_MR, so that each height gets its own fully
 * unrolled kernel with the accumulators in registers. */
#if K_MR == 6
#define K_FOR_MR(X, ...)                                                                           \
    X(1, __VA_ARGS__)                                                                              \
    X(2, __VA_ARGS__) X(3, __VA_ARGS__) X(4, __VA_ARGS__) X(5, __VA_ARGS__) X(6, __VA_ARGS__)
#elif K_MR == 4
#define K_FOR_MR(X, ...) X(1, __VA_ARGS__) X(2, __VA_ARGS__) X(3, __VA_ARGS__) X(4, __VA_ARGS__)
#else
#error "K_MR must be 4 or 6"
#endif

/* ---- matrix tiles (layouts in kernels_ops.h) ---- */

KINL void f32_fixed(const float *x, size_t ldx, const int mr, const float *w, size_t ps, int kc,
                    const int np, float *c, size_t ldc, const float *init) {
    V acc[K_MR][K_NP * PV]; /* vector i: panel i / PV, lanes (i % PV) * VW.. */
    UNROLL for (int r = 0; r < mr; r++) {
        UNROLL for (int i = 0; i < np * PV; i++) {
            acc[r][i] = V_LOAD(init ? init + i * VW : c + r * ldc + i * VW);
        }
    }
    for (int k = 0; k < kc; k++) {
        V wv[K_NP * PV];
        UNROLL for (int i = 0; i < np * PV; i++) {
            wv[i] = V_LOAD(w + i / PV * ps + (size_t)k * K_PANEL + i % PV * VW);
        }
        UNROLL for (int r = 0; r < mr; r++) {
            const V xb = V_SET1(x[r * ldx + k]);
            UNROLL for (int i = 0; i < np * PV; i++) {
                acc[r][i] = V_FMA(xb, wv[i], acc[r][i]);
            }
        }
    }
    UNROLL for (int r = 0; r < mr; r++) {
        UNROLL for (int i = 0; i < np * PV; i++) {
            V_STORE(c + r * ldc + i * VW, acc[r][i]);
        }
    }
}

#define F32_CASE(m, n, W, C, I)                                                                    \
    case m: f32_fixed(x, ldx, m, W, ps, kc, n, C, ldc, I); break;

KFN void f32_tile(const float *x, size_t ldx, int mr, const float *w, size_t ps, int kc, int np,
                  float *c, size_t ldc, const float *init) {
    if (np == K_NP) {
        switch (mr) { K_FOR_MR(F32_CASE, K_NP, w, c, init) }
        return;
    }
    for (int p = 0; p < np; p++) {
        switch (mr) {
            K_FOR_MR(F32_CASE, 1, w + p * ps, c + p * K_PANEL, init ? init + p * K_PANEL : NULL)
        }
    }
}

KINL void q8_fixed(const int8_t *x, size_t ldx, const int mr, const int8_t *w, size_t ps, int nk4,
                   const int np, const int32_t *qsum, int32_t *c, size_t ldc) {
    VI acc[K_MR][K_NP * PV];
    UNROLL for (int r = 0; r < mr; r++) {
        UNROLL for (int i = 0; i < np * PV; i++) acc[r][i] = VI_ZERO;
    }
    for (int g = 0; g < nk4; g++) {
        VB wv[K_NP * PV];
        UNROLL for (int i = 0; i < np * PV; i++) {
            wv[i] = VB_LOADU(w + i / PV * ps + (size_t)g * 4 * K_PANEL + i % PV * VW * 4);
        }
        UNROLL for (int r = 0; r < mr; r++) {
            int32_t x4;
            memcpy(&x4, x + r * ldx + 4 * g, sizeof x4);
            const VB xb = VB_SET1_32(x4), xa = VQ_XPREP(xb);
            UNROLL for (int i = 0; i < np * PV; i++) {
                VQ_DOT(acc[r][i], xb, xa, wv[i]);
            }
        }
    }
    UNROLL for (int r = 0; r < mr; r++) {
        UNROLL for (int i = 0; i < np * PV; i++) {
            VI s = acc[r][i];
#if K_Q8_OFFSET
            s = VI_SUB(s, VI_LOADU(qsum + i * VW));
#endif
            VI_STOREU(c + r * ldc + i * VW, s);
        }
    }
    (void)qsum;
}

#define Q8_CASE(m, n, W, S, C, LDC)                                                                \
    case m: q8_fixed(x, ldx, m, W, ps, nk4, n, S, C, LDC); break;

KFN void q8_tile(const int8_t *x, size_t ldx, int mr, const int8_t *w, size_t ps, int nk4, int np,
                 const int32_t *qsum, int32_t *c) {
    if (np == K_NP) {
        switch (mr) { K_FOR_MR(Q8_CASE, K_NP, w, qsum, c, K_NP * K_PANEL) }
        return;
    }
    for (int p = 0; p < np; p++) {
        switch (mr) {
            K_FOR_MR(Q8_CASE, 1, w + p * ps, qsum + p * K_PANEL, c + p * K_PANEL,
                     (size_t)np * K_PANEL)
        }
    }
}

/* ---- row-wise kernels ---- */

/* Partial vectors for the last n < VW elements of a row; absent lanes read `fill`. */
KINL V v_loadn(const float *p, size_t n, float fill) {
    float b[VW];
    for (size_t i = 0; i < VW; i++)
        b[i] = i < n ? p[i] : fill;
    return V_LOAD(b);
}

KINL void v_storen(float *p, V v, size_t n) {
    float b[VW];
    V_STORE(b, v);
    memcpy(p, b, n * sizeof *p);
}

KFN float absmax(const float *x, int n) {
    const size_t nn = n > 0 ? (size_t)n : 0;
    size_t i = 0;
    V m = V_ZERO;
    for (; i + VW <= nn; i += VW)
        m = V_MAX(m, V_ABS(V_LOAD(x + i)));
    if (i < nn) m = V_MAX(m, V_ABS(v_loadn(x + i, nn - i, 0.0f)));
    return V_HMAX(m);
}

KFN void quant(const float *x, int n, float inv, int8_t *q) {
    const size_t nn = n > 0 ? (size_t)n : 0;
    const V vi = V_SET1(inv);
    size_t i = 0;
    for (; i + VW <= nn; i += VW)
        VI_STORE_I8(q + i, V_ROUND_I(V_MUL(V_LOAD(x + i), vi)));
    if (i < nn) {
        int8_t b[VW];
        VI_STORE_I8(b, V_ROUND_I(V_MUL(v_loadn(x + i, nn - i, 0.0f), vi)));
        memcpy(q + i, b, nn - i);
    }
}

/* exp(x) = 2^n (1 + e), e = expm1(r), r = x - n ln2 in [-ln2/2, ln2/2] (Cody-Waite split
 * of ln2), e by its Taylor series to r^7 (truncation < 2e-8 relative). Returns e, sets
 * *s = 2^n. x must lie in [-87, 88]. Sharing e keeps expm1 accurate near 0. */
KINL V v_exp_parts(V x, V *s) {
    const V n = V_ROUND(V_MUL(x, V_SET1(1.44269504f)));
    V r = V_FMA(n, V_SET1(-0.693145752f), x);
    r = V_FMA(n, V_SET1(-1.42860677e-6f), r);
    V q = V_SET1(1.0f / 5040);
    q = V_FMA(q, r, V_SET1(1.0f / 720));
    q = V_FMA(q, r, V_SET1(1.0f / 120));
    q = V_FMA(q, r, V_SET1(1.0f / 24));
    q = V_FMA(q, r, V_SET1(1.0f / 6));
    q = V_FMA(q, r, V_SET1(0.5f));
    *s = V_EXP2I(n);
    return V_FMA(q, V_MUL(r, r), r);
}

KINL V v_clamp_exp_arg(V x) {
    return V_MIN(V_MAX(x, V_SET1(-87.0f)), V_SET1(88.0f));
}

/* exp(x), but 0 below -87 (where exp is denormal or 0 anyway) and +inf above 88 (within
 * 0.72 of the f32 overflow), as the callers need: exp(-x) of silu and exp(x - max). */
KINL V v_exp(V x) {
    V s, e = v_exp_parts(v_clamp_exp_arg(x), &s);
    e = V_SEL(V_LT(x, V_SET1(-87.0f)), V_ZERO, V_FMA(s, e, s));
    return V_SEL(V_LT(V_SET1(88.0f), x), V_SET1(INFINITY), e);
}

KINL V v_expm1(V x) {
    V s, e = v_exp_parts(v_clamp_exp_arg(x), &s);
    return V_FMA(s, e, V_SUB(s, V_SET1(1.0f)));
}

/* erf(x) = x R(|x|) with R(a) = erf(a)/a interpolated (Chebyshev nodes, degree 7 in
 * u = a - centre) on each of the 8 intervals [i/2, (i+1)/2) of [0, 4); erf = +-1 beyond
 * (1 - erf(4) < 2e-8). Row j holds coefficient j for each interval. Error against erf:
 * <= 1.3e-7 relative below 3.5, <= 1.8e-7 absolute above. */
static const float k_erf_r[8][8] = {
    {1.10530555f, 0.948207498f, 0.738320112f, 0.563812375f, 0.44379434f, 0.363599777f, 0.307690978f,
     0.266666651f},
    {-0.181165725f, -0.407035261f, -0.40143919f, -0.292021364f, -0.194067568f, -0.132004902f,
     -0.0946651697f, -0.071110867f},
    {-0.33535105f, -0.100217618f, 0.0846301988f, 0.114094429f, 0.079109937f, 0.0474154986f,
     0.0290985536f, 0.0189620163f},
    {0.104721658f, 0.169341564f, 0.0663245171f, -0.0136783384f, -0.0255046245f, -0.0162382238f,
     -0.00889315177f, -0.00505441241f},
    {0.0890217498f, -0.0248549171f, -0.057985045f, -0.0196768921f, 0.00285375724f, 0.00472083269f,
     0.00264831912f, 0.00134414213f},
    {-0.0359245352f, -0.0378250331f, 0.00863991771f, 0.0150267947f, 0.00346919545f,
     -0.000714424707f, -0.000718352851f, -0.000353547017f},
    {-0.0180230346f, 0.0141448965f, 0.0100733936f, -0.00330781611f, -0.0028294099f,
     -0.000363237545f, 0.000136362491f, 8.94045734e-05f},
    {0.00871950015f, 0.00506793289f, -0.0050729136f, -0.0015081343f, 0.00093932444f, 0.00036371185f,
     1.13344468e-05f, -1.92953012e-05f},
};

KINL V v_erf(V x) {
    const V a = V_MIN(V_ABS(x), V_SET1(3.9999f));
    const VI i = V_TRUNC_I(V_MUL(a, V_SET1(2.0f)));
    const V u = V_SUB(a, V_FMA(V_CVT_F(i), V_SET1(0.5f), V_SET1(0.25f)));
    V p = V_LUT8(k_erf_r[7], i);
    for (int j = 6; j >= 0; j--)
        p = V_FMA(p, u, V_LUT8(k_erf_r[j], i));
    return V_MAX(V_MIN(V_MUL(x, p), V_SET1(1.0f)), V_SET1(-1.0f));
}

KINL V v_gelu(V x) {
    const V h = V_MUL(x, V_SET1(0.5f));
    return V_FMA(h, v_erf(V_MUL(x, V_SET1((float)M_SQRT1_2))), h);
}

KINL V v_silu(V x) {
    return V_DIV(x, V_ADD(V_SET1(1.0f), v_exp(V_SUB(V_ZERO, x))));
}

KINL V v_elu(V x) {
    return V_SEL(V_LT(V_ZERO, x), x, v_expm1(x));
}

#define K_MAP_FN(name, f)                                                                          \
    KFN void name(float *x, size_t n) {                                                            \
        size_t i = 0;                                                                              \
        for (; i + VW <= n; i += VW)                                                               \
            V_STORE(x + i, f(V_LOAD(x + i)));                                                      \
        if (i < n) v_storen(x + i, f(v_loadn(x + i, n - i, 0.0f)), n - i);                         \
    }
K_MAP_FN(gelu, v_gelu)
K_MAP_FN(silu, v_silu)
K_MAP_FN(elu, v_elu)

KFN void layernorm(const float *x, float *y, int n, const float *w, const float *b, float eps) {
    const size_t nn = (size_t)n;
    size_t i;
    V s = V_ZERO;
    for (i = 0; i + VW <= nn; i += VW)
        s = V_ADD(s, V_LOAD(x + i));
    if (i < nn) s = V_ADD(s, v_loadn(x + i, nn - i, 0.0f));
    const float mean = V_HSUM(s) / n;
    const V m = V_SET1(mean);
    V q = V_ZERO;
    for (i = 0; i + VW <= nn; i += VW) {
        const V d = V_SUB(V_LOAD(x + i), m);
        q = V_FMA(d, d, q);
    }
    if (i < nn) { /* absent lanes read the mean: zero deviation */
        const V d = V_SUB(v_loadn(x + i, nn - i, mean), m);
        q = V_FMA(d, d, q);
    }
    const V inv = V_SET1(1.0f / sqrtf(V_HSUM(q) / n + eps));
    for (i = 0; i < nn; i += VW) {
        const size_t k = nn - i < VW ? nn - i : VW;
        V v = V_MUL(V_SUB(k == VW ? V_LOAD(x + i) : v_loadn(x + i, k, 0.0f), m), inv);
        if (w) v = V_MUL(v, k == VW ? V_LOAD(w + i) : v_loadn(w + i, k, 0.0f));
        if (b) v = V_ADD(v, k == VW ? V_LOAD(b + i) : v_loadn(b + i, k, 0.0f));
        if (k == VW)
            V_STORE(y + i, v);
        else
            v_storen(y + i, v, k);
    }
}

KFN void softmax(float *x, int n) {
    const size_t nn = (size_t)n;
    size_t i;
    V mv = V_SET1(-INFINITY);
    for (i = 0; i + VW <= nn; i += VW)
        mv = V_MAX(mv, V_LOAD(x + i));
    if (i < nn) mv = V_MAX(mv, v_loadn(x + i, nn - i, -INFINITY));
    const V m = V_SET1(V_HMAX(mv));
    V s = V_ZERO;
    for (i = 0; i + VW <= nn; i += VW) {
        const V e = v_exp(V_SUB(V_LOAD(x + i), m));
        V_STORE(x + i, e);
        s = V_ADD(s, e);
    }
    if (i < nn) { /* absent lanes are exp(-inf) = 0 */
        const V e = v_exp(V_SUB(v_loadn(x + i, nn - i, -INFINITY), m));
        v_storen(x + i, e, nn - i);
        s = V_ADD(s, e);
    }
    const V inv = V_SET1(1.0f / V_HSUM(s));
    for (i = 0; i + VW <= nn; i += VW)
        V_STORE(x + i, V_MUL(V_LOAD(x + i), inv));
    if (i < nn) v_storen(x + i, V_MUL(v_loadn(x + i, nn - i, 0.0f), inv), nn - i);
}

KFN float dot(const float *a, const float *b, int n) {
    const size_t nn = n > 0 ? (size_t)n : 0;
    size_t i = 0;
    V s0 = V_ZERO, s1 = V_ZERO, s2 = V_ZERO, s3 = V_ZERO; /* four chains hide FMA latency */
    for (; i + 4 * VW <= nn; i += 4 * VW) {
        s0 = V_FMA(V_LOAD(a + i), V_LOAD(b + i), s0);
        s1 = V_FMA(V_LOAD(a + i + VW), V_LOAD(b + i + VW), s1);
        s2 = V_FMA(V_LOAD(a + i + 2 * VW), V_LOAD(b + i + 2 * VW), s2);
        s3 = V_FMA(V_LOAD(a + i + 3 * VW), V_LOAD(b + i + 3 * VW), s3);
    }
    for (; i + VW <= nn; i += VW)
        s0 = V_FMA(V_LOAD(a + i), V_LOAD(b + i), s0);
    if (i < nn) s0 = V_FMA(v_loadn(a + i, nn - i, 0.0f), v_loadn(b + i, nn - i, 0.0f), s0);
    return V_HSUM(V_ADD(V_ADD(s0, s1), V_ADD(s2, s3)));
}

KFN void axpy(float *y, float a, const float *x, int n) {
    const size_t nn = n > 0 ? (size_t)n : 0;
    const V va = V_SET1(a);
    size_t i = 0;
    for (; i + VW <= nn; i += VW)
        V_STORE(y + i, V_FMA(va, V_LOAD(x + i), V_LOAD(y + i)));
    if (i < nn)
        v_storen(y + i, V_FMA(va, v_loadn(x + i, nn - i, 0.0f), v_loadn(y + i, nn - i, 0.0f)),
                 nn - i);
}

const k_ops K_OPS_NAME = {
    .name = K_NAME,
    .mr = K_MR,
    .np = K_NP,
    .kc = K_KC,
    .f32_tile = f32_tile,
    .q8_tile = q8_tile,
    .absmax = absmax,
    .quant = quant,
    .layernorm = layernorm,
    .gelu = gelu,
    .silu = silu,
    .elu = elu,
    .softmax = softmax,
    .dot = dot,
    .axpy = axpy,
};
