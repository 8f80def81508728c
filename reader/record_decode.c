/* record_decode.c - decode one record's payload to RGB8 (see pvpack.h).
 *
 * A decoder is per-thread state: a TurboJPEG handle (its setup is not free)
 * and a zstd decompression context, reused across records so the steady
 * state does not allocate. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <zstd.h>

#include "guard.h"
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

static pv_status decode_body(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride,
                             size_t dst_size) {
  if (!d || !rec || !dst) return PV_ERR_INVALID_ARG;
  d->last_error[0] = 0;
  /* The record's fields come from a file: checked here too, not only by
   * the shard validator, since a caller may build a pv_record itself. */
  if (rec->width == 0 || rec->height == 0 || rec->width > PV_MAX_DIM ||
      rec->height > PV_MAX_DIM)
    return fail(d, PV_ERR_DECODE, "bad record size %ux%u", rec->width, rec->height);
  if (!rec->data && rec->length)
    return fail(d, PV_ERR_INVALID_ARG, "record has no data");
  size_t row = (size_t)rec->width * 3;
  /* stride * (height-1) + row <= dst_size, without overflow. */
  if (stride < row || dst_size < row ||
      (rec->height > 1 && stride > (dst_size - row) / (rec->height - 1)))
    return fail(d, PV_ERR_INVALID_ARG, "destination too small for %ux%u", rec->width, rec->height);
  switch (rec->codec) {
    case PV_CODEC_RAW:
      if ((uint64_t)rec->length != (uint64_t)row * rec->height)
        return fail(d, PV_ERR_DECODE, "raw record is %u bytes, %ux%u RGB needs %llu", rec->length,
                    rec->width, rec->height, (unsigned long long)row * rec->height);
      for (uint32_t y = 0; y < rec->height; y++)
        memcpy(dst + (size_t)y * stride, rec->data + (size_t)y * row, row);
      return PV_OK;
    case PV_CODEC_ZSTD: {
      unsigned long long n = ZSTD_getFrameContentSize(rec->data, rec->length);
      if (n != (unsigned long long)row * rec->height)
        return fail(d, PV_ERR_DECODE, "zstd frame holds %lld bytes, expected %llu", (long long)n,
                    (unsigned long long)row * rec->height);
      /* Exactly one frame, nothing after it (both paths below agree). */
      size_t fsz = ZSTD_findFrameCompressedSize(rec->data, rec->length);
      if (ZSTD_isError(fsz) || fsz != rec->length)
        return fail(d, PV_ERR_DECODE, "zstd: %s",
                    ZSTD_isError(fsz) ? ZSTD_getErrorName(fsz) : "bytes after the frame");
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
      size_t left = 1; /* ZSTD_decompressStream's last answer: 0 = frame done */
      for (uint32_t y = 0; y < rec->height; y++) {
        ZSTD_outBuffer o = {dst + (size_t)y * stride, row, 0};
        while (o.pos < o.size) {
          size_t in0 = in.pos, out0 = o.pos;
          size_t r = left = ZSTD_decompressStream(d->zstd, &o, &in);
          if (ZSTD_isError(r)) return fail(d, PV_ERR_DECODE, "zstd: %s", ZSTD_getErrorName(r));
          if ((r == 0 && o.pos < o.size) || (in.pos == in0 && o.pos == out0))
            return fail(d, PV_ERR_DECODE, "zstd: short frame");
        }
      }
      /* Finish the frame (its checksum, if any, is checked at its end); it
       * must not hold a byte more. (Once done, another call would start
       * reading a next frame.) */
      while (left != 0) {
        uint8_t spare;
        ZSTD_outBuffer o = {&spare, 1, 0};
        size_t in0 = in.pos;
        size_t r = left = ZSTD_decompressStream(d->zstd, &o, &in);
        if (ZSTD_isError(r)) return fail(d, PV_ERR_DECODE, "zstd: %s", ZSTD_getErrorName(r));
        if (o.pos) return fail(d, PV_ERR_DECODE, "zstd: frame holds more than its content size");
        if (r != 0 && in.pos == in0)
          return fail(d, PV_ERR_DECODE, "zstd: short frame");
      }
      return PV_OK;
    }
    case PV_CODEC_JPEG: {
      int w, h, sub, cs;
      if (stride > INT_MAX)
        return fail(d, PV_ERR_INVALID_ARG, "stride %zu too large for the JPEG decoder", stride);
      if (tjDecompressHeader3(d->tj, rec->data, rec->length, &w, &h, &sub, &cs) != 0)
        return fail(d, PV_ERR_DECODE, "jpeg header: %s", tjGetErrorStr2(d->tj));
      if ((uint32_t)w != rec->width || (uint32_t)h != rec->height)
        return fail(d, PV_ERR_DECODE, "jpeg is %dx%d, record table says %ux%u", w, h, rec->width,
                    rec->height);
      if (tjDecompress2(d->tj, rec->data, rec->length, dst, w, (int)stride, h, TJPF_RGB,
                        TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
        return fail(d, PV_ERR_DECODE, "jpeg: %s", tjGetErrorStr2(d->tj));
      return PV_OK;
    }
  }
  return fail(d, PV_ERR_DECODE, "unknown codec %u", rec->codec);
}

/* Puts a decoder left mid-call by a fault back into a usable state: the
 * TurboJPEG handle is recreated (its libjpeg object may be anywhere inside
 * a decompress cycle), the zstd context reset. The one place that knows
 * what a decoder holds; called by the guarded entry point below. */
static void decoder_reset(pv_decoder *d) {
  if (d->tj) tjDestroy(d->tj);
  d->tj = tjInitDecompress();
  ZSTD_DCtx_reset(d->zstd, ZSTD_reset_session_only); /* parameters (limits) stay */
}

typedef struct decode_job {
  pv_decoder *d;
  const pv_record *rec;
  uint8_t *dst;
  size_t stride, dst_size;
} decode_job;

static pv_status decode_run(void *arg) {
  decode_job *j = arg;
  return decode_body(j->d, j->rec, j->dst, j->stride, j->dst_size);
}

/* The public entry point: the body above under a fault guard on the
 * payload (guard.h), since rec->data usually points into a shard mapping
 * that another process may truncate. */
pv_status pv_decoder_decode(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride,
                            size_t dst_size) {
  if (!d || !rec || !dst) return PV_ERR_INVALID_ARG;
  decode_job j = {d, rec, dst, stride, dst_size};
  pv_status st = pv__guard_call(rec->data, rec->data ? rec->length : 0, decode_run, &j);
  if (st == PV_ERR_CHANGED) {
    decoder_reset(d);
    if (!d->tj) return fail(d, PV_ERR_NOMEM, "out of memory recreating the JPEG decoder");
    return fail(d, PV_ERR_CHANGED,
                "record %llu (shard-%05u.pvs entry %u): payload unreadable: the shard file "
                "changed while mapped",
                (unsigned long long)rec->index, rec->shard, rec->shard_record);
  }
  return st;
}
