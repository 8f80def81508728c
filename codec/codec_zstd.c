/* codec_zstd.c - PV_CODEC_ZSTD: one zstd frame whose content is the
 * PV_CODEC_RAW bytes (spec/FORMAT.md 3.6). The one zstd decoder of every
 * read path: pv__zstd_check (read_limits.h: one frame, declared content
 * size, nothing after it, window within max_decoder_memory, block sizes)
 * before anything is decompressed, then one-shot decompression (packed
 * rows) or streaming row by row (a strided destination). */
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"
#include "read_limits.h"

static pv_status zstd_encode(pv__codec_enc *e, const uint8_t *rgb, uint32_t width,
                             uint32_t height, size_t stride, const pv__encode_opts *o,
                             uint8_t **out, size_t *len, char *err, size_t cap) {
  const size_t row = (size_t)width * 3, raw = row * height;
  if (stride != row)
    return pv__codec_failf(err, cap, PV_ERR_INVALID_ARG, "zstd encode: rows must be packed");
  const size_t bound = ZSTD_compressBound(raw);
  uint8_t *p = malloc(bound);
  if (!p) return pv__codec_failf(err, cap, PV_ERR_NOMEM, "out of memory compressing");
  const size_t n = ZSTD_compressCCtx(e->zstd, p, bound, rgb, raw, o->zstd_level);
  if (ZSTD_isError(n) || n > PV_MAX_RECORD_BYTES) {
    free(p);
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "zstd: %s",
                           ZSTD_isError(n) ? ZSTD_getErrorName(n) : "too large");
  }
  *out = p;
  *len = n;
  return PV_OK;
}

static pv_status zstd_validate(pv__codec_ctx *c, const pv__payload *p) {
  return pv__zstd_check(&c->limits, p->data, p->length, (uint64_t)p->width * p->height * 3,
                        c->msg, sizeof c->msg);
}

/* After zstd_validate: it has established one frame, content size
 * row * height, nothing after it. */
static pv_status zstd_decompress(pv__codec_ctx *c, const pv__payload *p, uint8_t *dst,
                                 size_t stride) {
  const size_t row = (size_t)p->width * 3;
  if (stride == row) {
    size_t r = ZSTD_decompressDCtx(c->zstd, dst, row * p->height, p->data, p->length);
    if (ZSTD_isError(r) || r != row * p->height)
      return pv__codec_fail(c, PV_ERR_DECODE, "zstd: %s",
                            ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short frame");
    return PV_OK;
  }
  /* Strided destination: stream row by row through a small window. */
  ZSTD_inBuffer in = {p->data, p->length, 0};
  ZSTD_DCtx_reset(c->zstd, ZSTD_reset_session_only);
  size_t left = 1; /* ZSTD_decompressStream's last answer: 0 = frame done */
  for (uint32_t y = 0; y < p->height; y++) {
    ZSTD_outBuffer o = {dst + (size_t)y * stride, row, 0};
    while (o.pos < o.size) {
      size_t in0 = in.pos, out0 = o.pos;
      size_t r = left = ZSTD_decompressStream(c->zstd, &o, &in);
      if (ZSTD_isError(r)) return pv__codec_fail(c, PV_ERR_DECODE, "zstd: %s", ZSTD_getErrorName(r));
      if ((r == 0 && o.pos < o.size) || (in.pos == in0 && o.pos == out0))
        return pv__codec_fail(c, PV_ERR_DECODE, "zstd: short frame");
    }
  }
  /* Finish the frame (its checksum, if any, is checked at its end); it
   * must not hold a byte more. (Once done, another call would start
   * reading a next frame.) */
  while (left != 0) {
    uint8_t spare;
    ZSTD_outBuffer o = {&spare, 1, 0};
    size_t in0 = in.pos;
    size_t r = left = ZSTD_decompressStream(c->zstd, &o, &in);
    if (ZSTD_isError(r)) return pv__codec_fail(c, PV_ERR_DECODE, "zstd: %s", ZSTD_getErrorName(r));
    if (o.pos) return pv__codec_fail(c, PV_ERR_DECODE, "zstd: frame holds more than its content size");
    if (r != 0 && in.pos == in0) return pv__codec_fail(c, PV_ERR_DECODE, "zstd: short frame");
  }
  return PV_OK;
}

static pv_status zstd_decode(pv__codec_ctx *c, const pv__payload *p, uint8_t *dst, size_t stride) {
  pv_status st = zstd_validate(c, p);
  if (st != PV_OK) return st;
  return zstd_decompress(c, p, dst, stride);
}

/* The whole image into the context's buffer (the frame is decoded and
 * checked to its end whatever the region: a region decode accepts exactly
 * what decode accepts). */
static pv_status zstd_region(pv__codec_ctx *c, const pv__payload *p, const pv__region_req *rq,
                             pv__region *out) {
  /* Checked (and its window bounded) before the buffer is sized. */
  pv_status st = zstd_validate(c, p);
  if (st != PV_OK) return st;
  if ((st = pv__region_inside(c, p, rq)) != PV_OK) return st;
  const uint64_t size = (uint64_t)p->width * p->height * 3;
  if ((size_t)size != size || pv__codec_grow((void **)&c->buf, &c->buf_cap, (size_t)size))
    return pv__codec_fail(c, PV_ERR_NOMEM, "out of memory");
  if ((st = zstd_decompress(c, p, c->buf, (size_t)p->width * 3)) != PV_OK) return st;
  return pv__region_whole(p, c->buf, out);
}

const pv__codec pv__codec_zstd = {
    .id = PV_CODEC_ZSTD,
    .name = "zstd",
    .scales = 1u << 8,
    .fast_scales = 1u << 8,
    .encode = zstd_encode,
    .validate = zstd_validate,
    .decode = zstd_decode,
    .region = zstd_region,
};
