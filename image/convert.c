/* convert.c - batch layouts of decoded samples (convert.h).
 *
 * Row kernels at three levels (scalar, SSE2, AVX2), all computing
 * float(x) * scale[c] + bias[c] with a separate multiply and add in float32
 * (the values of the scalar C loop, which a C11 build does not contract),
 * so every level writes the same bytes; test_resample compares them. */
#include "convert.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define PV_CV_SSE2 1
#else
#define PV_CV_SSE2 0
#endif
#if PV_CV_SSE2 && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PV_CV_AVX2 1
#else
#define PV_CV_AVX2 0
#endif

/* ---- scalar ------------------------------------------------------------------ */

static void planar8_row(const uint8_t *src, size_t n, uint8_t *d0, uint8_t *d1, uint8_t *d2) {
  for (size_t i = 0; i < n; i++) {
    d0[i] = src[3 * i];
    d1[i] = src[3 * i + 1];
    d2[i] = src[3 * i + 2];
  }
}

static void f32_row(const uint8_t *src, size_t n, const float sc[3], const float bi[3],
                    float *d) {
  for (size_t i = 0; i < n; i++)
    for (int c = 0; c < 3; c++) d[3 * i + c] = src[3 * i + c] * sc[c] + bi[c];
}

static void f32p_row_from(const uint8_t *src, size_t i, size_t n, const float sc[3],
                          const float bi[3], float *restrict d0, float *restrict d1,
                          float *restrict d2) {
  const float s0 = sc[0], s1 = sc[1], s2 = sc[2];
  const float b0 = bi[0], b1 = bi[1], b2 = bi[2];
  for (; i < n; i++) {
    d0[i] = src[3 * i] * s0 + b0;
    d1[i] = src[3 * i + 1] * s1 + b1;
    d2[i] = src[3 * i + 2] * s2 + b2;
  }
}

/* ---- SSE2: the loop the loader used before issue 13, per row ------------------- */

#if PV_CV_SSE2
static void f32p_row_sse2(const uint8_t *src, size_t n, const float sc[3], const float bi[3],
                          float *d0, float *d1, float *d2) {
  const float s0 = sc[0], s1 = sc[1], s2 = sc[2];
  const float b0 = bi[0], b1 = bi[1], b2 = bi[2];
  size_t i = 0;
  /* The batch buffer is far larger than the caches: streaming stores skip
   * reading every destination line before writing it. Same values. */
  if ((((uintptr_t)d0 | (uintptr_t)d1 | (uintptr_t)d2) & 15) == 0) {
    for (; i + 4 <= n; i += 4) {
      const uint8_t *p = src + 3 * i;
      _mm_stream_ps(d0 + i, _mm_setr_ps(p[0] * s0 + b0, p[3] * s0 + b0, p[6] * s0 + b0,
                                        p[9] * s0 + b0));
      _mm_stream_ps(d1 + i, _mm_setr_ps(p[1] * s1 + b1, p[4] * s1 + b1, p[7] * s1 + b1,
                                        p[10] * s1 + b1));
      _mm_stream_ps(d2 + i, _mm_setr_ps(p[2] * s2 + b2, p[5] * s2 + b2, p[8] * s2 + b2,
                                        p[11] * s2 + b2));
    }
  }
  f32p_row_from(src, i, n, sc, bi, d0, d1, d2);
}
#endif

/* ---- AVX2 ------------------------------------------------------------------------ */

#if PV_CV_AVX2
/* Eight pixels (24 bytes) per step: two overlapping 16-byte loads, one
 * pshufb pair per channel gathers its 8 bytes, widened to int32 and
 * converted (exact), then one multiply and one add. */
__attribute__((target("avx2"))) static void f32p_row_avx2(const uint8_t *src, size_t n,
                                                          const float sc[3], const float bi[3],
                                                          float *d0, float *d1, float *d2) {
  const __m128i rl = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i rh = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i gl = _mm_setr_epi8(1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i gh = _mm_setr_epi8(-1, -1, -1, -1, -1, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i bl = _mm_setr_epi8(2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i bh = _mm_setr_epi8(-1, -1, -1, -1, -1, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256 s0 = _mm256_set1_ps(sc[0]), s1 = _mm256_set1_ps(sc[1]), s2 = _mm256_set1_ps(sc[2]);
  const __m256 b0 = _mm256_set1_ps(bi[0]), b1 = _mm256_set1_ps(bi[1]), b2 = _mm256_set1_ps(bi[2]);
  size_t i = 0;
#define PV_CV_CH(lo, hi, ml, mh, s, b)                                                             \
  _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_or_si128(                \
                                  _mm_shuffle_epi8(lo, ml), _mm_shuffle_epi8(hi, mh)))),           \
                              s),                                                                  \
                b)
  /* Plain stores: streaming stores (what the SSE2 path keeps) measured no
   * better in the loader (bench, float32 NCHW, 2 threads, interleaved: one
   * run of 5 pairs 25% slower, a second within noise of these). */
  for (; i + 8 <= n; i += 8) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)(src + 3 * i));
    const __m128i hi = _mm_loadu_si128((const __m128i *)(src + 3 * i + 8));
    _mm256_storeu_ps(d0 + i, PV_CV_CH(lo, hi, rl, rh, s0, b0));
    _mm256_storeu_ps(d1 + i, PV_CV_CH(lo, hi, gl, gh, s1, b1));
    _mm256_storeu_ps(d2 + i, PV_CV_CH(lo, hi, bl, bh, s2, b2));
  }
#undef PV_CV_CH
  f32p_row_from(src, i, n, sc, bi, d0, d1, d2);
}

/* Interleaved: 24 consecutive bytes are 24 consecutive floats whose
 * channels repeat with period 3, so three scale/bias patterns cover them. */
__attribute__((target("avx2"))) static void f32_row_avx2(const uint8_t *src, size_t n,
                                                         const float sc[3], const float bi[3],
                                                         float *d) {
  const __m256 p0 = _mm256_setr_ps(sc[0], sc[1], sc[2], sc[0], sc[1], sc[2], sc[0], sc[1]);
  const __m256 p1 = _mm256_setr_ps(sc[2], sc[0], sc[1], sc[2], sc[0], sc[1], sc[2], sc[0]);
  const __m256 p2 = _mm256_setr_ps(sc[1], sc[2], sc[0], sc[1], sc[2], sc[0], sc[1], sc[2]);
  const __m256 q0 = _mm256_setr_ps(bi[0], bi[1], bi[2], bi[0], bi[1], bi[2], bi[0], bi[1]);
  const __m256 q1 = _mm256_setr_ps(bi[2], bi[0], bi[1], bi[2], bi[0], bi[1], bi[2], bi[0]);
  const __m256 q2 = _mm256_setr_ps(bi[1], bi[2], bi[0], bi[1], bi[2], bi[0], bi[1], bi[2]);
  size_t i = 0;
#define PV_CV_8(o, p, q)                                                                           \
  _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(                             \
                                  _mm_loadl_epi64((const __m128i *)(src + 3 * i + (o))))),         \
                              p),                                                                  \
                q)
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(d + 3 * i, PV_CV_8(0, p0, q0));
    _mm256_storeu_ps(d + 3 * i + 8, PV_CV_8(8, p1, q1));
    _mm256_storeu_ps(d + 3 * i + 16, PV_CV_8(16, p2, q2));
  }
#undef PV_CV_8
  if (i < n) f32_row(src + 3 * i, n - i, sc, bi, d + 3 * i);
}
#endif

/* ---- dispatch ---------------------------------------------------------------------- */

static int best_level(int level) {
  int l = 0;
#if PV_CV_SSE2
  if (level >= 1) l = 1;
#endif
#if PV_CV_AVX2
  __builtin_cpu_init();
  if (level >= 2 && __builtin_cpu_supports("avx2")) l = 2;
#endif
  return l;
}

static void f32p_row(int simd, const uint8_t *src, size_t n, const float sc[3], const float bi[3],
                     float *d0, float *d1, float *d2) {
#if PV_CV_AVX2
  if (simd == 2) {
    f32p_row_avx2(src, n, sc, bi, d0, d1, d2);
    return;
  }
#endif
#if PV_CV_SSE2
  if (simd >= 1) {
    f32p_row_sse2(src, n, sc, bi, d0, d1, d2);
    return;
  }
#endif
  (void)simd;
  f32p_row_from(src, 0, n, sc, bi, d0, d1, d2);
}

static void f32i_row(int simd, const uint8_t *src, size_t n, const float sc[3], const float bi[3],
                     float *d) {
#if PV_CV_AVX2
  if (simd == 2) {
    f32_row_avx2(src, n, sc, bi, d);
    return;
  }
#endif
  (void)simd;
  f32_row(src, n, sc, bi, d);
}

static void fence(int simd) {
#if PV_CV_SSE2
  if (simd >= 1) _mm_sfence(); /* orders the streaming stores before the batch is published */
#endif
  (void)simd;
}

void pv__pix_out_init(pv_pix_out *o, pv_pix_format f, void *base, uint32_t width, uint32_t height,
                      size_t stride, const float mean[3], const float std[3]) {
  memset(o, 0, sizeof *o);
  o->format = f;
  o->base = base;
  o->width = width;
  o->height = height;
  o->stride = stride ? stride : (size_t)width * 3;
  if (f == PV_PIX_F32 || f == PV_PIX_F32_PLANAR)
    for (int c = 0; c < 3; c++) {
      o->scale[c] = 1.0f / (255.0f * std[c]);
      o->bias[c] = -mean[c] / std[c];
    }
  o->simd = best_level(2);
}

int pv__pix_out_set_simd(pv_pix_out *o, int level) {
  o->simd = best_level(level);
  return o->simd;
}

void pv__pix_out_rows(const pv_pix_out *o, uint32_t y, uint32_t n, const uint8_t *src,
                      size_t sstride) {
  const size_t w = o->width, plane = (size_t)o->width * o->height;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *s = src + (size_t)i * sstride;
    const size_t row = (size_t)y + i;
    switch (o->format) {
    case PV_PIX_RGB8:
      memcpy((uint8_t *)o->base + row * o->stride, s, w * 3);
      break;
    case PV_PIX_RGB8_PLANAR: {
      uint8_t *d = (uint8_t *)o->base + row * w;
      planar8_row(s, w, d, d + plane, d + 2 * plane);
      break;
    }
    case PV_PIX_F32:
      f32i_row(o->simd, s, w, o->scale, o->bias, (float *)o->base + row * w * 3);
      break;
    case PV_PIX_F32_PLANAR: {
      float *d = (float *)o->base + row * w;
      f32p_row(o->simd, s, w, o->scale, o->bias, d, d + plane, d + 2 * plane);
      break;
    }
    }
  }
  if (o->format == PV_PIX_F32_PLANAR) fence(o->simd);
}

void pv__rgb8_to_planar(const uint8_t *src, size_t hw, uint8_t *d) {
  planar8_row(src, hw, d, d + hw, d + 2 * hw);
}

void pv__rgb8_normalize(const uint8_t *src, size_t hw, const float mean[3], const float std[3],
                        int planar, float *d) {
  pv_pix_out o;
  pv__pix_out_init(&o, planar ? PV_PIX_F32_PLANAR : PV_PIX_F32, d, 0, 0, 0, mean, std);
  if (planar) {
    f32p_row(o.simd, src, hw, o.scale, o.bias, d, d + hw, d + 2 * hw);
    fence(o.simd);
  } else {
    f32i_row(o.simd, src, hw, o.scale, o.bias, d);
  }
}
