/* read_limits.h - the read-side limit checks (internal to codec/; codec/decode.c
 * uses the JPEG ones for source images).
 *
 * One function per concern, each a pure function of the record (or payload,
 * or header facts) and a pv_limits, so that every read path applies exactly
 * the same rule: the codec table (codec.h: pv__codec_admit and the JPEG and
 * zstd entries, behind pv_decoder_decode and the loader's samplers alike)
 * and the packer's source decoding (codec/decode.c, with its own limits).
 * None knows which path calls it.
 *
 *   pv__limit_record       declared pixels and payload bytes of a record
 *   pv__limit_jpeg_header  decoder memory a JPEG's headers imply (the
 *                          whole-image coefficient buffer of a progressive
 *                          or multi-scan file, row buffers), and its scan
 *                          count, before anything is decoded
 *   pv__limit_jpeg_scans   the scan count as a decoder reads (progress
 *                          monitors call it: the authoritative check)
 *   pv__zstd_check         the zstd rules of spec/FORMAT.md 3.6 (exactly one
 *                          frame, content size declared and equal to
 *                          width*height*3, nothing after it, no dictionary)
 *                          and the frame's window against decoder memory
 *
 * Statuses: PV_ERR_LIMIT for a record over a limit (the message names the
 * limit and both values), PV_ERR_DECODE for a payload that breaks the
 * format's rules. Every message is one line written into err (cap bytes,
 * may be NULL).
 *
 * Depends on: pvpack.h (pv_limits), zstd (ZSTD_findFrameCompressedSize).
 * Thread-safety: pure functions.
 */
#ifndef PV_READ_LIMITS_H
#define PV_READ_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "pv_format.h"
#include "pv_limits.h"
#include "pv_status.h"

/* Copies in into *out: NULL gives the defaults; a smaller (older) struct
 * gives its fields and the defaults for the rest; out->size is set to
 * sizeof(pv_limits). Zero fields stay zero and mean "no limit". A larger
 * (newer) struct is accepted when its fields past ours are zero
 * (format/opts_copy.h).
 * Returns PV_OK or PV_ERR_INVALID_ARG (in->size smaller than the size
 * field itself: not filled by pv_limits_init; or a newer field set). */
pv_status pv__limits_resolve(const pv_limits *in, pv_limits *out);

/* The pv_limits at byte off of a caller's options struct outer (whose own
 * size field says outer_size) into *out: the defaults when outer_size does
 * not reach the limits' size field (a caller from before the field
 * existed), else pv__limits_resolve of the caller's limits, whose size must
 * then lie within outer_size. Returns PV_OK or PV_ERR_INVALID_ARG. */
pv_status pv__limits_resolve_nested(const void *outer, size_t outer_size, size_t off,
                                    pv_limits *out);

/* A record of width x height pixels with a payload of length bytes.
 * Returns PV_OK or PV_ERR_LIMIT (max_record_pixels, max_record_bytes). */
pv_status pv__limit_record(const pv_limits *L, uint32_t width, uint32_t height, uint64_t length,
                           char *err, size_t cap);

/* What a JPEG's headers (the frame header and the first scan header) say
 * that its decoder's memory depends on; filled from libjpeg's
 * jpeg_decompress_struct after jpeg_read_header, or from a marker parse. */
#define PV_JPEG_MAX_COMPONENTS 10 /* libjpeg's MAX_COMPONENTS */
typedef struct pv_jpeg_facts {
  uint32_t width, height;                 /* of the frame */
  int components;                         /* 1..PV_JPEG_MAX_COMPONENTS */
  uint8_t h_samp[PV_JPEG_MAX_COMPONENTS]; /* sampling factors, 1..4 */
  uint8_t v_samp[PV_JPEG_MAX_COMPONENTS];
  int progressive;                        /* SOF2/6/10/14 */
  int multi_scan;                         /* progressive, or a first scan
                                             without every component: the
                                             decoder buffers the whole
                                             image's coefficients */
} pv_jpeg_facts;

/* Bytes libjpeg(-turbo) needs to decode such a JPEG, an upper bound: for a
 * multi-scan file the whole-image coefficient buffer (per component, its
 * blocks rounded up to whole MCUs, 64 two-byte coefficients each, as
 * jdcoefct.c allocates it), plus row buffers (main controller, upsampler),
 * plus 1 MiB for tables and pool overhead. Independent of DCT scaling and
 * cropping (which only shrink the row buffers). */
uint64_t pv__jpeg_decoder_memory(const pv_jpeg_facts *f);

/* Refuses a JPEG whose pv__jpeg_decoder_memory exceeds max_decoder_memory,
 * and a multi-scan JPEG with more than max_scans scans (counted from the
 * markers of p[0, n), the whole stream; cheap next to decoding even one
 * scan, and it spares a decoder up to max_scans passes over the image
 * before the progress-time check would stop it). p may be NULL (no scan
 * count: the progress check alone then applies).
 * Returns PV_OK or PV_ERR_LIMIT. */
pv_status pv__limit_jpeg_header(const pv_limits *L, const pv_jpeg_facts *f, const uint8_t *p,
                                size_t n, char *err, size_t cap);

/* A decoder has reached scan number `scans` (1-based). Returns PV_OK or
 * PV_ERR_LIMIT once scans > max_scans. */
pv_status pv__limit_jpeg_scans(const pv_limits *L, uint64_t scans, char *err, size_t cap);

/* Start-of-scan markers of the JPEG p[0, n) before its EOI (marker
 * segments are skipped by their lengths, entropy-coded data up to the next
 * marker), stopping early once the count exceeds stop_after. Garbage is
 * skipped as libjpeg skips it; an incomplete stream counts what is there. */
uint64_t pv__jpeg_count_scans(const uint8_t *p, size_t n, uint64_t stop_after);

/* The limit on libjpeg's own memory accounting (jpeg_memory_mgr's
 * max_memory_to_use) matching L: a backstop behind pv__limit_jpeg_header.
 * 0 = none. */
long pv__jpeg_max_memory_to_use(const pv_limits *L);

/* The zstd payload p[0, n) of a record whose content must be `content`
 * bytes (width * height * 3). Returns PV_OK; PV_ERR_DECODE when it is not
 * exactly one zstd frame declaring that content size with nothing after it
 * (no skippable frame, no second frame, no trailing bytes), needs a
 * dictionary, or has a block over the frame's maximum block size (which
 * zstd's one-shot decoder would accept and its streaming one refuse); PV_ERR_LIMIT when the memory its window implies (the smaller
 * of window and content, plus block buffers) exceeds max_decoder_memory. */
pv_status pv__zstd_check(const pv_limits *L, const uint8_t *p, size_t n, uint64_t content,
                         char *err, size_t cap);

/* The decoder-memory limit that admits every JPEG of at most max_pixels
 * pixels (8 bytes per pixel: up to 4 components of 2-byte coefficients,
 * plus 64 MiB), capped at 4 GiB; 4 GiB when max_pixels is 0. The packer's
 * limit for source images, and PV_LIMITS_DEFAULT_DECODER_MEMORY at the
 * default pixel limit. */
uint64_t pv__decoder_memory_for_pixels(uint64_t max_pixels);

/* Writes one line into err[cap] (when err is not NULL) and returns st, so
 * that every error path of codec/ reads "return pv__codec_failf(...)". */
pv_status pv__codec_failf(char *err, size_t cap, pv_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif /* PV_READ_LIMITS_H */
