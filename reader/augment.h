/* augment.h - per-sample transforms of the loader (internal to reader/).
 *
 * torchvision's train and eval transforms, computed on pvpack records:
 *   train: RandomResizedCrop(size, scale, ratio) + RandomHorizontalFlip(p)
 *   eval:  Resize(resize_to) + CenterCrop(size)
 * with the random draws supplied by the caller (the loader derives them from
 * (seed, epoch, position) only, so results never depend on thread timing),
 * and with the decoding restricted to what the crop needs, through the
 * codec table (codec/codec.h): each codec's region decode gives the part of
 * the record a box needs, at the smallest DCT scale the codec offers that
 * still covers the output resolution (JPEG: libjpeg-turbo's partial
 * decoding, jpeg_crop_scanline / jpeg_skip_scanlines, from a splice of the
 * restart intervals covering the box when the record has row-aligned
 * restart markers, spec/FORMAT.md 3.6; raw: the payload itself; zstd: the
 * whole image).
 *
 * Every record is admitted by the codec table (pv__codec_admit: codec,
 * declared size, pv__limit_record against the sampler's limits) before
 * anything is sized from it, and each codec's region decode runs the
 * checks of its validate entry first: the same entries and the same
 * limits pv_decoder_decode uses.
 *
 * Depends on: format/, codec/codec.h, image/ (resample.h, geometry.h).
 * Thread-safety: a pv_sampler holds per-thread scratch; one per thread.
 */
#ifndef PV_AUGMENT_H
#define PV_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "geometry.h"
#include "pvpack.h"
#include "resample.h"

typedef struct pv_sampler pv_sampler;

/* Per-thread scratch: a codec context (codec.h: the libjpeg decompress
 * object, created once and reset after every record, a zstd context,
 * grow-only pixel buffers), a resampler and a grow-only buffer. Our own
 * buffers do not allocate in steady state; libjpeg still takes its
 * per-image working memory from its pools (as TurboJPEG does).
 * Returns PV_OK, PV_ERR_INVALID_ARG (out NULL), PV_ERR_NOMEM. */
pv_status pv__sampler_create(pv_sampler **out);
void pv__sampler_destroy(pv_sampler *s); /* accepts NULL */
/* Reason of the last failure of s ("" after a success; never NULL; owned
 * by s, valid until its next call). */
const char *pv__sampler_last_error(const pv_sampler *s);
/* The read-side limits of s's later calls (copied; NULL = defaults): every
 * record is checked with read_limits.h before anything is sized from it, as
 * pv_decoder_decode checks it. Returns PV_OK or PV_ERR_INVALID_ARG. */
pv_status pv__sampler_set_limits(pv_sampler *s, const pv_limits *l);
/* A JPEG decode of s polls cancel(ctx) at every libjpeg progress step (per
 * iMCU row of each scan, per row batch) and gives up with PV_ERR_CANCELLED
 * when it returns non-zero: how a loader being destroyed or repositioned
 * abandons a slow record. cancel must be cheap and thread-safe; NULL (the
 * default) = never. */
void pv__sampler_set_cancel(pv_sampler *s, int (*cancel)(void *ctx), void *ctx);
/* Puts a sampler whose pv__sample_crop / pv__sample_eval was interrupted
 * by a fault on the record's bytes (guard.h) back into a usable state:
 * aborts the libjpeg decompress cycle, resets the zstd context. */
void pv__sampler_reset(pv_sampler *s);
/* JPEG splicing at restart markers (jpeg_splice.h) is on by default; tests
 * turn it off to compare against the plain partial decode. */
void pv__sampler_set_splice(pv_sampler *s, int on);
/* JPEG records decoded with libjpeg's fast IDCT and plain upsampling
 * (pv__codec_ctx_set_jpeg_fast), by every sample function of s (the
 * full_decode reference too). Off by default. */
void pv__sampler_set_jpeg_fast(pv_sampler *s, int on);
/* How many JPEG decodes of s were served from a splice. */
uint64_t pv__sampler_splices(const pv_sampler *s);

/* Train path: crops `box` of rec, resizes it to out_w x out_h with filter,
 * mirrors it horizontally when flip, writes RGB8 rows of out_w*3 bytes at
 * stride dst_stride. Decodes only what the box needs (see above).
 *
 * Exactness against the reference "decode the whole record (TurboJPEG
 * defaults: ISLOW IDCT, fancy upsampling), crop, resize" (full_decode != 0
 * computes exactly that): RAW and ZSTD records are always exact. JPEG
 * records are exact when no DCT scaling applies (box smaller than 8/7 of the
 * output on some axis, e.g. every RandomResizedCrop(224) of a 256-pixel
 * record): the cropped decode is widened by one column each side so libjpeg's
 * upsampler sees the same neighbours. With DCT scaling num/8 the box edges
 * are rounded to the nearest scaled pixel (each edge moves by at most 4/num
 * source pixels, i.e. at most half an output pixel) and the scaled IDCT
 * replaces the first part of the shrink: tests see mean absolute differences
 * up to ~2.5 levels (PSNR >= 38 dB) on smooth gradients.
 *
 * A JPEG error or warning (corrupt data, premature end) in the part that is
 * decoded is PV_ERR_DECODE; damage past the last row the box needs goes
 * unnoticed (the decoder stops there) except with full_decode, which reads
 * to the end of the stream.
 * Returns PV_OK, PV_ERR_INVALID_ARG (box empty or outside the record, bad
 * sizes, NULL pointers), PV_ERR_DECODE (also: payload that disagrees with the
 * record's size or codec), PV_ERR_LIMIT (the record is over s's limits),
 * PV_ERR_CANCELLED (the cancel hook fired), PV_ERR_NOMEM. The reason is in
 * pv__sampler_last_error. */
pv_status pv__sample_crop(pv_sampler *s, const pv_record *rec, pv_crop box, uint32_t out_w,
                          uint32_t out_h, int flip, pv_filter filter, int full_decode,
                          uint8_t *dst, size_t dst_stride);

/* Eval path: Resize(resize_to) + CenterCrop(out_h, out_w) of rec into dst
 * (RGB8, stride dst_stride), zero-padded where the crop exceeds the image.
 * When the record already has the resized size (packed with the same
 * shorter-side target, or resize_to == 0) this is a plain crop with no
 * resampling, and for JPEG only the window is decoded: the bytes equal the
 * full decode's. Otherwise the whole record is decoded (JPEG: at the
 * smallest DCT scale still >= the resized size) and the crop's window of
 * its resize to rw x rh is computed directly (pv__resample_rgb8_window:
 * the same bytes as resizing everything and cropping, with memory bounded
 * by the output whatever the aspect ratio): exact for RAW/ZSTD, close for
 * DCT-scaled JPEG.
 * Returns PV_OK, PV_ERR_INVALID_ARG, PV_ERR_DECODE, PV_ERR_LIMIT,
 * PV_ERR_CANCELLED, PV_ERR_NOMEM. */
pv_status pv__sample_eval(pv_sampler *s, const pv_record *rec, uint32_t resize_to,
                          uint32_t out_w, uint32_t out_h, pv_filter filter, uint8_t *dst,
                          size_t dst_stride);

/* pv__sample_crop and pv__sample_eval writing the batch element out
 * (image/convert.h: uint8 or normalized float32, HWC or CHW; out->width x
 * out->height is the output size) in its final dtype and layout: the
 * resampler's last pass writes it (pv__resample_rgb8_out), the plain-crop
 * paths convert each row as they place it. The bytes equal the RGB8 result
 * converted by pv__pix_out_rows. Same returns. */
pv_status pv__sample_crop_to(pv_sampler *s, const pv_record *rec, pv_crop box, int flip,
                             pv_filter filter, int full_decode, const pv_pix_out *out);
pv_status pv__sample_eval_to(pv_sampler *s, const pv_record *rec, uint32_t resize_to,
                             pv_filter filter, const pv_pix_out *out);

/* Pipeline "none" is pv__sample_crop with the whole record as the box and
 * no flip: the record resized to the output size (identity when the record
 * already has it, e.g. datasets packed at a fixed size). */

#endif /* PV_AUGMENT_H */
