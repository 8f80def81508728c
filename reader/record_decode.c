/* record_decode.c - decode one record's payload to RGB8 (see pvpack.h).
 *
 * A decoder is per-thread state: a libjpeg decompress object set up by
 * jpeg_dec.h (the same set-up, limits and scan check as the loader's) and a
 * zstd decompression context, reused across records so the steady state
 * does not allocate. Every check of read_limits.h runs before anything is
 * allocated or written for a record. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "jpeg_dec.h"
#include "read_limits.h"
#include "guard.h"
#include "pvpack.h"

/* One JPEG decode request; lives in the decoder so that nothing the
 * setjmp-ing function modifies is one of its locals (C11 7.13.2.1p3). */
typedef struct jpeg_req {
  const pv_record *rec;
  uint8_t *dst;       /* NULL: header checks only */
  size_t stride;
  JSAMPROW *rows;     /* height row pointers, grown on demand */
  size_t rows_cap;
  pv_status st;
} jpeg_req;

struct pv_decoder {
  pv_jdec jd;
  ZSTD_DCtx *zstd;
  pv_limits limits;
  jpeg_req job;
  char last_error[256];
};

static pv_status fail(pv_decoder *d, pv_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static pv_status fail(pv_decoder *d, pv_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->last_error, sizeof d->last_error, fmt, ap);
  va_end(ap);
  return st;
}

pv_status pv_decoder_create(pv_decoder **out) {
  if (!out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pv_decoder *d = calloc(1, sizeof *d);
  if (!d) return PV_ERR_NOMEM;
  pv_limits_init(&d->limits);
  d->zstd = ZSTD_createDCtx();
  if (!d->zstd || pv__jdec_create(&d->jd) != PV_OK) {
    pv_decoder_destroy(d);
    return PV_ERR_NOMEM;
  }
  /* The window is bounded by pv__zstd_check (max_decoder_memory), not by
   * zstd's default streaming cap of 128 MiB, so that the streaming and the
   * one-shot path accept the same frames. */
  int wmax = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax).upperBound;
  ZSTD_DCtx_setParameter(d->zstd, ZSTD_d_windowLogMax, wmax);
  *out = d;
  return PV_OK;
}

void pv_decoder_destroy(pv_decoder *d) {
  if (!d) return;
  pv__jdec_destroy(&d->jd);
  ZSTD_freeDCtx(d->zstd);
  free(d->job.rows);
  free(d);
}

const char *pv_decoder_last_error(const pv_decoder *d) { return d ? d->last_error : ""; }

pv_status pv_decoder_set_limits(pv_decoder *d, const pv_limits *l) {
  if (!d) return PV_ERR_INVALID_ARG;
  return pv__limits_resolve(l, &d->limits);
}

/* The JPEG path: header, limits, then (with a destination) the whole image
 * at full size into dst, up to EOI. */
static void jpeg_run(pv_decoder *d) {
  jpeg_req *j = &d->job;
  j_decompress_ptr ci = &d->jd.ci;
  const pv_record *rec = j->rec;
  char msg[sizeof d->last_error];
  if (setjmp(d->jd.err.jb)) {
    j->st = pv__jdec_error(&d->jd, msg, sizeof msg);
    fail(d, j->st, "%s", msg);
    return;
  }
  if ((j->st = pv__jdec_read_header(&d->jd, &d->limits, rec->data, rec->length, NULL, NULL, 0,
                                    msg, sizeof msg)) != PV_OK) {
    fail(d, j->st, "%s", msg);
    return;
  }
  if (ci->image_width != rec->width || ci->image_height != rec->height) {
    j->st = fail(d, PV_ERR_DECODE, "jpeg is %ux%u, record table says %ux%u",
                 (unsigned)ci->image_width, (unsigned)ci->image_height, rec->width, rec->height);
    return;
  }
  if (!j->dst) {
    j->st = PV_OK;
    return;
  }
  jpeg_start_decompress(ci);
  if (ci->output_components != 3 || ci->output_width != rec->width ||
      ci->output_height != rec->height) {
    j->st = fail(d, PV_ERR_DECODE, "jpeg: unexpected output %ux%u with %d components",
                 (unsigned)ci->output_width, (unsigned)ci->output_height, ci->output_components);
    return;
  }
  if (rec->height > j->rows_cap) {
    JSAMPROW *r = realloc(j->rows, (size_t)rec->height * sizeof *r);
    if (!r) {
      j->st = fail(d, PV_ERR_NOMEM, "out of memory");
      return;
    }
    j->rows = r;
    j->rows_cap = rec->height;
  }
  for (uint32_t y = 0; y < rec->height; y++) j->rows[y] = j->dst + (size_t)y * j->stride;
  while (ci->output_scanline < ci->output_height)
    if (jpeg_read_scanlines(ci, j->rows + ci->output_scanline,
                            ci->output_height - ci->output_scanline) == 0)
      break;
  if (ci->output_scanline < ci->output_height) {
    j->st = fail(d, PV_ERR_DECODE, "jpeg: decoder stopped at row %u of %u",
                 (unsigned)ci->output_scanline, (unsigned)ci->output_height);
    return;
  }
  jpeg_finish_decompress(ci); /* up to EOI: a missing end is a warning, hence an error */
  j->st = PV_OK;
}

static pv_status jpeg_decode(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride) {
  d->job.rec = rec;
  d->job.dst = dst;
  d->job.stride = stride;
  d->job.st = PV_ERR_DECODE;
  jpeg_run(d);
  jpeg_abort_decompress(&d->jd.ci); /* ready for the next record, whatever happened */
  return d->job.st;
}

/* Everything pv_decoder_decode checks before touching dst. */
static pv_status check_record(pv_decoder *d, const pv_record *rec) {
  /* The record's fields come from a file: checked here too, not only by
   * the shard validator, since a caller may build a pv_record itself. */
  if (rec->width == 0 || rec->height == 0 || rec->width > PV_MAX_DIM ||
      rec->height > PV_MAX_DIM)
    return fail(d, PV_ERR_DECODE, "bad record size %ux%u", rec->width, rec->height);
  if (!rec->data && rec->length) return fail(d, PV_ERR_INVALID_ARG, "record has no data");
  pv_status st = pv__limit_record(&d->limits, rec->width, rec->height, rec->length,
                                  d->last_error, sizeof d->last_error);
  if (st != PV_OK) return st;
  const uint64_t bytes = (uint64_t)rec->width * rec->height * 3;
  switch (rec->codec) {
    case PV_CODEC_RAW:
      if ((uint64_t)rec->length != bytes)
        return fail(d, PV_ERR_DECODE, "raw record is %u bytes, %ux%u RGB needs %llu", rec->length,
                    rec->width, rec->height, (unsigned long long)bytes);
      return PV_OK;
    case PV_CODEC_ZSTD:
      return pv__zstd_check(&d->limits, rec->data, rec->length, bytes, d->last_error,
                            sizeof d->last_error);
    case PV_CODEC_JPEG:
      return jpeg_decode(d, rec, NULL, 0);
  }
  return fail(d, PV_ERR_DECODE, "unknown codec %u", rec->codec);
}

static pv_status decode_body(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride,
                             size_t dst_size) {
  d->last_error[0] = 0;
  if (rec->width == 0 || rec->height == 0 || rec->width > PV_MAX_DIM ||
      rec->height > PV_MAX_DIM)
    return fail(d, PV_ERR_DECODE, "bad record size %ux%u", rec->width, rec->height);
  size_t row = (size_t)rec->width * 3;
  /* stride * (height-1) + row <= dst_size, without overflow. */
  if (stride < row || dst_size < row ||
      (rec->height > 1 && stride > (dst_size - row) / (rec->height - 1)))
    return fail(d, PV_ERR_INVALID_ARG, "destination too small for %ux%u", rec->width, rec->height);
  /* JPEG: the header checks run as the decode starts (one header read). */
  if (rec->codec != PV_CODEC_JPEG) {
    pv_status st = check_record(d, rec);
    if (st != PV_OK) return st;
  }
  switch (rec->codec) {
    case PV_CODEC_RAW:
      for (uint32_t y = 0; y < rec->height; y++)
        memcpy(dst + (size_t)y * stride, rec->data + (size_t)y * row, row);
      return PV_OK;
    case PV_CODEC_ZSTD: {
      /* pv__zstd_check has established: one frame, content size
       * row * height, nothing after it. */
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
      if (!rec->data && rec->length) return fail(d, PV_ERR_INVALID_ARG, "record has no data");
      pv_status st = pv__limit_record(&d->limits, rec->width, rec->height, rec->length,
                                      d->last_error, sizeof d->last_error);
      if (st != PV_OK) return st;
      return jpeg_decode(d, rec, dst, stride);
    }
  }
  return fail(d, PV_ERR_DECODE, "unknown codec %u", rec->codec);
}

/* Puts a decoder left mid-call by a fault back into a usable state: the
 * libjpeg object is aborted (valid in any state of a decompress cycle: it
 * frees the image's pools and returns to the start state), the zstd
 * context reset. The one place that knows what a decoder holds; called by
 * the guarded entry points below. */
static void decoder_reset(pv_decoder *d) {
  jpeg_abort_decompress(&d->jd.ci);
  ZSTD_DCtx_reset(d->zstd, ZSTD_reset_session_only); /* parameters (window cap) stay */
}

typedef struct decode_job {
  pv_decoder *d;
  const pv_record *rec;
  uint8_t *dst; /* NULL: pv_decoder_check */
  size_t stride, dst_size;
} decode_job;

static pv_status decode_run(void *arg) {
  decode_job *j = arg;
  if (!j->dst) {
    j->d->last_error[0] = 0;
    return check_record(j->d, j->rec);
  }
  return decode_body(j->d, j->rec, j->dst, j->stride, j->dst_size);
}

/* Both read the payload (the checks parse its headers), so both run under
 * a fault guard on it (guard.h): rec->data usually points into a shard
 * mapping that another process may truncate. */
static pv_status guarded(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride,
                         size_t dst_size) {
  decode_job j = {d, rec, dst, stride, dst_size};
  pv_status st = pv__guard_call(rec->data, rec->data ? rec->length : 0, decode_run, &j);
  if (st == PV_ERR_CHANGED) {
    decoder_reset(d);
    return fail(d, PV_ERR_CHANGED,
                "record %llu (shard-%05u.pvs entry %u): payload unreadable: the shard file "
                "changed while mapped",
                (unsigned long long)rec->index, rec->shard, rec->shard_record);
  }
  return st;
}

pv_status pv_decoder_check(pv_decoder *d, const pv_record *rec) {
  if (!d || !rec) return PV_ERR_INVALID_ARG;
  return guarded(d, rec, NULL, 0, 0);
}

pv_status pv_decoder_decode(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride,
                            size_t dst_size) {
  if (!d || !rec || !dst) return PV_ERR_INVALID_ARG;
  return guarded(d, rec, dst, stride, dst_size);
}
