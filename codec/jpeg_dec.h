/* jpeg_dec.h - the one libjpeg decompress set-up (internal to codec/: the
 * JPEG record codec, codec_jpeg.c, and the source-image decoder,
 * decode.c).
 *
 * Every JPEG read goes through this: records (the codec table's JPEG
 * entry, which pv_decoder_decode and the loader's samplers both dispatch
 * to) and the packer's source images, with the same error manager and the
 * same limit functions (each path with its own limits): an error manager that turns every libjpeg error and
 * warning into a longjmp (a warning means corrupt data: never hand out
 * grey blocks, as TurboJPEG's TJFLAG_STOPONWARNING), a progress monitor
 * that stops a decode once it reads more than max_scans scans or when its
 * owner cancels it (a loader being destroyed or repositioned), and, after
 * the header is read, the header limits of read_limits.h (decoder memory, scan
 * count) with libjpeg's own memory accounting as a backstop.
 *
 * Use: pv__jdec_create once; per image, in the function that owns the
 * setjmp:
 *     if (setjmp(j->err.jb)) { st = pv__jdec_error(j, msg, cap); ... }
 *     st = pv__jdec_read_header(j, limits, src, len, facts_src, fsrc_len, ...);
 *     ... jpeg_start_decompress, jpeg_read_scanlines ...
 *     jpeg_abort_decompress(&j->ci);  (whatever happened)
 * Nothing the setjmp-ing function changes between setjmp and longjmp may be
 * one of its locals (C11 7.13.2.1p3): keep state in structures.
 *
 * Depends on: libjpeg(-turbo) API, read_limits.h. Thread-safety: one pv_jdec
 * per thread.
 */
#ifndef PV_JPEG_DEC_H
#define PV_JPEG_DEC_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* jpeglib.h needs FILE */

#include <jpeglib.h>

#include "read_limits.h"
#include "pv_format.h"
#include "pv_limits.h"
#include "pv_status.h"

typedef struct pv_jdec_err {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX + 64];
} pv_jdec_err;

typedef struct pv_jdec {
  struct jpeg_decompress_struct ci;
  pv_jdec_err err;
  struct jpeg_progress_mgr progress;
  int created;
  const pv_limits *limits;     /* of the current decode (never NULL while one runs) */
  int (*cancel)(void *ctx);    /* non-zero: abandon the decode; may be NULL */
  void *cancel_ctx;
  pv_status stop;              /* why the progress monitor stopped it (LIMIT,
                                  CANCELLED), PV_OK otherwise */
} pv_jdec;

/* Creates the decompress object. Returns PV_OK or PV_ERR_NOMEM. */
pv_status pv__jdec_create(pv_jdec *j);
void pv__jdec_destroy(pv_jdec *j); /* accepts a never-created one */

/* Points j at the JPEG src[0, len) and arms the limits of L for its decode
 * (the scan limit of the progress monitor, libjpeg's memory backstop): the
 * first step of pv__jdec_read_header, and of a caller that reads the header
 * itself (codec/decode.c: it saves markers first and has its own header
 * checks). */
void pv__jdec_source(pv_jdec *j, const pv_limits *L, const uint8_t *src, size_t len);

/* Points j at the JPEG src[0, len) (pv__jdec_source), reads its header (may longjmp), checks
 * the header limits of L against it (pv__limit_jpeg_header: memory, and the
 * scans of scan_src[0, scan_len), the record's own bytes, which may differ
 * from src when src is a splice of them; scan_src NULL = src), arms the
 * scan limit and memory backstop for the decode, and sets TurboJPEG's
 * default decoding (RGB output, accurate integer IDCT, fancy upsampling).
 * When facts is non-NULL the header limits are checked against *facts (the
 * record's, when src is a splice of it) instead of src's header.
 * Returns PV_OK or PV_ERR_LIMIT (message in msg). */
pv_status pv__jdec_read_header(pv_jdec *j, const pv_limits *L, const uint8_t *src, size_t len,
                               const pv_jpeg_facts *facts, const uint8_t *scan_src,
                               size_t scan_len, char *msg, size_t cap);

/* The facts of the header just read (after jpeg_read_header) of any
 * decompress object (the packer's too). */
void pv__jpeg_facts_of(const struct jpeg_decompress_struct *ci, pv_jpeg_facts *f);

/* After a longjmp out of libjpeg: the status (the progress monitor's LIMIT
 * or CANCELLED; LIMIT when libjpeg ran out of its memory allowance; else
 * DECODE) with the message in msg. */
pv_status pv__jdec_error(const pv_jdec *j, char *msg, size_t cap);

#endif /* PV_JPEG_DEC_H */
