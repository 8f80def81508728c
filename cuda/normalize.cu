/* normalize.cu - the fused uint8 NHWC -> {uint8, float32, float16,
 * bfloat16} x {NHWC, NCHW} normalize kernel (see cuda_internal.h).
 *
 * The kernel is bandwidth-bound: per pixel it reads 3 bytes and writes 3
 * elements. The vector variant gives each thread 4 consecutive pixels of one
 * image: three aligned 32-bit loads (12 bytes), and the 12 results leave as
 * three 4-element stores (16 bytes for float32, 8 for 16-bit types, 4 for
 * uint8), contiguous for NHWC or one per channel plane for NCHW, so every
 * global access is a full, aligned vector. The per-element math lives in
 * pv_cuda_math.h so the host test suite runs the same arithmetic.
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda_internal.h"
#include "pv_cuda_math.h"

namespace {

struct nm_coef {
  float s[3], b[3];
};

/* The output bits of one element (low 8/16/32 bits used). */
template <int DT>
__device__ __forceinline__ uint32_t conv(uint32_t x, float s, float b) {
  if (DT == PV__NM_U8) return x;
  float v = pv__nm_f32(x, s, b);
  if (DT == PV__NM_F32) return pv__f32_bits(v);
  if (DT == PV__NM_F16) return pv__f32_to_f16(v);
  return pv__f32_to_bf16(v);
}

/* Stores 4 consecutive elements at element index idx (aligned to 4). */
template <int DT>
__device__ __forceinline__ void store4(void *base, size_t idx, uint32_t a, uint32_t b,
                                       uint32_t c, uint32_t d) {
  if (DT == PV__NM_U8) {
    *reinterpret_cast<uint32_t *>(static_cast<uint8_t *>(base) + idx) =
        a | (b << 8) | (c << 16) | (d << 24);
  } else if (DT == PV__NM_F32) {
    *reinterpret_cast<uint4 *>(static_cast<uint32_t *>(base) + idx) = make_uint4(a, b, c, d);
  } else {
    *reinterpret_cast<uint2 *>(static_cast<uint16_t *>(base) + idx) =
        make_uint2(a | (b << 16), c | (d << 16));
  }
}

template <int DT>
__device__ __forceinline__ void store1(void *base, size_t idx, uint32_t v) {
  if (DT == PV__NM_U8)
    static_cast<uint8_t *>(base)[idx] = (uint8_t)v;
  else if (DT == PV__NM_F32)
    static_cast<uint32_t *>(base)[idx] = v;
  else
    static_cast<uint16_t *>(base)[idx] = (uint16_t)v;
}

/* groups = n_pixels / 4; requires hw % 4 == 0, src 4-byte and dst 16-byte
 * aligned. */
template <int DT, int LAYOUT>
__global__ void nm_vec4(const uint8_t *__restrict__ src, void *__restrict__ dst, size_t groups,
                        uint32_t hw, nm_coef k) {
  const uint32_t *s32 = reinterpret_cast<const uint32_t *>(src);
  for (size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x; g < groups;
       g += (size_t)gridDim.x * blockDim.x) {
    uint32_t w[3] = {__ldg(s32 + 3 * g), __ldg(s32 + 3 * g + 1), __ldg(s32 + 3 * g + 2)};
    uint32_t v[12];
#pragma unroll
    for (int i = 0; i < 12; i++) {
      uint32_t x = (w[i / 4] >> (8 * (i % 4))) & 0xffu;
      v[i] = conv<DT>(x, k.s[i % 3], k.b[i % 3]);
    }
    if (LAYOUT == PV__NM_NHWC) {
      store4<DT>(dst, 12 * g, v[0], v[1], v[2], v[3]);
      store4<DT>(dst, 12 * g + 4, v[4], v[5], v[6], v[7]);
      store4<DT>(dst, 12 * g + 8, v[8], v[9], v[10], v[11]);
    } else {
      size_t pix = 4 * g, n = pix / hw, p = pix - n * hw;
#pragma unroll
      for (unsigned c = 0; c < 3; c++)
        store4<DT>(dst, pv__nm_index(n, p, c, hw, PV__NM_NCHW), v[c], v[3 + c], v[6 + c],
                   v[9 + c]);
    }
  }
}

/* Any size and alignment: one pixel per thread. */
template <int DT, int LAYOUT>
__global__ void nm_pixel(const uint8_t *__restrict__ src, void *__restrict__ dst,
                         size_t n_pixels, uint32_t hw, nm_coef k) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n_pixels;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t n = i / hw, p = i - n * hw;
#pragma unroll
    for (unsigned c = 0; c < 3; c++)
      store1<DT>(dst, pv__nm_index(n, p, c, hw, LAYOUT),
                 conv<DT>(src[3 * i + c], k.s[c], k.b[c]));
  }
}

template <int DT, int LAYOUT>
cudaError_t launch(const void *src, void *dst, size_t n_pixels, uint32_t hw, const nm_coef &k,
                   cudaStream_t stream) {
  const unsigned threads = 256;
  bool vec = hw % 4 == 0 && ((uintptr_t)src & 3) == 0 && ((uintptr_t)dst & 15) == 0;
  size_t work = vec ? n_pixels / 4 : n_pixels;
  size_t blocks = (work + threads - 1) / threads;
  if (blocks > 16384) blocks = 16384; /* grid-stride beyond that */
  if (vec)
    nm_vec4<DT, LAYOUT><<<(unsigned)blocks, threads, 0, stream>>>(
        static_cast<const uint8_t *>(src), dst, work, hw, k);
  else
    nm_pixel<DT, LAYOUT><<<(unsigned)blocks, threads, 0, stream>>>(
        static_cast<const uint8_t *>(src), dst, work, hw, k);
  return cudaGetLastError();
}

template <int DT>
cudaError_t launch_dt(const void *src, void *dst, size_t n_pixels, uint32_t hw, int layout,
                      const nm_coef &k, cudaStream_t stream) {
  return layout == PV__NM_NCHW ? launch<DT, PV__NM_NCHW>(src, dst, n_pixels, hw, k, stream)
                               : launch<DT, PV__NM_NHWC>(src, dst, n_pixels, hw, k, stream);
}

} // namespace

extern "C" int pv__cuda_normalize_launch(const void *src, void *dst, size_t n_pixels,
                                         uint32_t hw, int dtype, int layout,
                                         const float scale[3], const float bias[3],
                                         void *stream) {
  if (n_pixels == 0) return (int)cudaSuccess;
  if (!src || !dst || hw == 0 || n_pixels % hw) return (int)cudaErrorInvalidValue;
  nm_coef k;
  for (int c = 0; c < 3; c++) {
    k.s[c] = scale ? scale[c] : 0.0f;
    k.b[c] = bias ? bias[c] : 0.0f;
  }
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case PV__NM_U8: return (int)launch_dt<PV__NM_U8>(src, dst, n_pixels, hw, layout, k, s);
    case PV__NM_F32: return (int)launch_dt<PV__NM_F32>(src, dst, n_pixels, hw, layout, k, s);
    case PV__NM_F16: return (int)launch_dt<PV__NM_F16>(src, dst, n_pixels, hw, layout, k, s);
    case PV__NM_BF16: return (int)launch_dt<PV__NM_BF16>(src, dst, n_pixels, hw, layout, k, s);
  }
  return (int)cudaErrorInvalidValue;
}
