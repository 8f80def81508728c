/* record_decode.c - decode one record's payload to RGB8 (see pvpack.h).
 *
 * A decoder is per-thread state: a codec context (codec/codec.h: the
 * libjpeg object, the zstd context, the limits) reused across records so
 * the steady state does not allocate. Every record goes through the codec
 * table: pv__codec_admit (codec, size, pv__limit_record), then the codec's
 * validate (pv_decoder_check) or decode (pv_decoder_decode), which runs the
 * same checks before it writes a pixel: the loader's samplers
 * (augment.c) dispatch through the same entries. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "guard.h"
#include "pvpack.h"

struct pv_decoder {
  pv__codec_ctx *codec;
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
  if (pv__codec_ctx_create(&d->codec) != PV_OK) {
    pv_decoder_destroy(d);
    return PV_ERR_NOMEM;
  }
  *out = d;
  return PV_OK;
}

void pv_decoder_destroy(pv_decoder *d) {
  if (!d) return;
  pv__codec_ctx_destroy(d->codec);
  free(d);
}

const char *pv_decoder_last_error(const pv_decoder *d) { return d ? d->last_error : ""; }

pv_status pv_decoder_set_limits(pv_decoder *d, const pv_limits *l) {
  if (!d) return PV_ERR_INVALID_ARG;
  return pv__codec_ctx_set_limits(d->codec, l);
}

static pv__payload payload_of(const pv_record *rec) {
  pv__payload p = {rec->data, rec->length, rec->width, rec->height};
  return p;
}

/* The codec's message, as the decoder's. */
static pv_status codec_status(pv_decoder *d, pv_status st) {
  if (st != PV_OK) fail(d, st, "%s", pv__codec_ctx_error(d->codec));
  return st;
}

/* Everything pv_decoder_decode checks before touching dst. */
static pv_status check_record(pv_decoder *d, const pv_record *rec) {
  const pv__payload p = payload_of(rec);
  const pv__codec *k;
  pv_status st = pv__codec_admit(d->codec, rec->codec, &p, &k);
  if (st == PV_OK) st = k->validate(d->codec, &p);
  return codec_status(d, st);
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
  const pv__payload p = payload_of(rec);
  const pv__codec *k;
  pv_status st = pv__codec_admit(d->codec, rec->codec, &p, &k);
  /* The codec's checks run as its decode starts (JPEG: one header read). */
  if (st == PV_OK) st = k->decode(d->codec, &p, dst, stride);
  return codec_status(d, st);
}

/* Puts a decoder left mid-call by a fault back into a usable state: the
 * codec context is reset (pv__codec_ctx_reset: the libjpeg cycle aborted,
 * the zstd context reset). Called by the guarded entry points below. */
static void decoder_reset(pv_decoder *d) { pv__codec_ctx_reset(d->codec); }

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
