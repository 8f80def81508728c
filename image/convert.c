/* convert.c - batch layouts of decoded samples (convert.h). The loops of
 * reader/loader.c's convert_sample, moved here unchanged. */
#include "convert.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

void pv__rgb8_to_planar(const uint8_t *src, size_t hw, uint8_t *d) {
  for (size_t i = 0; i < hw; i++) {
    d[i] = src[3 * i];
    d[hw + i] = src[3 * i + 1];
    d[2 * hw + i] = src[3 * i + 2];
  }
}

void pv__rgb8_normalize(const uint8_t *src, size_t hw, const float mean[3], const float std[3],
                        int planar, float *d) {
  float scale[3], bias[3];
  for (int c = 0; c < 3; c++) {
    scale[c] = 1.0f / (255.0f * std[c]);
    bias[c] = -mean[c] / std[c];
  }
  if (!planar) {
    for (size_t i = 0; i < hw; i++)
      for (int c = 0; c < 3; c++) d[3 * i + c] = src[3 * i + c] * scale[c] + bias[c];
    return;
  }
  /* One pass over the pixels writing three planes (the same arithmetic
   * per element as three passes, so the same bytes): the source is read
   * once and the compiler vectorizes the de-interleave. */
  float *restrict d0 = d, *restrict d1 = d + hw, *restrict d2 = d + 2 * hw;
  const float s0 = scale[0], s1 = scale[1], s2 = scale[2];
  const float b0 = bias[0], b1 = bias[1], b2 = bias[2];
  size_t i = 0;
#ifdef __SSE2__
  /* The batch buffer is far larger than the caches: streaming stores skip
   * reading every destination line before writing it (half the memory
   * traffic of the conversion). Same values as the scalar loop. */
  if ((((uintptr_t)d0 | (uintptr_t)d1 | (uintptr_t)d2) & 15) == 0) {
    for (; i + 4 <= hw; i += 4) {
      const uint8_t *p = src + 3 * i;
      _mm_stream_ps(d0 + i, _mm_setr_ps(p[0] * s0 + b0, p[3] * s0 + b0, p[6] * s0 + b0,
                                        p[9] * s0 + b0));
      _mm_stream_ps(d1 + i, _mm_setr_ps(p[1] * s1 + b1, p[4] * s1 + b1, p[7] * s1 + b1,
                                        p[10] * s1 + b1));
      _mm_stream_ps(d2 + i, _mm_setr_ps(p[2] * s2 + b2, p[5] * s2 + b2, p[8] * s2 + b2,
                                        p[11] * s2 + b2));
    }
    _mm_sfence();
  }
#endif
  for (; i < hw; i++) {
    d0[i] = src[3 * i] * s0 + b0;
    d1[i] = src[3 * i + 1] * s1 + b1;
    d2[i] = src[3 * i + 2] * s2 + b2;
  }
}
