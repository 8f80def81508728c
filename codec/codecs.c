/* codecs.c - the record codec table (see codec.h): one line per codec of
 * spec/FORMAT.md, each entry defined in its own file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"
#include "read_limits.h"

/* The entries, one per codec file. */
extern const pv__codec pv__codec_raw;  /* codec_raw.c */
extern const pv__codec pv__codec_jpeg; /* codec_jpeg.c */
extern const pv__codec pv__codec_zstd; /* codec_zstd.c */

static const pv__codec *const k_table[PV_CODEC_COUNT] = {
    [PV_CODEC_RAW] = &pv__codec_raw,
    [PV_CODEC_JPEG] = &pv__codec_jpeg,
    [PV_CODEC_ZSTD] = &pv__codec_zstd,
};

const pv__codec *pv__codec_get(int id) {
  return id >= 0 && id < PV_CODEC_COUNT ? k_table[id] : NULL;
}

/* ---- shared helpers ------------------------------------------------------------ */


pv_status pv__codec_fail(pv__codec_ctx *c, pv_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof c->msg, fmt, ap);
  va_end(ap);
  return st;
}

int pv__codec_grow(void **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  void *p = malloc(need);
  if (!p) return -1;
  free(*buf);
  *buf = p;
  *cap = need;
  return 0;
}

/* ---- admission ------------------------------------------------------------------- */

pv_status pv__codec_admit(pv__codec_ctx *c, int id, const pv__payload *p, const pv__codec **out) {
  c->msg[0] = 0;
  *out = NULL;
  /* The record's fields come from a file: checked here too, not only by
   * the shard validator, since a caller may build a pv_record itself. */
  if (p->width == 0 || p->height == 0 || p->width > PV_MAX_DIM || p->height > PV_MAX_DIM)
    return pv__codec_fail(c, PV_ERR_DECODE, "bad record size %ux%u", p->width, p->height);
  if (!p->data && p->length) return pv__codec_fail(c, PV_ERR_INVALID_ARG, "record has no data");
  const pv__codec *k = pv__codec_get(id);
  if (!k) return pv__codec_fail(c, PV_ERR_DECODE, "unknown codec %d", id);
  /* Declared size and payload length against the limits, before any
   * buffer is sized from them. */
  pv_status st = pv__limit_record(&c->limits, p->width, p->height, p->length, c->msg,
                                  sizeof c->msg);
  if (st != PV_OK) return st;
  *out = k;
  return PV_OK;
}

/* ---- decoding context ------------------------------------------------------------- */

pv_status pv__codec_ctx_create(pv__codec_ctx **out) {
  if (!out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pv__codec_ctx *c = calloc(1, sizeof *c);
  if (!c) return PV_ERR_NOMEM;
  pv_limits_init(&c->limits);
  if (pv__jdec_create(&c->jd) != PV_OK || !(c->zstd = ZSTD_createDCtx())) {
    pv__codec_ctx_destroy(c);
    return PV_ERR_NOMEM;
  }
  /* The window is bounded by pv__zstd_check (max_decoder_memory), not by
   * zstd's default streaming cap of 128 MiB, so that the streaming and the
   * one-shot path accept the same frames. */
  const int wmax = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax).upperBound;
  ZSTD_DCtx_setParameter(c->zstd, ZSTD_d_windowLogMax, wmax);
  *out = c;
  return PV_OK;
}

void pv__codec_ctx_destroy(pv__codec_ctx *c) {
  if (!c) return;
  pv__jdec_destroy(&c->jd);
  ZSTD_freeDCtx(c->zstd);
  free(c->buf);
  free(c->rows);
  pv__jpeg_splice_buf_free(&c->splice);
  free(c);
}

pv_status pv__codec_ctx_set_limits(pv__codec_ctx *c, const pv_limits *l) {
  if (!c) return PV_ERR_INVALID_ARG;
  return pv__limits_resolve(l, &c->limits);
}

const pv_limits *pv__codec_ctx_limits(const pv__codec_ctx *c) { return &c->limits; }

void pv__codec_ctx_set_cancel(pv__codec_ctx *c, int (*cancel)(void *ctx), void *ctx) {
  if (!c) return;
  c->jd.cancel = cancel;
  c->jd.cancel_ctx = ctx;
}

void pv__codec_ctx_set_splice(pv__codec_ctx *c, int on) {
  if (c) c->no_splice = !on;
}

uint64_t pv__codec_ctx_splices(const pv__codec_ctx *c) { return c ? c->splices : 0; }

void pv__codec_ctx_set_jpeg_fast(pv__codec_ctx *c, int on) {
  if (c) c->jpeg_fast = on != 0;
}

void pv__codec_ctx_reset(pv__codec_ctx *c) {
  if (!c) return;
  /* Valid in any state of a decompress cycle (libjpeg's jpeg_abort: frees
   * the image's pools and returns to the start state). */
  if (c->jd.created) jpeg_abort_decompress(&c->jd.ci);
  ZSTD_DCtx_reset(c->zstd, ZSTD_reset_session_only); /* parameters (window cap) stay */
}

const char *pv__codec_ctx_error(const pv__codec_ctx *c) { return c ? c->msg : ""; }

/* ---- encoding context ------------------------------------------------------------- */

pv_status pv__codec_enc_create(pv__codec_enc **out) {
  if (!out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pv__codec_enc *e = calloc(1, sizeof *e);
  if (!e) return PV_ERR_NOMEM;
  if (pv__jpeg_encoder_create(&e->jpeg) != PV_OK || !(e->zstd = ZSTD_createCCtx())) {
    pv__codec_enc_destroy(e);
    return PV_ERR_NOMEM;
  }
  *out = e;
  return PV_OK;
}

void pv__codec_enc_destroy(pv__codec_enc *e) {
  if (!e) return;
  pv__jpeg_encoder_destroy(e->jpeg);
  ZSTD_freeCCtx(e->zstd);
  free(e);
}

pv_status pv__region_inside(pv__codec_ctx *c, const pv__payload *p, const pv__region_req *rq) {
  if (rq->scale_num != 8 || !rq->w || !rq->h || (uint64_t)rq->x + rq->w > p->width ||
      (uint64_t)rq->y + rq->h > p->height)
    return pv__codec_fail(c, PV_ERR_INVALID_ARG, "region outside the image");
  return PV_OK;
}

pv_status pv__region_whole(const pv__payload *p, const uint8_t *pixels, pv__region *out) {
  out->pixels = pixels;
  out->stride = (size_t)p->width * 3;
  out->x = out->y = 0;
  out->w = p->width;
  out->h = p->height;
  return PV_OK;
}
