/* cuda_internal.h - what cuda_loader.c (C) needs from normalize.cu (CUDA
 * C++). Internal; not installed. */
#ifndef PV_CUDA_INTERNAL_H
#define PV_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Enqueues the fused normalize kernel on stream: n_pixels pixels (n images
 * of hw pixels) of uint8 NHWC at src into dst as dtype (pv_cuda_dtype) in
 * layout (pv_layout), out = x * scale[c] + bias[c] (pv_cuda_math.h). Uses
 * 4-pixel vector loads and stores when hw % 4 == 0, src is 4-byte and dst
 * 16-byte aligned, a per-pixel kernel otherwise. The current device must
 * hold src and dst. Returns the cudaError_t of the launch (0 = success). */
int pv__cuda_normalize_launch(const void *src, void *dst, size_t n_pixels, uint32_t hw,
                              int dtype, int layout, const float scale[3],
                              const float bias[3], void *stream);

#ifdef __cplusplus
}
#endif
#endif
