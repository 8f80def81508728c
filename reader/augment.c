/* augment.c - per-sample transforms of the loader (see augment.h).
 *
 * Train: RandomResizedCrop box -> decode only what the box needs -> resize
 * -> optional mirror. Eval: Resize(shorter side) + CenterCrop, a plain crop
 * when the record already has the resized size.
 *
 * JPEG records go through the libjpeg API rather than TurboJPEG because only
 * it offers partial decoding: DCT scaling (scale_num / 8), jpeg_crop_scanline
 * for the columns and jpeg_skip_scanlines for the rows above the box; we stop
 * reading after the last row the box needs (jpeg_abort_decompress). All
 * of that still Huffman-decodes every MCU up to the box's last row, and
 * Huffman decoding is most of a decode's time; a record with row-aligned
 * restart markers is first cut down to the intervals covering the box
 * (plan_splice, jpeg_splice.h), which removes that work too.
 *
 * Steady state: the decompress object, the zstd context, the resampler and
 * the pixel buffers live in the pv_sampler and only grow. libjpeg itself
 * still takes its per-image working memory from its pools at
 * jpeg_start_decompress and returns it at jpeg_abort/finish (TurboJPEG does
 * the same); we cannot avoid that without replacing its memory manager.
 */
/* augment.c - per-sample transforms of the loader (see augment.h).
 *
 * Train: RandomResizedCrop box -> decode only what the box needs -> resize
 * -> optional mirror. Eval: Resize(shorter side) + CenterCrop, a plain crop
 * when the record already has the resized size.
 *
 * Decoding is the codec table's (codec/codec.h): the sampler admits the
 * record (pv__codec_admit: codec, size, limits), checks its box, and asks
 * the codec for the region the box needs at the smallest DCT scale the
 * codec offers that still covers the output (JPEG: partial decoding, from a
 * splice of the restart intervals the box covers when the record has them;
 * raw: the payload itself; zstd: the whole image). Whatever rectangle the
 * codec returns is the source image of the resize. Nothing here knows a
 * codec.
 *
 * Steady state: the codec context, the resampler and the pixel buffers live
 * in the pv_sampler and only grow.
 */
#include "augment.h"
#include "codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sampler ------------------------------------------------------------------ */

struct pv_sampler {
  pv__codec_ctx *codec;  /* decoding state and the limits (codec.h) */
  pv_resampler *rs;
  uint8_t *buf2;         /* eval: the resized window when padded */
  size_t buf2_cap;
  uint8_t *row;          /* eval: one padded output row on its way to a pv_pix_out */
  size_t row_cap;
  char last_error[256];
};

static pv_status failf(pv_sampler *s, pv_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static pv_status failf(pv_sampler *s, pv_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
  va_end(ap);
  return st;
}

pv_status pv__sampler_create(pv_sampler **out) {
  if (!out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pv_sampler *s = calloc(1, sizeof *s);
  if (!s) return PV_ERR_NOMEM;
  if (pv__codec_ctx_create(&s->codec) != PV_OK || pv__resampler_create(&s->rs) != PV_OK) {
    pv__sampler_destroy(s);
    return PV_ERR_NOMEM;
  }
  *out = s;
  return PV_OK;
}

void pv__sampler_destroy(pv_sampler *s) {
  if (!s) return;
  pv__codec_ctx_destroy(s->codec);
  pv__resampler_destroy(s->rs);
  free(s->buf2);
  free(s->row);
  free(s);
}

void pv__sampler_reset(pv_sampler *s) {
  if (!s) return;
  /* The resampler needs nothing: its tables depend only on sizes and are
   * complete before it reads a pixel. */
  pv__codec_ctx_reset(s->codec);
}

void pv__sampler_set_splice(pv_sampler *s, int on) {
  if (s) pv__codec_ctx_set_splice(s->codec, on);
}

void pv__sampler_set_jpeg_fast(pv_sampler *s, int on) {
  if (s) pv__codec_ctx_set_jpeg_fast(s->codec, on);
}

pv_status pv__sampler_set_limits(pv_sampler *s, const pv_limits *l) {
  if (!s) return PV_ERR_INVALID_ARG;
  return pv__codec_ctx_set_limits(s->codec, l);
}

void pv__sampler_set_cancel(pv_sampler *s, int (*cancel)(void *ctx), void *ctx) {
  if (s) pv__codec_ctx_set_cancel(s->codec, cancel, ctx);
}

uint64_t pv__sampler_splices(const pv_sampler *s) {
  return s ? pv__codec_ctx_splices(s->codec) : 0;
}

const char *pv__sampler_last_error(const pv_sampler *s) { return s ? s->last_error : ""; }

/* Grows *buf to at least need bytes (contents not kept); 0 on success. */
static int grow(void **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  void *p = malloc(need);
  if (!p) return -1;
  free(*buf);
  *buf = p;
  *cap = need;
  return 0;
}

/* The codec's failure, named by record. */
static pv_status codec_fail(pv_sampler *s, const pv_record *rec, pv_status st) {
  return failf(s, st, "record %llu: %s", (unsigned long long)rec->index,
               pv__codec_ctx_error(s->codec));
}

/* The rectangle of rec scaled by num/8 that covers [x, x + w) x [y, y + h)
 * (the codec's choice, see pv__region), decoded. */
static pv_status region(pv_sampler *s, const pv__codec *k, const pv_record *rec,
                        const pv__payload *p, int num, uint32_t x, uint32_t y, uint32_t w,
                        uint32_t h, int full, pv__region *out) {
  const pv__region_req rq = {num, x, y, w, h, full};
  pv_status st = k->region(s->codec, p, &rq, out);
  return st == PV_OK ? PV_OK : codec_fail(s, rec, st);
}

/* Smallest scale num/8 of `scales` (bit n: n/8) at which a w x h box still
 * has at least out_w x out_h pixels, so the resampler only shrinks or keeps
 * what DCT scaling already shrank; 8 when even the full size is smaller. */
static int pick_scale(unsigned scales, uint32_t w, uint32_t h, uint32_t out_w, uint32_t out_h) {
  for (int num = 1; num < 8; num++)
    if ((scales >> num & 1) && (uint64_t)w * (unsigned)num >= (uint64_t)out_w * 8 &&
        (uint64_t)h * (unsigned)num >= (uint64_t)out_h * 8)
      return num;
  return 8;
}

static pv_status resample(pv_sampler *s, pv_filter filter, const uint8_t *src, uint32_t sw,
                          uint32_t sh, size_t sstride, uint32_t bx, uint32_t by, uint32_t bw,
                          uint32_t bh, const pv_pix_out *out, int flip) {
  /* flip: the resampler emits the mirror image directly (same bytes as
   * resize-then-mirror, no extra pass); out: it writes the batch element's
   * dtype and layout from its last pass (no second pass over the pixels). */
  const uint32_t dw = out->width, dh = out->height;
  pv_status st = pv__resample_rgb8_out(s->rs, filter, src, sw, sh, sstride, bx, by, bw, bh, dw,
                                       dh, 0, 0, flip, out);
  if (st != PV_OK) return failf(s, st, "resample %ux%u -> %ux%u failed", bw, bh, dw, dh);
  return PV_OK;
}

/* The codec's admission of rec (codec, declared size, pv__limit_record),
 * the same as pv_decoder_decode's, before anything is sized from it. */
static pv_status admit(pv_sampler *s, const pv_record *rec, pv__payload *p, const pv__codec **k) {
  p->data = rec->data;
  p->length = rec->length;
  p->width = rec->width;
  p->height = rec->height;
  pv_status st = pv__codec_admit(s->codec, rec->codec, p, k);
  return st == PV_OK ? PV_OK : codec_fail(s, rec, st);
}

pv_status pv__sample_crop(pv_sampler *s, const pv_record *rec, pv_crop box, uint32_t out_w,
                          uint32_t out_h, int flip, pv_filter filter, int full_decode,
                          uint8_t *dst, size_t dst_stride) {
  if (!s) return PV_ERR_INVALID_ARG;
  s->last_error[0] = 0;
  if (!rec || !dst || !out_w || !out_h || dst_stride < (size_t)out_w * 3)
    return failf(s, PV_ERR_INVALID_ARG, "invalid arguments");
  pv_pix_out o;
  pv__pix_out_init(&o, PV_PIX_RGB8, dst, out_w, out_h, dst_stride, NULL, NULL);
  return pv__sample_crop_to(s, rec, box, flip, filter, full_decode, &o);
}

pv_status pv__sample_crop_to(pv_sampler *s, const pv_record *rec, pv_crop box, int flip,
                             pv_filter filter, int full_decode, const pv_pix_out *out) {
  if (!s) return PV_ERR_INVALID_ARG;
  s->last_error[0] = 0;
  if (!rec || !out || !out->base || !out->width || !out->height ||
      (out->format == PV_PIX_RGB8 && out->stride < (size_t)out->width * 3))
    return failf(s, PV_ERR_INVALID_ARG, "invalid arguments");
  const uint32_t out_w = out->width, out_h = out->height;
  pv__payload p;
  const pv__codec *k;
  pv_status st = admit(s, rec, &p, &k);
  if (st != PV_OK) return st;
  if (!box.w || !box.h || (uint64_t)box.x + box.w > rec->width ||
      (uint64_t)box.y + box.h > rec->height)
    return failf(s, PV_ERR_INVALID_ARG, "box (%u,%u %ux%u) outside the %ux%u record", box.x,
                 box.y, box.w, box.h, rec->width, rec->height);

  pv__region r;
  if (full_decode) {
    /* The reference: everything at full size, then crop + resize. */
    if ((st = region(s, k, rec, &p, 8, 0, 0, rec->width, rec->height, 1, &r)) != PV_OK) return st;
    return resample(s, filter, r.pixels, r.w, r.h, r.stride, box.x - r.x, box.y - r.y, box.w,
                    box.h, out, flip);
  }
  /* The box in the image scaled by num/8, edges rounded to the nearest
   * scaled pixel boundary (error <= 4/num source pixels per edge; none at
   * num = 8). */
  const int num = pick_scale(k->fast_scales, box.w, box.h, out_w, out_h);
  const uint32_t sw = pv__codec_scaled_dim(rec->width, num);
  const uint32_t sh = pv__codec_scaled_dim(rec->height, num);
  uint32_t x0 = (uint32_t)(((uint64_t)box.x * (unsigned)num + 4) / 8);
  uint32_t y0 = (uint32_t)(((uint64_t)box.y * (unsigned)num + 4) / 8);
  uint32_t x1 = (uint32_t)(((uint64_t)(box.x + box.w) * (unsigned)num + 4) / 8);
  uint32_t y1 = (uint32_t)(((uint64_t)(box.y + box.h) * (unsigned)num + 4) / 8);
  if (x1 > sw) x1 = sw;
  if (y1 > sh) y1 = sh;
  if (x0 >= x1) x0 = x1 - 1;
  if (y0 >= y1) y0 = y1 - 1;
  /* One more column each side: see pv__sample_eval. At num = 8 this makes
   * a JPEG's result the full decode's bytes. */
  const uint32_t dx0 = x0 > 0 ? x0 - 1 : 0, dx1 = x1 < sw ? x1 + 1 : sw;
  if ((st = region(s, k, rec, &p, num, dx0, y0, dx1 - dx0, y1 - y0, 0, &r)) != PV_OK) return st;
  return resample(s, filter, r.pixels, r.w, r.h, r.stride, x0 - r.x, y0 - r.y, x1 - x0, y1 - y0,
                  out, flip);
}

/* Writes the (out_w x out_h) window at (cx, cy) of an rw x rh image
 * (src, stride sstride; src points at pixel (ox, oy) of the image and
 * covers the window's intersection with it) into dst, zero outside. */
static void copy_window(const uint8_t *src, size_t sstride, int64_t ox, int64_t oy, uint32_t rw,
                        uint32_t rh, int32_t cx, int32_t cy, uint32_t out_w, uint32_t out_h,
                        uint8_t *dst, size_t dstride) {
  const int64_t x0 = cx < 0 ? 0 : cx, x1 = (int64_t)cx + out_w > rw ? rw : (int64_t)cx + out_w;
  for (uint32_t r = 0; r < out_h; r++) {
    uint8_t *d = dst + (size_t)r * dstride;
    const int64_t y = (int64_t)cy + r;
    if (y < 0 || y >= rh || x1 <= x0) {
      memset(d, 0, (size_t)out_w * 3);
      continue;
    }
    const size_t left = (size_t)(x0 - cx), n = (size_t)(x1 - x0);
    memset(d, 0, left * 3);
    memcpy(d + left * 3, src + (size_t)(y - oy) * sstride + (size_t)(x0 - ox) * 3, n * 3);
    memset(d + (left + n) * 3, 0, ((size_t)out_w - left - n) * 3);
  }
}

/* copy_window into the batch element out: RGB8 rows straight in, other
 * formats one padded row at a time through s->row. */
static pv_status place_window(pv_sampler *s, const uint8_t *src, size_t sstride, int64_t ox,
                              int64_t oy, uint32_t rw, uint32_t rh, int32_t cx, int32_t cy,
                              const pv_pix_out *out) {
  const uint32_t out_w = out->width, out_h = out->height;
  if (out->format == PV_PIX_RGB8) {
    copy_window(src, sstride, ox, oy, rw, rh, cx, cy, out_w, out_h, out->base, out->stride);
    return PV_OK;
  }
  if (grow((void **)&s->row, &s->row_cap, (size_t)out_w * 3))
    return failf(s, PV_ERR_NOMEM, "out of memory");
  for (uint32_t y = 0; y < out_h; y++) {
    copy_window(src, sstride, ox, oy, rw, rh, cx, (int32_t)((int64_t)cy + y), out_w, 1, s->row,
                (size_t)out_w * 3);
    pv__pix_out_rows(out, y, 1, s->row, 0);
  }
  return PV_OK;
}

pv_status pv__sample_eval(pv_sampler *s, const pv_record *rec, uint32_t resize_to,
                          uint32_t out_w, uint32_t out_h, pv_filter filter, uint8_t *dst,
                          size_t dst_stride) {
  if (!s) return PV_ERR_INVALID_ARG;
  s->last_error[0] = 0;
  if (!rec || !dst || !out_w || !out_h || dst_stride < (size_t)out_w * 3)
    return failf(s, PV_ERR_INVALID_ARG, "invalid arguments");
  pv_pix_out o;
  pv__pix_out_init(&o, PV_PIX_RGB8, dst, out_w, out_h, dst_stride, NULL, NULL);
  return pv__sample_eval_to(s, rec, resize_to, filter, &o);
}

pv_status pv__sample_eval_to(pv_sampler *s, const pv_record *rec, uint32_t resize_to,
                             pv_filter filter, const pv_pix_out *out) {
  if (!s) return PV_ERR_INVALID_ARG;
  s->last_error[0] = 0;
  if (!rec || !out || !out->base || !out->width || !out->height ||
      (out->format == PV_PIX_RGB8 && out->stride < (size_t)out->width * 3))
    return failf(s, PV_ERR_INVALID_ARG, "invalid arguments");
  const uint32_t out_w = out->width, out_h = out->height;
  pv__payload p;
  const pv__codec *k;
  pv_status st = admit(s, rec, &p, &k);
  if (st != PV_OK) return st;
  pv_eval_geom g;
  pv__eval_geometry(rec->width, rec->height, resize_to, out_w, out_h, &g);
  if (g.rw == 0 || g.rh == 0) return failf(s, PV_ERR_INVALID_ARG, "resize to an empty image");

  /* The window's intersection with the resized image. */
  const int64_t x0 = g.cx < 0 ? 0 : g.cx, y0 = g.cy < 0 ? 0 : g.cy;
  const int64_t x1 = (int64_t)g.cx + out_w > g.rw ? g.rw : (int64_t)g.cx + out_w;
  const int64_t y1 = (int64_t)g.cy + out_h > g.rh ? g.rh : (int64_t)g.cy + out_h;
  if (x1 <= x0 || y1 <= y0) {
    /* Nothing of the image is in the window: the payload is still checked
     * (validate), so that what is accepted does not depend on geometry. */
    if ((st = k->validate(s->codec, &p)) != PV_OK) return codec_fail(s, rec, st);
    return place_window(s, NULL, 0, 0, 0, g.rw, g.rh, g.cx, g.cy, out);
  }

  pv__region r;
  if (g.rw == rec->width && g.rh == rec->height) {
    /* Fast path: no resize, only the window is decoded. One extra column
     * each side keeps the window's edge columns away from the edges of a
     * cropped JPEG decode, where libjpeg's fancy upsampling replicates
     * instead of reading the neighbour: the result is then the full
     * decode's bytes. */
    const uint32_t dx0 = x0 > 0 ? (uint32_t)x0 - 1 : 0;
    const uint32_t dx1 = x1 < g.rw ? (uint32_t)x1 + 1 : g.rw;
    if ((st = region(s, k, rec, &p, 8, dx0, (uint32_t)y0, dx1 - dx0, (uint32_t)(y1 - y0), 0,
                     &r)) != PV_OK)
      return st;
    return place_window(s, r.pixels, r.stride, r.x, r.y, g.rw, g.rh, g.cx, g.cy, out);
  }

  /* General case: Resize to rw x rh then the window, computed as the
   * window alone: pv__resample_rgb8_window gives exactly the bytes of the
   * whole resize cropped to the window, without materialising the rw x rh
   * image (16768000 x 256 for a 65500x1 record at Resize(256)). The record
   * is decoded whole, at the smallest scale of the codec that still covers
   * rw x rh. */
  int num = 8;
  for (int n = 1; n < 8; n++)
    if ((k->scales >> n & 1) && pv__codec_scaled_dim(rec->width, n) >= g.rw &&
        pv__codec_scaled_dim(rec->height, n) >= g.rh) {
      num = n;
      break;
    }
  const uint32_t sw = pv__codec_scaled_dim(rec->width, num);
  const uint32_t sh = pv__codec_scaled_dim(rec->height, num);
  if ((st = region(s, k, rec, &p, num, 0, 0, sw, sh, 1, &r)) != PV_OK) return st;
  const uint8_t *px = r.pixels;
  const uint32_t pw = r.w, ph = r.h;
  const size_t pstride = r.stride;
  const uint32_t ww = (uint32_t)(x1 - x0), wh = (uint32_t)(y1 - y0);
  if (g.cx >= 0 && g.cy >= 0 && ww == out_w && wh == out_h) {
    /* The crop lies inside the resized image: the window is the output. */
    st = pv__resample_rgb8_out(s->rs, filter, px, pw, ph, pstride, 0, 0, pw, ph, g.rw, g.rh,
                               (uint32_t)x0, (uint32_t)y0, 0, out);
    if (st != PV_OK)
      return failf(s, st, "resample %ux%u -> window %ux%u of %ux%u failed", pw, ph, ww, wh, g.rw,
                   g.rh);
    return PV_OK;
  }
  /* Padded: the window into scratch (at most out_w x out_h), then placed. */
  const uint64_t need = (uint64_t)ww * wh * 3;
  if ((size_t)need != need || grow((void **)&s->buf2, &s->buf2_cap, (size_t)need))
    return failf(s, PV_ERR_NOMEM, "out of memory");
  st = pv__resample_rgb8_window(s->rs, filter, px, pw, ph, pstride, 0, 0, pw, ph, g.rw, g.rh,
                                (uint32_t)x0, (uint32_t)y0, s->buf2, ww, wh, (size_t)ww * 3);
  if (st != PV_OK)
    return failf(s, st, "resample %ux%u -> window %ux%u of %ux%u failed", pw, ph, ww, wh, g.rw,
                 g.rh);
  return place_window(s, s->buf2, (size_t)ww * 3, x0, y0, g.rw, g.rh, g.cx, g.cy, out);
}
