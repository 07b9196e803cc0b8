/* AVX2 + FMA kernels: 8-wide f32 and int8 products by pmaddubsw, using the sign trick
 * (|x| as the unsigned operand, q with the sign of x) so that no pair sum saturates.
 * Per-function target attributes keep the rest of the build baseline x86-64; kernels.c
 * hands these out only when the CPU has AVX2 and FMA. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define K_TARGET    __attribute__((target("avx2,fma")))
#define K_OPS_NAME  k_ops_avx2
#define K_NAME      "avx2"
#define K_MR        6 /* 6 rows x 1 panel = 12 accumulators of the 16 registers */
#define K_NP        1
#define K_KC        256
#define K_Q8_OFFSET 0

K_TARGET static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

K_TARGET static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

K_TARGET static inline void store_i8(int8_t *p, __m256i v) {
    const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)(void *)p, _mm_packs_epi16(h, h));
}

#define VW             8
#define V              __m256
#define VI             __m256i
#define VB             __m256i
#define V_ZERO         _mm256_setzero_ps()
#define V_LOAD(p)      _mm256_loadu_ps(p)
#define V_STORE(p, v)  _mm256_storeu_ps(p, v)
#define V_SET1(f)      _mm256_set1_ps(f)
#define V_ADD          _mm256_add_ps
#define V_SUB          _mm256_sub_ps
#define V_MUL          _mm256_mul_ps
#define V_DIV          _mm256_div_ps
#define V_MIN          _mm256_min_ps
#define V_MAX          _mm256_max_ps
#define V_ABS(v)       _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v)
#define V_ROUND(v)     _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_FMA          _mm256_fmadd_ps
#define V_HSUM         hsum8
#define V_HMAX         hmax8
#define V_LT(a, b)     _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define V_SEL(m, a, b) _mm256_blendv_ps(b, a, m)
#define V_TRUNC_I      _mm256_cvttps_epi32
#define V_ROUND_I      _mm256_cvtps_epi32
#define V_CVT_F        _mm256_cvtepi32_ps
#define V_EXP2I(n)                                                                                 \
    _mm256_castsi256_ps(                                                                           \
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define V_LUT8(t, i)      _mm256_permutevar8x32_ps(_mm256_loadu_ps(t), i)
#define VI_ZERO           _mm256_setzero_si256()
#define VI_LOADU(p)       _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define VI_STOREU(p, v)   _mm256_storeu_si256((__m256i *)(void *)(p), v)
#define VI_SUB            _mm256_sub_epi32
#define VB_LOADU          VI_LOADU
#define VI_STORE_I8(p, v) store_i8(p, v)
#define VB_SET1_32        _mm256_set1_epi32
#define VQ_XPREP(xb)      _mm256_abs_epi8(xb)
#define VQ_DOT(acc, xb, xa, w)                                                                     \
    ((acc) = _mm256_add_epi32(                                                                     \
         (acc), _mm256_madd_epi16(_mm256_maddubs_epi16((xa), _mm256_sign_epi8((w), (xb))),         \
                                  _mm256_set1_epi16(1))))

#include "kernels_simd.h"
#endif
