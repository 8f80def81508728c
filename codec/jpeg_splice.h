/* jpeg_splice.h - cut a rectangle of MCUs out of a baseline JPEG that has
 * restart markers, without decoding anything (internal to codec/, used by reader/).
 *
 * Why: for a crop, libjpeg-turbo can skip the IDCT of columns and rows
 * outside it (jpeg_crop_scanline, jpeg_skip_scanlines), but it still has to
 * Huffman-decode every MCU before the crop's last row, because the
 * entropy-coded data is one sequential bit stream. Huffman decoding is most
 * of the time of a decode. When the stream has restart markers every R MCUs
 * and R divides the MCUs per row, each segment between two markers is
 * independently decodable (the DC predictors restart at zero), and each MCU
 * row is a whole number of segments. So the segments covering columns
 * [c0, c1) of rows [r0, r1) (c0, c1 multiples of R) are, byte for byte, the
 * entropy-coded data of a smaller JPEG: the same header with the frame's
 * width and height changed, those segments in order, restart markers
 * renumbered, and EOI. Decoding that JPEG gives exactly the blocks the full
 * decode gives for that rectangle; only upsampling at its edges sees
 * replicated neighbours instead of real ones, so callers take a margin.
 * pvpack's packer writes such JPEGs (codec/encode.h); any other JPEG is
 * reported as not spliceable and decoded the ordinary way.
 *
 * Everything here reads untrusted bytes: every offset is checked against
 * the length; anything unexpected means "not spliceable" (the ordinary
 * decoder then reports real damage), never an out-of-bounds access.
 * Depends on: libc, read_limits.h (facts only). Thread-safety: reentrant (state in the caller's
 * structures).
 */
#ifndef PV_JPEG_SPLICE_H
#define PV_JPEG_SPLICE_H

#include <stddef.h>
#include <stdint.h>

/* What the header says, for a spliceable JPEG. */
typedef struct pv_jpeg_layout {
  uint32_t width, height;       /* of the image */
  uint32_t mcu_w, mcu_h;        /* MCU size in pixels (8 x h_max, 8 x v_max) */
  uint32_t mcus_per_row, mcu_rows;
  uint32_t restart;             /* MCUs per restart interval; divides mcus_per_row */
  uint32_t components;          /* 1 or 3 */
  uint8_t h_samp[3], v_samp[3]; /* the frame's sampling factors */
  size_t header_len;            /* bytes [0, header_len): SOI .. end of the SOS segment */
  size_t sof_dims;              /* offset of the frame header's height field */
} pv_jpeg_layout;

/* Parses the markers of p[0, n) up to the start of scan. Returns 1 and
 * fills *L when the JPEG is spliceable: baseline or extended sequential
 * Huffman (SOF0/SOF1), 8-bit, one component or three with the first
 * sampled 1 or 2 in each direction and the others 1x1, a single scan of
 * all components, a restart interval that divides the MCUs per row.
 * Returns 0 otherwise (including damage). */
int pv__jpeg_layout(const uint8_t *p, size_t n, pv_jpeg_layout *L);

/* The read_limits.h facts of such a JPEG (single-scan, sequential): what the
 * limits of its decode depend on, whatever part of it is decoded. */
struct pv_jpeg_facts;
void pv__jpeg_layout_facts(const pv_jpeg_layout *L, struct pv_jpeg_facts *f);

/* Scratch for pv__jpeg_splice: segment offsets and the output buffer,
 * grown on demand and kept (no allocation in steady state). */
typedef struct pv_jpeg_splice_buf {
  uint32_t *seg;                /* start offset of each segment found */
  size_t seg_cap;
  uint8_t *out;
  size_t out_cap;
} pv_jpeg_splice_buf;
void pv__jpeg_splice_buf_free(pv_jpeg_splice_buf *b);

/* Writes into b->out the JPEG made of MCU columns [c0, c1) and MCU rows
 * [r0, r1) of p (layout L from pv__jpeg_layout on the same bytes). c0 and
 * c1 must be multiples of L->restart, or c1 == L->mcus_per_row; c0 < c1 <=
 * mcus_per_row, r0 < r1 <= mcu_rows. The result is (c1-c0)*mcu_w wide
 * (less at the right edge of the image: the image's own remainder) and
 * likewise high; its pixel (0, 0) is the image's (c0*mcu_w, r0*mcu_h).
 * Returns 1 and sets *len, *out_w, *out_h; 0 when the stream does not
 * have the restart markers the header promised before the last segment
 * needed (damage, or markers misnumbered), or on out of memory — the caller
 * then decodes the original. Only the segments up to the last needed one
 * are scanned. */
int pv__jpeg_splice(const uint8_t *p, size_t n, const pv_jpeg_layout *L, uint32_t c0,
                    uint32_t c1, uint32_t r0, uint32_t r1, pv_jpeg_splice_buf *b, size_t *len,
                    uint32_t *out_w, uint32_t *out_h);

#endif /* PV_JPEG_SPLICE_H */
