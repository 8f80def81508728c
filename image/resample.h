/* resample.h - antialiased resampling of 8-bit RGB images (internal to
 * image/, used by codec/, pack/ and reader/).
 *
 * Shared by the packer (pre-resize at build time) and the loader (crop and
 * resize per sample). Quality is PIL-comparable: a separable convolution
 * whose kernel support widens by the scale factor when shrinking (PIL's
 * Image.resize with reducing_gap=None), fixed-point weights precomputed once
 * per (source size, destination size, filter), so the inner loops are
 * integer multiply-adds a compiler can vectorise.
 *
 * Depends on: libc only. Thread-safety: a pv_resampler may be used by one
 * thread at a time; separate resamplers are independent.
 */
#ifndef PV_RESAMPLE_H
#define PV_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "convert.h"
#include "pv_filter.h"
#include "pv_option.h"
#include "pv_status.h"


/* Parses "bilinear" / "bicubic" / "lanczos"; returns -1 when unknown.
 * (pv_filter_from_name / pv_filter_name in pv_filter.h are the public
 * spellings of these two.) */
int pv__filter_from_name(const char *name);
const char *pv__filter_name(pv_filter f);
/* The same names as the choices of a `filter` option (pv_option.h). */
extern const pv_option_choice pv__filter_choices[];

/* Opaque reusable scratch state: keeps coefficient tables and the
 * intermediate buffer between calls so that steady-state use does not
 * allocate (tables are rebuilt only when sizes change). */
typedef struct pv_resampler pv_resampler;

pv_status pv__resampler_create(pv_resampler **out);
void pv__resampler_destroy(pv_resampler *r); /* accepts NULL */

/* Resizes the box (bx, by, bw, bh) of src (sw x sh pixels, RGB8, row stride
 * sstride bytes) to dst (dw x dh, RGB8, row stride dstride bytes).
 * The box must lie inside src; sizes >= 1. Upscaling is allowed (the loader
 * needs it); the packer simply never asks for it.
 * Returns PV_OK, PV_ERR_INVALID_ARG, PV_ERR_NOMEM. Output depends only on
 * the inputs (no floating-point state, no threads): byte-identical runs. */
pv_status pv__resample_rgb8(pv_resampler *r, pv_filter filter,
                            const uint8_t *src, uint32_t sw, uint32_t sh,
                            size_t sstride, uint32_t bx, uint32_t by,
                            uint32_t bw, uint32_t bh, uint8_t *dst,
                            uint32_t dw, uint32_t dh, size_t dstride);

/* Same contract as pv__resample_rgb8, but writes the horizontal mirror image:
 * byte-identical to pv__resample_rgb8 followed by reversing the pixel order
 * of every output row. The resampler emits the pixels in reverse order, so
 * the mirror costs (almost) nothing on the AVX2 path. */
pv_status pv__resample_rgb8_flip(pv_resampler *r, pv_filter filter, const uint8_t *src,
                                 uint32_t sw, uint32_t sh, size_t sstride, uint32_t bx,
                                 uint32_t by, uint32_t bw, uint32_t bh, uint8_t *dst, uint32_t dw,
                                 uint32_t dh, size_t dstride);

/* The window (wx, wy, dw, dh) of the box resized to fw x fh: byte-identical
 * to pv__resample_rgb8 to an fw x fh destination followed by a crop of that
 * window, but only the window is computed and only the inputs it reads are
 * touched, so time and memory are bounded by the window (plus the box's
 * extent along an axis the window needs all of), however large fw x fh is
 * (Resize(256) + CenterCrop(224) of a 65500x1 image: fw = 16768000).
 * Requires wx + dw <= fw, wy + dh <= fh; fw, fh may exceed the 2^20 limit
 * that dw, dh keep. Same returns as pv__resample_rgb8. */
pv_status pv__resample_rgb8_window(pv_resampler *r, pv_filter filter, const uint8_t *src,
                                   uint32_t sw, uint32_t sh, size_t sstride, uint32_t bx,
                                   uint32_t by, uint32_t bw, uint32_t bh, uint32_t fw,
                                   uint32_t fh, uint32_t wx, uint32_t wy, uint8_t *dst,
                                   uint32_t dw, uint32_t dh, size_t dstride);

/* pv__resample_rgb8_window (fw = out->width, fh = out->height, wx = wy = 0
 * for the whole image) into the batch element out (convert.h), mirrored
 * when flip (whole images only): the same bytes as resampling into RGB8
 * rows and then converting them with pv__pix_out_rows, but each group of
 * output rows (4 on the AVX2 path, 16 otherwise) is converted as the
 * horizontal pass makes it, from an L1-sized staging buffer, instead of a
 * second pass over the whole sample. The output size is out->width x
 * out->height. Same returns as pv__resample_rgb8 (PV_ERR_INVALID_ARG also
 * for a NULL or empty out, or flip with a partial window). */
pv_status pv__resample_rgb8_out(pv_resampler *r, pv_filter filter, const uint8_t *src, uint32_t sw,
                                uint32_t sh, size_t sstride, uint32_t bx, uint32_t by, uint32_t bw,
                                uint32_t bh, uint32_t fw, uint32_t fh, uint32_t wx, uint32_t wy,
                                int flip, const pv_pix_out *out);

/* Selects the arithmetic kernels: 0 portable scalar, 1 SSE2, 2 AVX2
 * (default: the best this CPU runs). A level the build or CPU lacks falls
 * back to the next lower one. Every level gives the same bytes; this exists
 * so tests and benchmarks can check and time each path. Returns the level
 * now in use, or -1 when r is NULL. */
int pv__resampler_set_simd(pv_resampler *r, int level);

/* Scalar reference with the same contract and the same output bytes as
 * pv__resample_rgb8: written as the plain definition (full vertical pass
 * into a temporary image, then the horizontal pass), without blocking,
 * transposes or SIMD. For tests and benchmarks; allocates on every call.
 * Returns PV_OK, PV_ERR_INVALID_ARG, PV_ERR_NOMEM. */
pv_status pv__resample_rgb8_reference(pv_resampler *r, pv_filter filter,
                                      const uint8_t *src, uint32_t sw,
                                      uint32_t sh, size_t sstride, uint32_t bx,
                                      uint32_t by, uint32_t bw, uint32_t bh,
                                      uint8_t *dst, uint32_t dw, uint32_t dh,
                                      size_t dstride);

#endif /* PV_RESAMPLE_H */
