/* convert.h - pixel-format conversion of decoded samples into batch layouts
 * (internal to image/, used by reader/'s loader).
 *
 * The loader decodes every sample as interleaved 8-bit RGB (HWC); these
 * write it as the batch wants it. The arithmetic is fixed (float32, one
 * multiply and one add per element, no contraction into FMA in a C11 build),
 * so batches are bit-identical whatever the thread count or SIMD path.
 *
 * Depends on: libc (SSE2 intrinsics where the compiler targets it).
 * Thread-safety: pure functions on caller buffers.
 */
#ifndef PV_CONVERT_H
#define PV_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* Writes the hw interleaved RGB8 pixels of src as three planes of hw bytes
 * (R, G, B: CHW). src and dst must not overlap. */
void pv__rgb8_to_planar(const uint8_t *src, size_t hw, uint8_t *dst);

/* Normalizes the hw interleaved RGB8 pixels of src into float32:
 * dst = src * (1 / (255 * std[c])) + (-mean[c] / std[c]) per channel c,
 * i.e. (x / 255 - mean) / std, as three planes (planar != 0: CHW) or
 * interleaved (HWC). A planar destination whose three planes are 16-byte
 * aligned is written with streaming stores (same values). std[c] != 0. */
void pv__rgb8_normalize(const uint8_t *src, size_t hw, const float mean[3], const float std[3],
                        int planar, float *dst);

#endif /* PV_CONVERT_H */
