/* codec_impl.h - what the codec files share (internal to codec/: the
 * table's implementation; nothing outside codec/ includes it).
 *
 * The decoding and encoding contexts of codec.h, the entries of codecs.c,
 * and the small helpers every codec file uses.
 *
 * Depends on: codec.h, jpeg_dec.h, jpeg_splice.h, encode.h, zstd.
 */
#ifndef PV_CODEC_IMPL_H
#define PV_CODEC_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "codec.h"
#include "encode.h"
#include "jpeg_dec.h"
#include "jpeg_splice.h"
#include "read_limits.h"

/* One JPEG decode request and its result. It lives in the context, so
 * nothing the setjmp-ing function modifies is one of its locals (C11
 * 7.13.2.1p3). */
typedef struct pv__jpeg_job {
  /* in */
  const pv__payload *rec;
  int scale_num;         /* DCT scaling scale_num / 8 */
  uint32_t x, y, w, h;   /* wanted region of the scaled image */
  int full;              /* decode everything and finish_decompress */
  int header_only;       /* validate: header and its checks only */
  int fast;              /* region decodes of a fast context (set_jpeg_fast) */
  uint8_t *dst;          /* NULL: into the context's buffer */
  size_t dst_stride;
  const uint8_t *src;    /* the JPEG to decode: the record or a splice of it */
  size_t src_len;
  uint32_t src_w, src_h; /* its size (full scale) */
  uint32_t sx, sy;       /* its origin in the scaled record */
  pv_jpeg_facts facts;   /* the record's header facts, when src is a splice
                            (the limits are the record's, not the splice's) */
  /* out */
  uint32_t ox, ow;       /* columns actually decoded: [ox, ox + ow) */
  uint8_t *pixels;       /* rows y .. y + h - 1 */
  size_t stride;
  pv_status st;
} pv__jpeg_job;

struct pv__codec_ctx {
  pv_limits limits;
  pv_jdec jd;            /* the libjpeg object and its limits (jpeg_dec.h) */
  ZSTD_DCtx *zstd;
  uint8_t *buf;          /* decoded pixels of region decodes */
  size_t buf_cap;
  void *rows;            /* JSAMPROW array, grown on demand */
  size_t rows_cap;       /* bytes */
  pv__jpeg_job job;
  pv_jpeg_splice_buf splice;
  int no_splice;
  int jpeg_fast;          /* region decodes: libjpeg's fast IDCT and upsampling */
  uint64_t splices;
  char scratch[256];     /* message scratch (not a local of a setjmp-ing function) */
  char msg[256];         /* pv__codec_ctx_error */
};

struct pv__codec_enc {
  pv_jpeg_encoder *jpeg;
  ZSTD_CCtx *zstd;
};

/* Writes the message into c->msg and returns st. */
pv_status pv__codec_fail(pv__codec_ctx *c, pv_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* pv__codec_failf (the same into err[cap]): read_limits.h. */

/* Grows *buf to at least need bytes (contents not kept); 0 on success. */
int pv__codec_grow(void **buf, size_t *cap, size_t need);
/* For codecs that only decode whole images (raw, zstd): PV_OK when rq is a
 * full-scale, non-empty rectangle inside p, else PV_ERR_INVALID_ARG. */
pv_status pv__region_inside(pv__codec_ctx *c, const pv__payload *p, const pv__region_req *rq);
/* Hands back the whole image at pixels (rows of p->width * 3 bytes) as the
 * region; returns PV_OK. */
pv_status pv__region_whole(const pv__payload *p, const uint8_t *pixels, pv__region *out);

#endif /* PV_CODEC_IMPL_H */
