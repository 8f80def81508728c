/* hostile_payloads.h - record payloads for the hostile-decode suites, built
 * in-process from the formats' definitions (RFC 8878, ITU-T T.81) so that a
 * test needs no file it cannot make: shared by test_hostile_decode.c, the
 * make_hostile helper (python/tests) and the fuzz seeds. Every builder
 * aborts on out of memory. */
#ifndef PV_HOSTILE_PAYLOADS_H
#define PV_HOSTILE_PAYLOADS_H

#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer; free p when done. */
typedef struct pvhp_buf {
  uint8_t *p;
  size_t n, cap;
} pvhp_buf;
void pvhp_put(pvhp_buf *b, const void *d, size_t n);
void pvhp_put8(pvhp_buf *b, unsigned v);
void pvhp_put16be(pvhp_buf *b, unsigned v);
void pvhp_putle(pvhp_buf *b, uint64_t v, int bytes);

/* A zstd frame holding `content` zero bytes as RLE blocks of 128 KiB (4
 * bytes each), so 12.9 GB of content is a 393 KB payload. single:
 * Single_Segment (window = content); else a 128 KiB window. */
pvhp_buf pvhp_zstd_zeros(uint64_t content, int single);
/* The same with a window of 2^window_log (not single) and RLE blocks of
 * `block` bytes (more than the window: a frame the spec forbids). */
pvhp_buf pvhp_zstd_zeros_ex(uint64_t content, int single, unsigned window_log, uint32_t block);
/* An ordinary zstd frame of `bytes` bytes of pattern, declaring its content
 * size or not. */
pvhp_buf pvhp_zstd_frame(size_t bytes, int content_size_flag);
/* Appends a skippable frame of 4 bytes. */
void pvhp_put_skippable(pvhp_buf *b);

/* A valid progressive grayscale JPEG of w x h with `scans` scans: one DC
 * first scan (every DC difference 0), then scans - 1 AC first scans of band
 * 1..63 of nothing but end-of-band runs (<= 32767 blocks a symbol), so each
 * costs a few bytes and a full pass over the image's blocks; all with
 * Ah = Al = 0, which libjpeg accepts without a warning however often a band
 * repeats. truncate: only 64 bytes of the DC scan's data, then EOI (a
 * header for a decoder to size itself by). */
pvhp_buf pvhp_jpeg_scans(uint32_t w, uint32_t h, uint32_t scans, int truncate);

#endif
