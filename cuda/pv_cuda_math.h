/* pv_cuda_math.h - the per-element math of the normalize kernel, shared by
 * the device code (normalize.cu) and host code (the reference used by the
 * tests and the benchmark), so the CPU test suite exercises the exact
 * arithmetic the GPU runs, including float16/bfloat16 rounding.
 *
 * Internal (not installed). Plain C11 when included from a .c file; the
 * functions become __host__ __device__ under nvcc.
 *
 * Exactness. The float32 value is x * scale + bias with scale =
 * 1/(255 std) and bias = -mean/std computed on the host in float, as two
 * separately rounded operations (no fused multiply-add): the CPU loader's
 * FLOAT32 path (reader/loader.c, C11 with contraction off) computes the
 * same two roundings, so device float32 batches are bit-identical to it.
 * float16/bfloat16 round that float32 to nearest, ties to even, with
 * integer bit manipulation that behaves identically on host and device.
 */
#ifndef PV_CUDA_MATH_H
#define PV_CUDA_MATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define PV_HD static __host__ __device__ __forceinline__
#else
#define PV_HD static inline
#endif

/* Layout and dtype codes: the values of pv_layout and pv_cuda_dtype. */
enum { PV__NM_NHWC = 0, PV__NM_NCHW = 1 };
enum { PV__NM_U8 = 0, PV__NM_F32 = 1, PV__NM_F16 = 2, PV__NM_BF16 = 3 };

/* scale[c], bias[c] for mean/std in the 0..1 scale (host only; the kernel
 * gets the results as arguments). Same expressions as reader/loader.c. */
static inline void pv__nm_params(const float mean[3], const float std[3], float scale[3],
                                 float bias[3]) {
  for (int c = 0; c < 3; c++) {
    scale[c] = 1.0f / (255.0f * std[c]);
    bias[c] = -mean[c] / std[c];
  }
}

PV_HD uint32_t pv__f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
#endif
}

PV_HD float pv__bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
#endif
}

/* (x/255 - mean)/std as the CPU loader computes it: a rounded product, then
 * a rounded sum. */
PV_HD float pv__nm_f32(uint32_t x, float scale, float bias) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn((float)x, scale), bias); /* never contracted */
#else
  float t = (float)x * scale;
  return t + bias;
#endif
}

/* float32 -> IEEE binary16 bits, round to nearest even; overflow to
 * infinity, gradual underflow to subnormals, NaN stays a (quiet) NaN. */
PV_HD uint16_t pv__f32_to_f16(float f) {
  uint32_t x = pv__f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) /* inf, NaN */
    return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0));
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
  if (ax < 0x38800000u) {                                    /* below 2^-14: subnormal */
    uint32_t e = ax >> 23;
    if (e < 102) return (uint16_t)sign; /* < 2^-25: rounds to zero */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* value in units of 2^-24 is m >> shift */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t h = (ax >> 13) - (112u << 10), rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
}

/* float32 -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
PV_HD uint16_t pv__f32_to_bf16(float f) {
  uint32_t x = pv__f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

PV_HD float pv__f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 31) return pv__bits_f32(sign | 0x7f800000u | (m << 13));
  if (e == 0) { /* zero or subnormal: m * 2^-24 */
    float v = (float)m * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return pv__bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

PV_HD float pv__bf16_to_f32(uint16_t b) { return pv__bits_f32((uint32_t)b << 16); }

/* Element index of channel c of pixel p (0 <= p < hw) of image n. */
PV_HD size_t pv__nm_index(size_t n, size_t p, unsigned c, size_t hw, int layout) {
  return layout == PV__NM_NCHW ? (n * 3 + c) * hw + p : (n * hw + p) * 3 + c;
}

/* Host reference of the whole kernel: n images of hw pixels, uint8 NHWC in
 * src, into dst (n*hw*3 elements of dtype in layout). mean/std unused for
 * UINT8. The GPU test compares the kernel against this, bit for bit. */
static inline void pv__nm_reference(const uint8_t *src, void *dst, size_t n, size_t hw,
                                    int dtype, int layout, const float mean[3],
                                    const float std[3]) {
  float scale[3] = {0, 0, 0}, bias[3] = {0, 0, 0};
  if (dtype != PV__NM_U8) pv__nm_params(mean, std, scale, bias);
  for (size_t i = 0; i < n; i++)
    for (size_t p = 0; p < hw; p++)
      for (unsigned c = 0; c < 3; c++) {
        uint8_t x = src[(i * hw + p) * 3 + c];
        size_t k = pv__nm_index(i, p, c, hw, layout);
        float v = dtype == PV__NM_U8 ? 0.0f : pv__nm_f32(x, scale[c], bias[c]);
        switch (dtype) {
          case PV__NM_U8: ((uint8_t *)dst)[k] = x; break;
          case PV__NM_F32: ((float *)dst)[k] = v; break;
          case PV__NM_F16: ((uint16_t *)dst)[k] = pv__f32_to_f16(v); break;
          default: ((uint16_t *)dst)[k] = pv__f32_to_bf16(v); break;
        }
      }
}

#endif /* PV_CUDA_MATH_H */
