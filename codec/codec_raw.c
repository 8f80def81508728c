/* codec_raw.c - PV_CODEC_RAW: width*height*3 bytes of RGB8, rows top to
 * bottom (spec/FORMAT.md 3.6). The payload is its own pixels: a region is
 * the payload itself, no copy. */
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"

static pv_status raw_encode(pv__codec_enc *e, const uint8_t *rgb, uint32_t width,
                            uint32_t height, size_t stride, const pv__encode_opts *o,
                            uint8_t **out, size_t *len, char *err, size_t cap) {
  (void)e;
  (void)o;
  const size_t row = (size_t)width * 3, raw = row * height;
  if (raw > PV_MAX_RECORD_BYTES)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "raw record would be %zu bytes", raw);
  uint8_t *p = malloc(raw ? raw : 1);
  if (!p) return pv__codec_failf(err, cap, PV_ERR_NOMEM, "out of memory");
  if (stride == row) memcpy(p, rgb, raw);
  else
    for (uint32_t y = 0; y < height; y++) memcpy(p + (size_t)y * row, rgb + (size_t)y * stride, row);
  *out = p;
  *len = raw;
  return PV_OK;
}

static pv_status raw_validate(pv__codec_ctx *c, const pv__payload *p) {
  const uint64_t bytes = (uint64_t)p->width * p->height * 3;
  if ((uint64_t)p->length != bytes)
    return pv__codec_fail(c, PV_ERR_DECODE, "raw record is %zu bytes, %ux%u RGB needs %llu",
                          p->length, p->width, p->height, (unsigned long long)bytes);
  return PV_OK;
}

static pv_status raw_decode(pv__codec_ctx *c, const pv__payload *p, uint8_t *dst, size_t stride) {
  pv_status st = raw_validate(c, p);
  if (st != PV_OK) return st;
  const size_t row = (size_t)p->width * 3;
  for (uint32_t y = 0; y < p->height; y++)
    memcpy(dst + (size_t)y * stride, p->data + (size_t)y * row, row);
  return PV_OK;
}

static pv_status raw_region(pv__codec_ctx *c, const pv__payload *p, const pv__region_req *rq,
                            pv__region *out) {
  pv_status st = raw_validate(c, p);
  if (st != PV_OK) return st;
  if ((st = pv__region_inside(c, p, rq)) != PV_OK) return st;
  /* The whole image: its rows are the payload's. */
  return pv__region_whole(p, p->data, out);
}

const pv__codec pv__codec_raw = {
    .id = PV_CODEC_RAW,
    .name = "raw",
    .scales = 1u << 8,
    .fast_scales = 1u << 8,
    .encode = raw_encode,
    .validate = raw_validate,
    .decode = raw_decode,
    .region = raw_region,
};
