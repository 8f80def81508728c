/* codec.h - the record codec table (internal to codec/, used by pack/ and
 * reader/).
 *
 * Every record codec of spec/FORMAT.md (the pv_codec byte of a record
 * entry) is one pv__codec entry in codecs.c, implemented in its own file
 * (codec_raw.c, codec_jpeg.c, codec_zstd.c). Everything that writes or
 * reads a record's payload goes through the entry:
 *   encode    the packer (pack/build.c) turns RGB8 pixels into a payload
 *   validate  the cheap checks before anything is decoded or allocated:
 *             pv_decoder_check (get, verify --decode, Dataset[i])
 *   decode    the whole record into an RGB8 strided buffer:
 *             pv_decoder_decode (get, verify --decode, Dataset[i])
 *   region    what a crop needs, at a DCT scale if the codec has one: the
 *             loader's samplers (reader/augment.c)
 * and every read path runs the same admission first (pv__codec_admit: the
 * codec is known, the declared size is valid, pv__limit_record), and decode
 * and region run validate's checks themselves before they decode (JPEG: in
 * the same header read), with the same limits (read_limits.h) and, for
 * JPEG, the one libjpeg set-up and error manager of jpeg_dec.h. So a payload
 * is accepted by the loader exactly when `pvpack verify --decode` accepts
 * it, up to one documented difference: a JPEG region decode reads the
 * entropy-coded data only as far as the region needs (that is what makes
 * crops cheap), so damage past it is seen by decode (and by region with
 * full = 1) only.
 *
 * Adding a codec: its byte value and name in format/'s PV_CODEC_LIST
 * (pv_format.h: they are bytes of the format), its file here defining one
 * pv__codec, its line in codecs.c, its section in spec/FORMAT.md.
 *
 * Per-thread state (the libjpeg object, the zstd contexts, grow-only
 * buffers) lives in a pv__codec_ctx (decoding) and a pv__codec_enc
 * (encoding): one of each per thread, reused across records.
 *
 * Depends on: format/ (pv_status, pv_codec), codec/include/pv_limits.h.
 * Thread-safety: the table is constant; contexts are per thread.
 */
#ifndef PV_CODEC_H
#define PV_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "pv_format.h"
#include "pv_limits.h"
#include "pv_status.h"

/* What a codec sees of a record: its payload and the size the record
 * table declares (every byte untrusted). */
typedef struct pv__payload {
  const uint8_t *data;
  size_t length;
  uint32_t width, height;
} pv__payload;

/* ---- decoding context ------------------------------------------------------ */

typedef struct pv__codec_ctx pv__codec_ctx;

/* Returns PV_OK, PV_ERR_INVALID_ARG (out NULL) or PV_ERR_NOMEM. The limits
 * are pv_limits_init's until pv__codec_ctx_set_limits. */
pv_status pv__codec_ctx_create(pv__codec_ctx **out);
void pv__codec_ctx_destroy(pv__codec_ctx *c); /* accepts NULL */
/* Copies l (NULL = defaults; an older, smaller struct is completed with
 * defaults: pv__limits_resolve). Returns PV_OK or PV_ERR_INVALID_ARG. */
pv_status pv__codec_ctx_set_limits(pv__codec_ctx *c, const pv_limits *l);
const pv_limits *pv__codec_ctx_limits(const pv__codec_ctx *c);
/* A decode polls cancel(ctx) as it goes (JPEG: every libjpeg progress
 * step) and gives up with PV_ERR_CANCELLED when it returns non-zero.
 * NULL = never. */
void pv__codec_ctx_set_cancel(pv__codec_ctx *c, int (*cancel)(void *ctx), void *ctx);
/* JPEG region decodes from a splice of the restart intervals the region
 * covers (jpeg_splice.h): on by default; tests turn it off. */
void pv__codec_ctx_set_splice(pv__codec_ctx *c, int on);
uint64_t pv__codec_ctx_splices(const pv__codec_ctx *c); /* region decodes served by a splice */
/* JPEG region decodes (not decode: verify and the Dataset stay exact)
 * with libjpeg's fast integer IDCT (JDCT_IFAST) and without fancy
 * upsampling (libjpeg then merges the chroma upsampling with the colour
 * conversion where it can): TurboJPEG's TJFLAG_FASTDCT |
 * TJFLAG_FASTUPSAMPLE (FFCV sets TJFLAG_FASTDCT alone). Off by default;
 * the loader turns it on for its jpeg_decode=fast (pv_loader_options).
 * Deterministic: the same bytes for the same record and region on every
 * machine with the same libjpeg-turbo build, as the accurate decode. */
void pv__codec_ctx_set_jpeg_fast(pv__codec_ctx *c, int on);
/* Back to a usable state after a call was interrupted by a fault on the
 * payload's bytes (reader/guard.h): aborts the libjpeg cycle, resets the
 * zstd context. */
void pv__codec_ctx_reset(pv__codec_ctx *c);
/* The reason of the last failure: one line, without the record's name
 * (the caller adds it); never NULL, owned by c. */
const char *pv__codec_ctx_error(const pv__codec_ctx *c);

/* ---- encoding context ------------------------------------------------------ */

typedef struct pv__codec_enc pv__codec_enc;
/* The packer's per-codec options (pv_build_options' fields). */
typedef struct pv__encode_opts {
  int jpeg_quality;      /* 1..100 */
  uint32_t jpeg_restart; /* restart interval cap in MCUs, 0 = none (encode.h) */
  int zstd_level;
} pv__encode_opts;
pv_status pv__codec_enc_create(pv__codec_enc **out); /* PV_OK, INVALID_ARG, NOMEM */
void pv__codec_enc_destroy(pv__codec_enc *e);        /* accepts NULL */

/* ---- region decoding ---------------------------------------------------------- */

/* The part of the record scaled by scale_num/8 that a caller wants: the
 * rectangle [x, x + w) x [y, y + h) of the scaled image (its size
 * pv__codec_scaled_dim of the record's). full: decode and check the whole
 * payload, as decode does (the region is then the whole scaled image). */
typedef struct pv__region_req {
  int scale_num; /* 1..8; a codec decodes only the scales of its `scales` */
  uint32_t x, y, w, h;
  int full;
} pv__region_req;

/* What came back: the rectangle [x, x + w) x [y, y + h) of the scaled
 * image, which contains the requested one, as RGB8 rows of `stride` bytes
 * from `pixels` (pixel (x, y) first). Valid until the context's next call.
 * What a codec returns beyond the request is its own: raw and zstd give
 * the whole image (raw: the payload itself, no copy); JPEG gives the
 * requested rows and the columns libjpeg's cropping widened them to. The
 * caller uses the rectangle as its source image. */
typedef struct pv__region {
  const uint8_t *pixels;
  size_t stride;
  uint32_t x, y, w, h;
} pv__region;

/* Size of n pixels scaled by num/8, as libjpeg computes it (ceil). */
static inline uint32_t pv__codec_scaled_dim(uint32_t n, int num) {
  return (uint32_t)(((uint64_t)n * (unsigned)num + 7) / 8);
}

/* ---- the table ---------------------------------------------------------------- */

/* Every function reports failures through the context's message
 * (pv__codec_ctx_error) or err[cap]; statuses:
 *   PV_ERR_DECODE   the payload breaks its codec's rules or does not decode
 *   PV_ERR_LIMIT    it is over one of the context's limits
 *   PV_ERR_CANCELLED, PV_ERR_NOMEM, PV_ERR_INVALID_ARG (region outside the
 *                   image, a scale the codec lacks). */
typedef struct pv__codec {
  uint8_t id;       /* PV_CODEC_* */
  const char *name; /* pv_codec_name(id) */
  uint16_t scales;      /* bit n set: region decodes at n/8 (bit 8 always) */
  uint16_t fast_scales; /* the scales worth choosing to shrink a crop */
  /* Payload from width x height RGB8 rows of stride bytes: *out is
   * malloc'ed (the caller frees it), *len <= PV_MAX_RECORD_BYTES (else
   * PV_ERR_LIMIT). NULL: the packer cannot write this codec. */
  pv_status (*encode)(pv__codec_enc *e, const uint8_t *rgb, uint32_t width, uint32_t height,
                      size_t stride, const pv__encode_opts *o, uint8_t **out, size_t *len,
                      char *err, size_t cap);
  /* The checks of p that need no pixel output, after pv__codec_admit. */
  pv_status (*validate)(pv__codec_ctx *c, const pv__payload *p);
  /* p decoded whole into dst (width*3 bytes a row, rows stride bytes
   * apart; the caller sized it), after pv__codec_admit; runs validate's
   * checks first. */
  pv_status (*decode)(pv__codec_ctx *c, const pv__payload *p, uint8_t *dst, size_t stride);
  /* The region rq of p into *out (see pv__region), after pv__codec_admit;
   * runs validate's checks first. */
  pv_status (*region)(pv__codec_ctx *c, const pv__payload *p, const pv__region_req *rq,
                      pv__region *out);
} pv__codec;

/* The entry of codec id, NULL when there is none. */
const pv__codec *pv__codec_get(int id);

/* What every read path checks first, from the record's declared fields:
 * codec id known (else PV_ERR_DECODE), size 1..PV_MAX_DIM (PV_ERR_DECODE),
 * data present when length > 0 (PV_ERR_INVALID_ARG), pv__limit_record
 * against c's limits (PV_ERR_LIMIT). On PV_OK *out is the codec's entry. */
pv_status pv__codec_admit(pv__codec_ctx *c, int id, const pv__payload *p, const pv__codec **out);

#endif /* PV_CODEC_H */
