/* AVX-512 kernels (F, BW, VL, VNNI): 16-wide f32, int8 products by vpdpbusd on x + 128
 * (unsigned) times q (signed), corrected by the precomputed 128 * sum(q). Per-function
 * target attributes keep the rest of the build baseline x86-64; kernels.c hands these
 * out only when the CPU has all four extensions. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define K_TARGET    __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#define K_OPS_NAME  k_ops_avx512
#define K_NAME      "avx512"
#define K_MR        6 /* 6 rows x 4 panels = 24 accumulators of the 32 registers */
#define K_NP        4
#define K_KC        256
#define K_Q8_OFFSET 1

#define VW             16
#define V              __m512
#define VI             __m512i
#define VB             __m512i
#define V_ZERO         _mm512_setzero_ps()
#define V_LOAD(p)      _mm512_loadu_ps(p)
#define V_STORE(p, v)  _mm512_storeu_ps(p, v)
#define V_SET1(f)      _mm512_set1_ps(f)
#define V_ADD          _mm512_add_ps
#define V_SUB          _mm512_sub_ps
#define V_MUL          _mm512_mul_ps
#define V_DIV          _mm512_div_ps
#define V_MIN          _mm512_min_ps
#define V_MAX          _mm512_max_ps
#define V_ABS          _mm512_abs_ps
#define V_ROUND(v)     _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_FMA          _mm512_fmadd_ps
#define V_HSUM         _mm512_reduce_add_ps
#define V_HMAX         _mm512_reduce_max_ps
#define V_LT(a, b)     _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define V_SEL(m, a, b) _mm512_mask_blend_ps(m, b, a)
#define V_TRUNC_I      _mm512_cvttps_epi32
#define V_ROUND_I      _mm512_cvtps_epi32
#define V_CVT_F        _mm512_cvtepi32_ps
#define V_EXP2I(n)                                                                                 \
    _mm512_castsi512_ps(                                                                           \
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define V_LUT8(t, i)           _mm512_permutexvar_ps(i, _mm512_castps256_ps512(_mm256_loadu_ps(t)))
#define VI_ZERO                _mm512_setzero_si512()
#define VI_LOADU(p)            _mm512_loadu_si512((const void *)(p))
#define VI_STOREU(p, v)        _mm512_storeu_si512((void *)(p), v)
#define VI_SUB                 _mm512_sub_epi32
#define VB_LOADU               VI_LOADU
#define VI_STORE_I8(p, v)      _mm_storeu_si128((__m128i *)(void *)(p), _mm512_cvtepi32_epi8(v))
#define VB_SET1_32             _mm512_set1_epi32
#define VQ_XPREP(xb)           _mm512_xor_si512(xb, _mm512_set1_epi32((int)0x80808080u))
#define VQ_DOT(acc, xb, xa, w) ((acc) = _mm512_dpbusd_epi32((acc), (xa), (w)))

#include "kernels_simd.h"
#endif
