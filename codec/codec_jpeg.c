/* codec_jpeg.c - PV_CODEC_JPEG: a complete JPEG stream that decodes to RGB
 * (spec/FORMAT.md 3.6), through the one libjpeg set-up of jpeg_dec.h.
 *
 * One decode function (jpeg_run) serves the three read entries: validate
 * (the header, its limits and its size against the record table), decode
 * (the whole image at full size into the caller's rows, up to EOI) and
 * region (rows [y, y + h) and at least columns [x, x + w) of the image
 * scaled by n/8, libjpeg-turbo's partial decoding: DCT scaling,
 * jpeg_crop_scanline for the columns, jpeg_skip_scanlines for the rows
 * above, and no reading past the last row needed). A record with
 * row-aligned restart markers (pvpack's packer writes them, encode.h) is
 * first cut down to the restart intervals covering the region
 * (jpeg_splice.h), which removes the Huffman decoding of everything else
 * too; its limits are still the record's.
 *
 * libjpeg takes its per-image working memory from its pools at
 * jpeg_start_decompress and returns it at jpeg_abort/finish (TurboJPEG does
 * the same); the context's own buffers only grow.
 */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"
#include "read_limits.h"

/* ---- encode ----------------------------------------------------------------------- */

static pv_status jpeg_encode(pv__codec_enc *e, const uint8_t *rgb, uint32_t width,
                             uint32_t height, size_t stride, const pv__encode_opts *o,
                             uint8_t **out, size_t *len, char *err, size_t cap) {
  const uint8_t *jb = NULL;
  size_t jn = 0;
  pv_status st = pv__jpeg_encode(e->jpeg, rgb, width, height, stride, o->jpeg_quality,
                                 o->jpeg_restart, &jb, &jn, err, cap);
  if (st != PV_OK) return st;
  if (jn > PV_MAX_RECORD_BYTES)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "jpeg record would be %zu bytes", jn);
  uint8_t *p = malloc(jn);
  if (!p) return pv__codec_failf(err, cap, PV_ERR_NOMEM, "out of memory");
  memcpy(p, jb, jn);
  *out = p;
  *len = jn;
  return PV_OK;
}

/* ---- the decode --------------------------------------------------------------------- */

/* The body of every JPEG read; every exit goes through c->job.st. On a
 * libjpeg error or warning it longjmps back here and reports the message. */
static void jpeg_run(pv__codec_ctx *c) {
  pv__jpeg_job *j = &c->job;
  j_decompress_ptr ci = &c->jd.ci;
  if (setjmp(c->jd.err.jb)) {
    j->st = pv__jdec_error(&c->jd, c->msg, sizeof c->msg);
    return;
  }
  /* Header, then the limits of the record (for a splice: the record's
   * facts and scans, not the splice's), then TurboJPEG's defaults: accurate
   * integer IDCT, fancy upsampling, RGB out (region decodes of a fast
   * context: the fast IDCT and plain upsampling instead). */
  const pv__payload *rec = j->rec;
  if ((j->st = pv__jdec_read_header(&c->jd, &c->limits, j->src, j->src_len,
                                    j->src != rec->data ? &j->facts : NULL, rec->data,
                                    rec->length, c->msg, sizeof c->msg)) != PV_OK)
    return;
  if (ci->image_width != j->src_w || ci->image_height != j->src_h) {
    j->st = pv__codec_fail(c, PV_ERR_DECODE, "JPEG is %ux%u, record table says %ux%u",
                           (unsigned)ci->image_width, (unsigned)ci->image_height, j->src_w,
                           j->src_h);
    return;
  }
  if (j->header_only) {
    j->st = PV_OK;
    return;
  }
  ci->scale_num = (unsigned)j->scale_num;
  ci->scale_denom = 8;
  if (j->fast) {
    /* pv__codec_ctx_set_jpeg_fast: TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE. */
    ci->dct_method = JDCT_IFAST;
    ci->do_fancy_upsampling = FALSE;
  }
  jpeg_start_decompress(ci);
  if (ci->output_components != 3) {
    j->st = pv__codec_fail(c, PV_ERR_DECODE, "JPEG: %d output components",
                           ci->output_components);
    return;
  }
  if ((uint64_t)j->x + j->w > ci->output_width || (uint64_t)j->y + j->h > ci->output_height ||
      !j->w || !j->h) {
    j->st = pv__codec_fail(c, PV_ERR_INVALID_ARG, "region outside the scaled image");
    return;
  }
  JDIMENSION xoff = j->x, cw = j->w;
  if (cw < ci->output_width) jpeg_crop_scanline(ci, &xoff, &cw); /* widens to iMCU bounds */
  else xoff = 0, cw = ci->output_width;
  j->ox = xoff;
  j->ow = cw;
  if (j->dst) {
    /* decode: the caller's rows (the whole width: x = 0, w = width). */
    j->pixels = j->dst;
    j->stride = j->dst_stride;
  } else {
    j->stride = (size_t)cw * 3;
    if (pv__codec_grow((void **)&c->buf, &c->buf_cap, j->stride * j->h)) {
      j->st = pv__codec_fail(c, PV_ERR_NOMEM, "out of memory");
      return;
    }
    j->pixels = c->buf;
  }
  if (pv__codec_grow(&c->rows, &c->rows_cap, (size_t)j->h * sizeof(JSAMPROW))) {
    j->st = pv__codec_fail(c, PV_ERR_NOMEM, "out of memory");
    return;
  }
  JSAMPROW *rows = c->rows;
  for (uint32_t r = 0; r < j->h; r++) rows[r] = j->pixels + (size_t)r * j->stride;
  if (j->y > 0 && j->fast) {
    /* libjpeg-turbo 2.1's jpeg_skip_scanlines reads freed memory (a
     * pointer left from the previous image's pool: valgrind, bench --threads
     * 1 on a dataset) when the merged upsampler runs, which plain upsampling
     * of 2x-subsampled chroma selects; its output then depends on what the
     * context decoded before. So the fast mode reads the rows above the
     * region and drops them (into the region's first row, written again
     * below). A spliced record starts at the region's MCU row: at most an
     * MCU row less one is read this way. */
    for (uint32_t r = 0; r < j->y;)
      if (jpeg_read_scanlines(ci, rows, 1) == 1) r++;
      else {
        j->st = pv__codec_fail(c, PV_ERR_DECODE, "JPEG: decoder stopped at row %u", r);
        return;
      }
  } else if (j->y > 0 && jpeg_skip_scanlines(ci, j->y) != j->y) {
    j->st = pv__codec_fail(c, PV_ERR_DECODE, "JPEG: could not skip to row %u", j->y);
    return;
  }
  uint32_t done = 0;
  while (done < j->h) {
    JDIMENSION n = jpeg_read_scanlines(ci, rows + done, j->h - done);
    if (n == 0) break;
    done += n;
  }
  if (done < j->h) {
    j->st = pv__codec_fail(c, PV_ERR_DECODE, "JPEG: decoder stopped at row %u of %u",
                           j->y + done, j->y + j->h);
    return;
  }
  if (j->full && ci->output_scanline == ci->output_height)
    jpeg_finish_decompress(ci); /* up to EOI: trailing damage is an error too */
  j->st = PV_OK;
}

/* Runs the job set up in c->job on the record itself (or the splice
 * plan_splice chose), then resets the object for the next record whatever
 * happened (stopped early, error, or already finished: a no-op). */
static pv_status jpeg_job_run(pv__codec_ctx *c) {
  pv__jpeg_job *j = &c->job;
  j->st = PV_ERR_DECODE;
  jpeg_run(c);
  jpeg_abort_decompress(&c->jd.ci);
  return j->st;
}

static void job_init(pv__codec_ctx *c, const pv__payload *p) {
  pv__jpeg_job *j = &c->job;
  memset(j, 0, sizeof *j);
  j->rec = p;
  j->scale_num = 8;
  j->src = p->data;
  j->src_len = p->length;
  j->src_w = p->width;
  j->src_h = p->height;
}

/* ---- splicing ------------------------------------------------------------------------ */

/* Margin, in scaled pixels, kept around a region when splicing: libjpeg's
 * fancy upsampling of 2x-subsampled chroma reads one chroma sample (two
 * pixels) beyond each output pixel, so with 3 pixels of real neighbours on
 * every side the region's bytes equal those of the whole-image decode. */
#define PV_SPLICE_MARGIN 3

/* When the record's JPEG has usable restart markers and the job's region
 * of the image scaled by num/8 (plus the margin) is smaller than the image,
 * points the job at a splice of just the MCU rectangle covering it
 * (jpeg_splice.h). Otherwise leaves the job on the record. */
static void plan_splice(pv__codec_ctx *c, const pv__payload *rec, int num) {
  pv__jpeg_job *j = &c->job;
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
                       &c->splice, &len, &w, &h))
    return;
  pv__jpeg_layout_facts(&L, &j->facts);
  j->src = c->splice.out;
  j->src_len = len;
  j->src_w = w;
  j->src_h = h;
  j->sx = c0 * mw;
  j->sy = r0 * mh;
  j->x -= j->sx;
  j->y -= j->sy;
}

static pv_status region_try(pv__codec_ctx *c, const pv__payload *p, const pv__region_req *rq,
                            int splice) {
  job_init(c, p);
  pv__jpeg_job *j = &c->job;
  j->scale_num = rq->scale_num;
  j->x = rq->x;
  j->y = rq->y;
  j->w = rq->w;
  j->h = rq->h;
  j->full = rq->full;
  j->fast = c->jpeg_fast;
  if (splice) plan_splice(c, p, rq->scale_num);
  pv_status st = jpeg_job_run(c);
  j->ox += j->sx;
  if (st == PV_OK && j->src != p->data) c->splices++;
  return st;
}

/* ---- the entries --------------------------------------------------------------------- */

static pv_status jpeg_validate(pv__codec_ctx *c, const pv__payload *p) {
  job_init(c, p);
  c->job.header_only = 1;
  return jpeg_job_run(c);
}

static pv_status jpeg_decode(pv__codec_ctx *c, const pv__payload *p, uint8_t *dst, size_t stride) {
  job_init(c, p);
  pv__jpeg_job *j = &c->job;
  j->w = p->width;
  j->h = p->height;
  j->full = 1;
  j->dst = dst;
  j->dst_stride = stride;
  return jpeg_job_run(c);
}

/* From a splice when the record allows it, else (or when the splice does
 * not decode) from the record itself, which then either works or names the
 * real damage. Both give the same bytes for the region. */
static pv_status jpeg_region(pv__codec_ctx *c, const pv__payload *p, const pv__region_req *rq,
                             pv__region *out) {
  if (rq->scale_num < 1 || rq->scale_num > 8)
    return pv__codec_fail(c, PV_ERR_INVALID_ARG, "JPEG scale %d/8", rq->scale_num);
  pv_status st = region_try(c, p, rq, !c->no_splice);
  /* (A limit or a cancel holds for the record whatever is decoded.) */
  if (st != PV_OK && st != PV_ERR_NOMEM && st != PV_ERR_LIMIT && st != PV_ERR_CANCELLED &&
      c->job.src != p->data)
    st = region_try(c, p, rq, 0);
  if (st != PV_OK) return st;
  const pv__jpeg_job *j = &c->job;
  out->pixels = j->pixels;
  out->stride = j->stride;
  out->x = j->ox;
  out->y = rq->y;
  out->w = j->ow;
  out->h = rq->h;
  return PV_OK;
}

const pv__codec pv__codec_jpeg = {
    .id = PV_CODEC_JPEG,
    .name = "jpeg",
    /* Every n/8; for a crop only 1/8, 2/8, 4/8 (and 8/8): libjpeg-turbo has
     * SIMD inverse DCTs for those, while 3/8, 5/8, 6/8 and 7/8 run scalar
     * IDCTs that are slower than a full-size SIMD decode. */
    .scales = 0x1FE,
    .fast_scales = (1u << 1) | (1u << 2) | (1u << 4) | (1u << 8),
    .encode = jpeg_encode,
    .validate = jpeg_validate,
    .decode = jpeg_decode,
    .region = jpeg_region,
};
