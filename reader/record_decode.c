/* record_decode.c - decode one record's payload to RGB8 (see pvpack.h).
 *
 * A decoder is per-thread state: a TurboJPEG handle (its setup is not free)
 * and a zstd decompression context, reused across records so the steady
 * state does not allocate. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <zstd.h>

#include "pvpack.h"

struct pv_decoder {
  tjhandle tj;
  ZSTD_DCtx *zstd;
  char last_error[256];
};

static pv_status fail(pv_decoder *d, pv_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->last_error, sizeof d->last_error, fmt, ap);
  va_end(ap);
  return st;
}

pv_status pv_decoder_create(pv_decoder **out) {
  pv_decoder *d = calloc(1, sizeof *d);
  if (!d) return PV_ERR_NOMEM;
  d->tj = tjInitDecompress();
  d->zstd = ZSTD_createDCtx();
  if (!d->tj || !d->zstd) {
    pv_decoder_destroy(d);
    return PV_ERR_NOMEM;
  }
  *out = d;
  return PV_OK;
}

void pv_decoder_destroy(pv_decoder *d) {
  if (!d) return;
  if (d->tj) tjDestroy(d->tj);
  ZSTD_freeDCtx(d->zstd);
  free(d);
}

const char *pv_decoder_last_error(const pv_decoder *d) { return d->last_error; }

pv_status pv_decoder_decode(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride,
                            size_t dst_size) {
  if (!d || !rec || !dst) return PV_ERR_INVALID_ARG;
  d->last_error[0] = 0;
  size_t row = (size_t)rec->width * 3;
  if (stride < row || (uint64_t)stride * (rec->height - 1) + row > dst_size)
    return fail(d, PV_ERR_INVALID_ARG, "destination too small for %ux%u", rec->width, rec->height);
  switch (rec->codec) {
    case PV_CODEC_RAW:
      for (uint32_t y = 0; y < rec->height; y++)
        memcpy(dst + (size_t)y * stride, rec->data + (size_t)y * row, row);
      return PV_OK;
    case PV_CODEC_ZSTD: {
      unsigned long long n = ZSTD_getFrameContentSize(rec->data, rec->length);
      if (n != (unsigned long long)row * rec->height)
        return fail(d, PV_ERR_DECODE, "zstd frame holds %lld bytes, expected %llu", (long long)n,
                    (unsigned long long)row * rec->height);
      if (stride == row) {
        size_t r = ZSTD_decompressDCtx(d->zstd, dst, row * rec->height, rec->data, rec->length);
        if (ZSTD_isError(r) || r != row * rec->height)
          return fail(d, PV_ERR_DECODE, "zstd: %s",
                      ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short frame");
        return PV_OK;
      }
      /* Strided destination: stream row by row through a small window. */
      ZSTD_inBuffer in = {rec->data, rec->length, 0};
      ZSTD_DCtx_reset(d->zstd, ZSTD_reset_session_only);
      for (uint32_t y = 0; y < rec->height; y++) {
        ZSTD_outBuffer o = {dst + (size_t)y * stride, row, 0};
        while (o.pos < o.size) {
          size_t r = ZSTD_decompressStream(d->zstd, &o, &in);
          if (ZSTD_isError(r)) return fail(d, PV_ERR_DECODE, "zstd: %s", ZSTD_getErrorName(r));
          if (r == 0 && o.pos < o.size) return fail(d, PV_ERR_DECODE, "zstd: short frame");
        }
      }
      return PV_OK;
    }
    case PV_CODEC_JPEG: {
      int w, h, sub, cs;
      if (tjDecompressHeader3(d->tj, rec->data, rec->length, &w, &h, &sub, &cs) != 0)
        return fail(d, PV_ERR_DECODE, "jpeg header: %s", tjGetErrorStr2(d->tj));
      if ((uint32_t)w != rec->width || (uint32_t)h != rec->height)
        return fail(d, PV_ERR_DECODE, "jpeg is %dx%d, record table says %ux%u", w, h, rec->width,
                    rec->height);
      if (tjDecompress2(d->tj, rec->data, rec->length, dst, w, (int)stride, h, TJPF_RGB,
                        TJFLAG_STOPONWARNING) != 0)
        return fail(d, PV_ERR_DECODE, "jpeg: %s", tjGetErrorStr2(d->tj));
      return PV_OK;
    }
  }
  return fail(d, PV_ERR_DECODE, "unknown codec %u", rec->codec);
}
