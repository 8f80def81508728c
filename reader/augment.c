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
#include "augment.h"
#include "jpeg_dec.h"
#include "jpeg_splice.h"
#include "read_limits.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

/* ---- sampler ------------------------------------------------------------------ */

/* One JPEG decode request and its result. It lives in the sampler, so
 * nothing the setjmp-ing function modifies is one of its locals (C11
 * 7.13.2.1p3). */
typedef struct pv_jpeg_job {
  /* in */
  const pv_record *rec;
  int scale_num;         /* DCT scaling scale_num / 8 */
  uint32_t x, y, w, h;   /* wanted region of the scaled image */
  int full;              /* decode everything and finish_decompress */
  const uint8_t *src;    /* the JPEG to decode: the record or a splice of it */
  size_t src_len;
  uint32_t src_w, src_h; /* its size (full scale) */
  uint32_t sx, sy;       /* its origin in the scaled record */
  pv_jpeg_facts facts;   /* the record's header facts, when src is a splice
                            (the limits are the record's, not the splice's) */
  /* out */
  uint32_t ox, ow;       /* columns actually decoded: [ox, ox + ow) */
  uint8_t *pixels;       /* rows y .. y + h - 1, ow * 3 bytes each, packed */
  pv_status st;
} pv_jpeg_job;

struct pv_sampler {
  pv_jdec jd;            /* the libjpeg object and its limits (jpeg_dec.h) */
  pv_limits limits;
  ZSTD_DCtx *zstd;
  pv_resampler *rs;
  uint8_t *buf;          /* decoded pixels */
  size_t buf_cap;
  uint8_t *buf2;         /* eval: the resized image */
  size_t buf2_cap;
  JSAMPROW *rows;
  size_t rows_cap;
  pv_jpeg_job job;
  pv_jpeg_splice_buf splice;
  int no_splice;         /* tests: force the unspliced path */
  uint64_t splices;      /* decodes served from a splice */
  char msg[256];         /* jpeg_run's message scratch (not a local of it) */
  char last_error[256];
};

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
  pv_limits_init(&s->limits);
  if (pv__jdec_create(&s->jd) != PV_OK || !(s->zstd = ZSTD_createDCtx()) ||
      pv__resampler_create(&s->rs) != PV_OK) {
    pv__sampler_destroy(s);
    return PV_ERR_NOMEM;
  }
  *out = s;
  return PV_OK;
}

void pv__sampler_destroy(pv_sampler *s) {
  if (!s) return;
  pv__jdec_destroy(&s->jd);
  ZSTD_freeDCtx(s->zstd);
  pv__resampler_destroy(s->rs);
  free(s->buf);
  free(s->buf2);
  free(s->rows);
  pv__jpeg_splice_buf_free(&s->splice);
  free(s);
}

void pv__sampler_reset(pv_sampler *s) {
  if (!s) return;
  /* Valid in any state of a decompress cycle (libjpeg's jpeg_abort). The
   * resampler needs nothing: its tables depend only on sizes and are
   * complete before it reads a pixel. */
  if (s->jd.created) jpeg_abort_decompress(&s->jd.ci);
  ZSTD_DCtx_reset(s->zstd, ZSTD_reset_session_only); /* parameters (limits) stay */
}

void pv__sampler_set_splice(pv_sampler *s, int on) {
  if (s) s->no_splice = !on;
}

pv_status pv__sampler_set_limits(pv_sampler *s, const pv_limits *l) {
  if (!s) return PV_ERR_INVALID_ARG;
  return pv__limits_resolve(l, &s->limits);
}

void pv__sampler_set_cancel(pv_sampler *s, int (*cancel)(void *ctx), void *ctx) {
  if (!s) return;
  s->jd.cancel = cancel;
  s->jd.cancel_ctx = ctx;
}

uint64_t pv__sampler_splices(const pv_sampler *s) { return s ? s->splices : 0; }

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

/* The body of a JPEG decode; every exit goes through s->job.st. On a
 * libjpeg error or warning it longjmps back here and reports the message. */
static void jpeg_run(pv_sampler *s) {
  pv_jpeg_job *j = &s->job;
  j_decompress_ptr ci = &s->jd.ci;
  if (setjmp(s->jd.err.jb)) {
    const pv_status st = pv__jdec_error(&s->jd, s->msg, sizeof s->msg);
    j->st = failf(s, st, "record %llu: %s", (unsigned long long)j->rec->index, s->msg);
    return;
  }
  /* Header, then the limits of the record (for a splice: the record's
   * facts and scans, not the splice's), then TurboJPEG's defaults: accurate
   * integer IDCT, fancy upsampling, RGB out. */
  const pv_status hs = pv__jdec_read_header(
      &s->jd, &s->limits, j->src, j->src_len, j->src != j->rec->data ? &j->facts : NULL,
      j->rec->data, j->rec->length, s->msg, sizeof s->msg);
  if (hs != PV_OK) {
    j->st = failf(s, hs, "record %llu: %s", (unsigned long long)j->rec->index, s->msg);
    return;
  }
  if (ci->image_width != j->src_w || ci->image_height != j->src_h) {
    j->st = failf(s, PV_ERR_DECODE, "record %llu: JPEG is %ux%u, record table says %ux%u",
                  (unsigned long long)j->rec->index, (unsigned)ci->image_width,
                  (unsigned)ci->image_height, j->src_w, j->src_h);
    return;
  }
  ci->scale_num = (unsigned)j->scale_num;
  ci->scale_denom = 8;
  jpeg_start_decompress(ci);
  if (ci->output_components != 3) {
    j->st = failf(s, PV_ERR_DECODE, "record %llu: JPEG: %d output components",
                  (unsigned long long)j->rec->index, ci->output_components);
    return;
  }
  if ((uint64_t)j->x + j->w > ci->output_width || (uint64_t)j->y + j->h > ci->output_height ||
      !j->w || !j->h) {
    j->st = failf(s, PV_ERR_INVALID_ARG, "record %llu: region outside the scaled image",
                  (unsigned long long)j->rec->index);
    return;
  }
  JDIMENSION xoff = j->x, cw = j->w;
  if (cw < ci->output_width) jpeg_crop_scanline(ci, &xoff, &cw); /* widens to iMCU bounds */
  else xoff = 0, cw = ci->output_width;
  j->ox = xoff;
  j->ow = cw;
  const size_t row = (size_t)cw * 3;
  if (grow((void **)&s->buf, &s->buf_cap, row * j->h) ||
      grow((void **)&s->rows, &s->rows_cap, (size_t)j->h * sizeof *s->rows)) {
    j->st = failf(s, PV_ERR_NOMEM, "out of memory");
    return;
  }
  j->pixels = s->buf;
  for (uint32_t r = 0; r < j->h; r++) s->rows[r] = s->buf + (size_t)r * row;
  if (j->y > 0 && jpeg_skip_scanlines(ci, j->y) != j->y) {
    j->st = failf(s, PV_ERR_DECODE, "record %llu: JPEG: could not skip to row %u",
                  (unsigned long long)j->rec->index, j->y);
    return;
  }
  uint32_t done = 0;
  while (done < j->h) {
    JDIMENSION n = jpeg_read_scanlines(ci, s->rows + done, j->h - done);
    if (n == 0) break;
    done += n;
  }
  if (done < j->h) {
    j->st = failf(s, PV_ERR_DECODE, "record %llu: JPEG: decoder stopped at row %u of %u",
                  (unsigned long long)j->rec->index, j->y + done, j->y + j->h);
    return;
  }
  if (j->full && ci->output_scanline == ci->output_height)
    jpeg_finish_decompress(ci); /* up to EOI: trailing damage is an error too */
  j->st = PV_OK;
}

/* Margin, in scaled pixels, kept around a region when splicing: libjpeg's
 * fancy upsampling of 2x-subsampled chroma reads one chroma sample (two
 * pixels) beyond each output pixel, so with 3 pixels of real neighbours on
 * every side the region's bytes equal those of the whole-image decode. */
#define PV_SPLICE_MARGIN 3

/* When rec's JPEG has usable restart markers and the region [x, x + w) x
 * [y, y + h) of the image scaled by num/8 (plus the margin) is smaller
 * than the image, points the job at a splice of just the MCU rectangle
 * covering it (jpeg_splice.h). Otherwise leaves the job on the record. */
static void plan_splice(pv_sampler *s, const pv_record *rec, int num) {
  pv_jpeg_job *j = &s->job;
  pv_jpeg_layout L;
  if (j->full || !pv__jpeg_layout(rec->data, rec->length, &L) ||
      L.width != rec->width || L.height != rec->height)
    return;
  /* MCU size at this scale: a whole number of pixels (mcu_w is 8 or 16). */
  const uint32_t mw = L.mcu_w * (unsigned)num / 8, mh = L.mcu_h * (unsigned)num / 8;
  const uint32_t xa = j->x > PV_SPLICE_MARGIN ? j->x - PV_SPLICE_MARGIN : 0;
  const uint32_t ya = j->y > PV_SPLICE_MARGIN ? j->y - PV_SPLICE_MARGIN : 0;
  const uint64_t xb = (uint64_t)j->x + j->w + PV_SPLICE_MARGIN;
  const uint64_t yb = (uint64_t)j->y + j->h + PV_SPLICE_MARGIN;
  uint32_t c0 = xa / mw, r0 = ya / mh;
  uint64_t c1 = (xb + mw - 1) / mw, r1 = (yb + mh - 1) / mh;
  c0 -= c0 % L.restart;
  c1 = (c1 + L.restart - 1) / L.restart * L.restart;
  if (c1 > L.mcus_per_row) c1 = L.mcus_per_row;
  if (r1 > L.mcu_rows) r1 = L.mcu_rows;
  if (c0 == 0 && c1 == L.mcus_per_row && r0 == 0 && r1 == L.mcu_rows) return;
  size_t len;
  uint32_t w, h;
  if (!pv__jpeg_splice(rec->data, rec->length, &L, c0, (uint32_t)c1, r0, (uint32_t)r1,
                       &s->splice, &len, &w, &h))
    return;
  pv__jpeg_layout_facts(&L, &j->facts);
  j->src = s->splice.out;
  j->src_len = len;
  j->src_w = w;
  j->src_h = h;
  j->sx = c0 * mw;
  j->sy = r0 * mh;
  j->x -= j->sx;
  j->y -= j->sy;
}

static pv_status jpeg_region_try(pv_sampler *s, const pv_record *rec, int scale_num, uint32_t x,
                                 uint32_t y, uint32_t w, uint32_t h, int full, int splice) {
  pv_jpeg_job *j = &s->job;
  memset(j, 0, sizeof *j);
  j->rec = rec;
  j->scale_num = scale_num;
  j->x = x;
  j->y = y;
  j->w = w;
  j->h = h;
  j->full = full;
  j->src = rec->data;
  j->src_len = rec->length;
  j->src_w = rec->width;
  j->src_h = rec->height;
  if (splice) plan_splice(s, rec, scale_num);
  j->st = PV_ERR_DECODE;
  jpeg_run(s);
  /* Resets the object for the next record whatever happened (stopped early,
   * error, or already finished: then it is a no-op). */
  jpeg_abort_decompress(&s->jd.ci);
  j->ox += j->sx;
  if (j->st == PV_OK && j->src != rec->data) s->splices++;
  return j->st;
}

/* Decodes rows [y, y + h) and at least columns [x, x + w) of rec scaled by
 * scale_num / 8 into s->buf (see pv_jpeg_job for what comes back): from a
 * splice when the record allows it, else (or when the splice does not
 * decode) from the record itself, which then either works or names the
 * real damage. Both give the same bytes for the region. */
static pv_status jpeg_region(pv_sampler *s, const pv_record *rec, int scale_num, uint32_t x,
                             uint32_t y, uint32_t w, uint32_t h, int full) {
  pv_status st = jpeg_region_try(s, rec, scale_num, x, y, w, h, full, !s->no_splice);
  /* (A limit or a cancel holds for the record whatever is decoded.) */
  if (st != PV_OK && st != PV_ERR_NOMEM && st != PV_ERR_LIMIT && st != PV_ERR_CANCELLED &&
      s->job.src != rec->data)
    st = jpeg_region_try(s, rec, scale_num, x, y, w, h, full, 0);
  return st;
}

/* Size of the image scaled by num/8, as libjpeg computes it. */
static uint32_t scaled_dim(uint32_t n, int num) {
  return (uint32_t)(((uint64_t)n * (unsigned)num + 7) / 8);
}

/* Smallest DCT scale num/8 at which a w x h box still has at least
 * out_w x out_h pixels, so the resampler only shrinks or keeps what DCT
 * scaling already shrank; 8 when even the full size is smaller. Only 1/8,
 * 2/8 and 4/8 are considered: libjpeg-turbo has SIMD inverse DCTs for
 * those (and 8/8), while 3/8, 5/8, 6/8 and 7/8 run scalar IDCTs that are
 * slower than a full-size SIMD decode. */
static int pick_scale(uint32_t w, uint32_t h, uint32_t out_w, uint32_t out_h) {
  for (int num = 1; num < 8; num *= 2)
    if ((uint64_t)w * (unsigned)num >= (uint64_t)out_w * 8 &&
        (uint64_t)h * (unsigned)num >= (uint64_t)out_h * 8)
      return num;
  return 8;
}

/* Pixels of a RAW record (in place) or of a ZSTD record (decompressed into
 * s->buf): width * height * 3 bytes, rows packed. */
static pv_status record_pixels(pv_sampler *s, const pv_record *rec, const uint8_t **px) {
  const uint64_t size = (uint64_t)rec->width * rec->height * 3;
  if (rec->codec == PV_CODEC_RAW) {
    if (rec->length != size)
      return failf(s, PV_ERR_DECODE, "record %llu: raw payload is %u bytes, expected %llu",
                   (unsigned long long)rec->index, rec->length, (unsigned long long)size);
    *px = rec->data;
    return PV_OK;
  }
  /* Spec 3.6: one frame declaring exactly size bytes, nothing after it;
   * its window within max_decoder_memory (checked before allocating). */
  pv_status st = pv__zstd_check(&s->limits, rec->data, rec->length, size, s->msg, sizeof s->msg);
  if (st != PV_OK)
    return failf(s, st, "record %llu: %s", (unsigned long long)rec->index, s->msg);
  if ((size_t)size != size || grow((void **)&s->buf, &s->buf_cap, (size_t)size))
    return failf(s, PV_ERR_NOMEM, "out of memory");
  size_t r = ZSTD_decompressDCtx(s->zstd, s->buf, (size_t)size, rec->data, rec->length);
  if (ZSTD_isError(r) || r != size)
    return failf(s, PV_ERR_DECODE, "record %llu: zstd: %s", (unsigned long long)rec->index,
                 ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short frame");
  *px = s->buf;
  return PV_OK;
}

static pv_status resample(pv_sampler *s, pv_filter filter, const uint8_t *src, uint32_t sw,
                          uint32_t sh, size_t sstride, uint32_t bx, uint32_t by, uint32_t bw,
                          uint32_t bh, uint8_t *dst, uint32_t dw, uint32_t dh, size_t dstride,
                          int flip) {
  /* flip: the resampler emits the mirror image directly (same bytes as
   * resize-then-mirror, no extra pass). */
  pv_status st = (flip ? pv__resample_rgb8_flip : pv__resample_rgb8)(
      s->rs, filter, src, sw, sh, sstride, bx, by, bw, bh, dst, dw, dh, dstride);
  if (st != PV_OK) return failf(s, st, "resample %ux%u -> %ux%u failed", bw, bh, dw, dh);
  return PV_OK;
}

static pv_status check_record(pv_sampler *s, const pv_record *rec) {
  if (!rec->data || rec->width == 0 || rec->height == 0)
    return failf(s, PV_ERR_INVALID_ARG, "empty record");
  if (rec->codec != PV_CODEC_RAW && rec->codec != PV_CODEC_JPEG && rec->codec != PV_CODEC_ZSTD)
    return failf(s, PV_ERR_DECODE, "record %llu: unknown codec %u",
                 (unsigned long long)rec->index, rec->codec);
  /* Declared size and payload length against the limits, before any
   * buffer is sized from them (the same check as pv_decoder_decode's). */
  pv_status st = pv__limit_record(&s->limits, rec->width, rec->height, rec->length, s->msg,
                                  sizeof s->msg);
  if (st != PV_OK)
    return failf(s, st, "record %llu: %s", (unsigned long long)rec->index, s->msg);
  return PV_OK;
}

pv_status pv__sample_crop(pv_sampler *s, const pv_record *rec, pv_crop box, uint32_t out_w,
                          uint32_t out_h, int flip, pv_filter filter, int full_decode,
                          uint8_t *dst, size_t dst_stride) {
  if (!s) return PV_ERR_INVALID_ARG;
  s->last_error[0] = 0;
  if (!rec || !dst || !out_w || !out_h || dst_stride < (size_t)out_w * 3)
    return failf(s, PV_ERR_INVALID_ARG, "invalid arguments");
  pv_status st = check_record(s, rec);
  if (st != PV_OK) return st;
  if (!box.w || !box.h || (uint64_t)box.x + box.w > rec->width ||
      (uint64_t)box.y + box.h > rec->height)
    return failf(s, PV_ERR_INVALID_ARG, "box (%u,%u %ux%u) outside the %ux%u record", box.x,
                 box.y, box.w, box.h, rec->width, rec->height);

  if (rec->codec != PV_CODEC_JPEG) {
    const uint8_t *px;
    if ((st = record_pixels(s, rec, &px)) != PV_OK) return st;
    st = resample(s, filter, px, rec->width, rec->height, (size_t)rec->width * 3, box.x, box.y,
                  box.w, box.h, dst, out_w, out_h, dst_stride, flip);
  } else if (full_decode) {
    /* The reference: everything at full size, then crop + resize. */
    if ((st = jpeg_region(s, rec, 8, 0, 0, rec->width, rec->height, 1)) != PV_OK) return st;
    const pv_jpeg_job *j = &s->job;
    st = resample(s, filter, j->pixels, j->ow, j->h, (size_t)j->ow * 3, box.x, box.y, box.w,
                  box.h, dst, out_w, out_h, dst_stride, flip);
  } else {
    /* The box in the image scaled by num/8, edges rounded to the nearest
     * scaled pixel boundary (error <= 4/num source pixels per edge; none
     * at num = 8). */
    const int num = pick_scale(box.w, box.h, out_w, out_h);
    const uint32_t sw = scaled_dim(rec->width, num), sh = scaled_dim(rec->height, num);
    uint32_t x0 = (uint32_t)(((uint64_t)box.x * (unsigned)num + 4) / 8);
    uint32_t y0 = (uint32_t)(((uint64_t)box.y * (unsigned)num + 4) / 8);
    uint32_t x1 = (uint32_t)(((uint64_t)(box.x + box.w) * (unsigned)num + 4) / 8);
    uint32_t y1 = (uint32_t)(((uint64_t)(box.y + box.h) * (unsigned)num + 4) / 8);
    if (x1 > sw) x1 = sw;
    if (y1 > sh) y1 = sh;
    if (x0 >= x1) x0 = x1 - 1;
    if (y0 >= y1) y0 = y1 - 1;
    /* One more column each side: see pv__sample_eval. At num = 8 this
     * makes the result the full decode's bytes. */
    const uint32_t dx0 = x0 > 0 ? x0 - 1 : 0, dx1 = x1 < sw ? x1 + 1 : sw;
    if ((st = jpeg_region(s, rec, num, dx0, y0, dx1 - dx0, y1 - y0, 0)) != PV_OK) return st;
    const pv_jpeg_job *j = &s->job;
    st = resample(s, filter, j->pixels, j->ow, j->h, (size_t)j->ow * 3, x0 - j->ox, 0, x1 - x0,
                  y1 - y0, dst, out_w, out_h, dst_stride, flip);
  }
  return st;
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

pv_status pv__sample_eval(pv_sampler *s, const pv_record *rec, uint32_t resize_to,
                          uint32_t out_w, uint32_t out_h, pv_filter filter, uint8_t *dst,
                          size_t dst_stride) {
  if (!s) return PV_ERR_INVALID_ARG;
  s->last_error[0] = 0;
  if (!rec || !dst || !out_w || !out_h || dst_stride < (size_t)out_w * 3)
    return failf(s, PV_ERR_INVALID_ARG, "invalid arguments");
  pv_status st = check_record(s, rec);
  if (st != PV_OK) return st;
  pv_eval_geom g;
  pv__eval_geometry(rec->width, rec->height, resize_to, out_w, out_h, &g);
  if (g.rw == 0 || g.rh == 0) return failf(s, PV_ERR_INVALID_ARG, "resize to an empty image");

  /* The window's intersection with the resized image. */
  const int64_t x0 = g.cx < 0 ? 0 : g.cx, y0 = g.cy < 0 ? 0 : g.cy;
  const int64_t x1 = (int64_t)g.cx + out_w > g.rw ? g.rw : (int64_t)g.cx + out_w;
  const int64_t y1 = (int64_t)g.cy + out_h > g.rh ? g.rh : (int64_t)g.cy + out_h;

  if (g.rw == rec->width && g.rh == rec->height) {
    /* Fast path: no resize, only the window is decoded. */
    if (rec->codec != PV_CODEC_JPEG) {
      const uint8_t *px;
      if ((st = record_pixels(s, rec, &px)) != PV_OK) return st;
      copy_window(px, (size_t)rec->width * 3, 0, 0, g.rw, g.rh, g.cx, g.cy, out_w, out_h, dst,
                  dst_stride);
      return PV_OK;
    }
    /* One extra column each side keeps the window's edge columns away from
     * the edges of the cropped decode, where libjpeg's fancy upsampling
     * replicates instead of reading the neighbour: the result is then the
     * full decode's bytes. */
    if (x1 <= x0 || y1 <= y0) {
      copy_window(NULL, 0, 0, 0, g.rw, g.rh, g.cx, g.cy, out_w, out_h, dst, dst_stride);
      return PV_OK;
    }
    const uint32_t dx0 = x0 > 0 ? (uint32_t)x0 - 1 : 0;
    const uint32_t dx1 = x1 < g.rw ? (uint32_t)x1 + 1 : g.rw;
    if ((st = jpeg_region(s, rec, 8, dx0, (uint32_t)y0, dx1 - dx0, (uint32_t)(y1 - y0), 0)) !=
        PV_OK)
      return st;
    const pv_jpeg_job *j = &s->job;
    copy_window(j->pixels, (size_t)j->ow * 3, j->ox, y0, g.rw, g.rh, g.cx, g.cy, out_w, out_h,
                dst, dst_stride);
    return PV_OK;
  }

  /* General case: Resize to rw x rh then the window, computed as the
   * window alone: pv__resample_rgb8_window gives exactly the bytes of the
   * whole resize cropped to the window, without materialising the rw x rh
   * image (16768000 x 256 for a 65500x1 record at Resize(256)). The record
   * is decoded whole, at the DCT scale that still covers rw x rh. */
  if (x1 <= x0 || y1 <= y0) {
    copy_window(NULL, 0, 0, 0, g.rw, g.rh, g.cx, g.cy, out_w, out_h, dst, dst_stride);
    return PV_OK;
  }
  const uint8_t *px;
  uint32_t pw, ph;
  if (rec->codec == PV_CODEC_JPEG) {
    int num = 8;
    for (int n = 1; n < 8; n++)
      if (scaled_dim(rec->width, n) >= g.rw && scaled_dim(rec->height, n) >= g.rh) {
        num = n;
        break;
      }
    const uint32_t sw = scaled_dim(rec->width, num), sh = scaled_dim(rec->height, num);
    if ((st = jpeg_region(s, rec, num, 0, 0, sw, sh, 1)) != PV_OK) return st;
    px = s->job.pixels;
    pw = s->job.ow;
    ph = s->job.h;
  } else {
    if ((st = record_pixels(s, rec, &px)) != PV_OK) return st;
    pw = rec->width;
    ph = rec->height;
  }
  const uint32_t ww = (uint32_t)(x1 - x0), wh = (uint32_t)(y1 - y0);
  if (g.cx >= 0 && g.cy >= 0) {
    /* The crop lies inside the resized image: the window is the output. */
    st = pv__resample_rgb8_window(s->rs, filter, px, pw, ph, (size_t)pw * 3, 0, 0, pw, ph, g.rw,
                                  g.rh, (uint32_t)x0, (uint32_t)y0, dst, ww, wh, dst_stride);
    if (st != PV_OK)
      return failf(s, st, "resample %ux%u -> window %ux%u of %ux%u failed", pw, ph, ww, wh, g.rw,
                   g.rh);
    return PV_OK;
  }
  /* Padded: the window into scratch (at most out_w x out_h), then placed. */
  const uint64_t need = (uint64_t)ww * wh * 3;
  if ((size_t)need != need || grow((void **)&s->buf2, &s->buf2_cap, (size_t)need))
    return failf(s, PV_ERR_NOMEM, "out of memory");
  st = pv__resample_rgb8_window(s->rs, filter, px, pw, ph, (size_t)pw * 3, 0, 0, pw, ph, g.rw,
                                g.rh, (uint32_t)x0, (uint32_t)y0, s->buf2, ww, wh,
                                (size_t)ww * 3);
  if (st != PV_OK)
    return failf(s, st, "resample %ux%u -> window %ux%u of %ux%u failed", pw, ph, ww, wh, g.rw,
                 g.rh);
  copy_window(s->buf2, (size_t)ww * 3, x0, y0, g.rw, g.rh, g.cx, g.cy, out_w, out_h, dst,
              dst_stride);
  return PV_OK;
}
