/* convert.h - pixel-format conversion of decoded samples into batch layouts
 * (internal to image/, used by image/resample.c and reader/'s loader).
 *
 * The loader decodes every sample as interleaved 8-bit RGB (HWC); these
 * write it as the batch wants it. The arithmetic is fixed (float32, one
 * multiply and one add per element, no contraction into FMA in a C11 build,
 * separate multiply and add instructions on the SIMD paths), so batches are
 * bit-identical whatever the thread count or SIMD path.
 *
 * A pv_pix_out describes one batch element (its format, where it lies, the
 * normalisation); pv__pix_out_rows writes some of its rows from RGB8 rows.
 * The resampler (resample.h, pv__resample_rgb8_out) calls it on each group
 * of output rows as its last pass makes them, while they are in L1: the
 * sample is never stored whole as RGB8 and converted afterwards.
 *
 * Depends on: libc (SSE2 intrinsics where the compiler targets it; AVX2
 * kernels compiled with a target attribute and chosen at run time).
 * Thread-safety: pure functions on caller buffers.
 */
#ifndef PV_CONVERT_H
#define PV_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* The element formats of a batch sample. */
typedef enum pv_pix_format {
  PV_PIX_RGB8 = 0,      /* uint8 HWC (interleaved), rows `stride` bytes apart */
  PV_PIX_RGB8_PLANAR,   /* uint8 CHW: three planes of width * height bytes */
  PV_PIX_F32,           /* float32 HWC normalized */
  PV_PIX_F32_PLANAR     /* float32 CHW normalized: three planes */
} pv_pix_format;

typedef struct pv_pix_out {
  pv_pix_format format;
  void *base;       /* element (row 0, column 0, channel 0) */
  uint32_t width, height;
  size_t stride;    /* PV_PIX_RGB8: bytes between rows (>= 3 * width) */
  float scale[3], bias[3]; /* float formats: x * scale[c] + bias[c] */
  int simd;         /* 0 scalar, 1 SSE2, 2 AVX2: pv__pix_out_set_simd */
} pv_pix_out;

/* Describes the sample at base: width x height pixels of format f; stride
 * is used by PV_PIX_RGB8 only (0 = 3 * width); mean and std (std[c] != 0)
 * by the float formats only (may be NULL otherwise): scale = 1 / (255 *
 * std[c]), bias = -mean[c] / std[c], i.e. (x / 255 - mean) / std. */
void pv__pix_out_init(pv_pix_out *o, pv_pix_format f, void *base, uint32_t width, uint32_t height,
                      size_t stride, const float mean[3], const float std[3]);

/* Caps the SIMD level of o's conversions (0 scalar, 1 SSE2, 2 AVX2; the
 * default is the best this CPU runs; a level the build or CPU lacks falls
 * back to the next lower one). Every level writes the same bytes. Returns
 * the level now in use. */
int pv__pix_out_set_simd(pv_pix_out *o, int level);

/* Writes rows [y, y + n) of the sample from n RGB8 rows of o->width pixels,
 * row i at src + i * sstride. y + n <= o->height. src must not overlap the
 * destination. For PV_PIX_RGB8 this is a copy. */
void pv__pix_out_rows(const pv_pix_out *o, uint32_t y, uint32_t n, const uint8_t *src,
                      size_t sstride);

/* Writes the hw interleaved RGB8 pixels of src as three planes of hw bytes
 * (R, G, B: CHW). src and dst must not overlap. */
void pv__rgb8_to_planar(const uint8_t *src, size_t hw, uint8_t *dst);

/* Normalizes the hw interleaved RGB8 pixels of src into float32:
 * dst = src * (1 / (255 * std[c])) + (-mean[c] / std[c]) per channel c,
 * i.e. (x / 255 - mean) / std, as three planes (planar != 0: CHW) or
 * interleaved (HWC). The same bytes as pv__pix_out_rows on the whole
 * sample. std[c] != 0. */
void pv__rgb8_normalize(const uint8_t *src, size_t hw, const float mean[3], const float std[3],
                        int planar, float *dst);

#endif /* PV_CONVERT_H */
