/* hostile_payloads.c - see hostile_payloads.h. */
#include "hostile_payloads.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

void pvhp_put(pvhp_buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    size_t c = b->cap ? b->cap : 256;
    while (c < b->n + n) c *= 2;
    b->p = realloc(b->p, c);
    if (!b->p) abort();
    b->cap = c;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
void pvhp_put8(pvhp_buf *b, unsigned v) {
  uint8_t c = (uint8_t)v;
  pvhp_put(b, &c, 1);
}
void pvhp_put16be(pvhp_buf *b, unsigned v) {
  pvhp_put8(b, v >> 8);
  pvhp_put8(b, v);
}
void pvhp_putle(pvhp_buf *b, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) pvhp_put8(b, (unsigned)(v >> (8 * i)));
}

/* A zstd frame holding `content` zero bytes as RLE blocks of 128 KiB (4
 * bytes each): RFC 8878 by hand, so 12.9 GB of content costs nothing to
 * make. single: Single_Segment (window = content); else a 128 KiB window. */
pvhp_buf pvhp_zstd_zeros_ex(uint64_t content, int single, unsigned window_log, uint32_t block) {
  pvhp_buf b = {0};
  pvhp_putle(&b, 0xFD2FB528u, 4);
  pvhp_put8(&b, 0xC0 | (single ? 0x20 : 0)); /* FCS 8 bytes */
  if (!single) pvhp_put8(&b, (window_log - 10) << 3);
  pvhp_putle(&b, content, 8);
  uint64_t left = content;
  do {
    const uint32_t n = left > block ? block : (uint32_t)left;
    left -= n;
    const uint32_t hdr = (left == 0 ? 1u : 0u) | (1u << 1) /* RLE */ | (n << 3);
    pvhp_putle(&b, hdr, 3);
    pvhp_put8(&b, 0);
  } while (left);
  return b;
}

pvhp_buf pvhp_zstd_zeros(uint64_t content, int single) {
  return pvhp_zstd_zeros_ex(content, single, 17, 128u << 10);
}

/* An ordinary zstd frame of `bytes` bytes of pattern. */
pvhp_buf pvhp_zstd_frame(size_t bytes, int content_size_flag) {
  uint8_t *src = malloc(bytes ? bytes : 1);
  if (!src) abort();
  for (size_t i = 0; i < bytes; i++) src[i] = (uint8_t)(i * 7 + (i >> 5));
  pvhp_buf b = {0};
  b.cap = ZSTD_compressBound(bytes);
  b.p = malloc(b.cap);
  if (!b.p) abort();
  ZSTD_CCtx *c = ZSTD_createCCtx();
  if (!c) abort();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, content_size_flag);
  ZSTD_inBuffer in = {src, bytes, 0};
  ZSTD_outBuffer out = {b.p, b.cap, 0};
  size_t r;
  do {
    r = ZSTD_compressStream2(c, &out, &in, ZSTD_e_end);
    if (ZSTD_isError(r)) abort();
  } while (r);
  b.n = out.pos;
  ZSTD_freeCCtx(c);
  free(src);
  return b;
}

void pvhp_put_skippable(pvhp_buf *b) {
  pvhp_putle(b, 0x184D2A50u, 4);
  pvhp_putle(b, 4, 4);
  pvhp_putle(b, 0xdeadbeef, 4);
}

/* MSB-first bit writer with JPEG byte stuffing. */
typedef struct bits {
  pvhp_buf *b;
  uint32_t acc;
  int n;
} bits;
static void bits_put(bits *w, uint32_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    w->acc = w->acc << 1 | ((v >> i) & 1);
    if (++w->n == 8) {
      pvhp_put8(w->b, w->acc);
      if ((w->acc & 0xFF) == 0xFF) pvhp_put8(w->b, 0);
      w->acc = 0;
      w->n = 0;
    }
  }
}
static void bits_flush(bits *w) {
  while (w->n) bits_put(w, 1, 1); /* pad with ones */
}

/* A valid progressive grayscale JPEG of w x h with `scans` scans: one DC
 * first scan (every DC difference 0), then scans - 1 AC first scans of band
 * 1..63 holding nothing but end-of-band runs (<= 32767 blocks a symbol), so
 * each costs a few bytes and a full pass over the image's blocks. All scans
 * have Ah = Al = 0, which libjpeg accepts without a warning however often
 * a band repeats. When `truncate`, only the first 64 bytes of the DC scan's
 * data are written before EOI (a header for a decoder to size itself by). */
pvhp_buf pvhp_jpeg_scans(uint32_t w, uint32_t h, uint32_t scans, int truncate) {
  pvhp_buf b = {0};
  pvhp_put16be(&b, 0xFFD8);
  pvhp_put16be(&b, 0xFFDB); /* DQT: table 0, all ones */
  pvhp_put16be(&b, 67);
  pvhp_put8(&b, 0);
  for (int i = 0; i < 64; i++) pvhp_put8(&b, 1);
  pvhp_put16be(&b, 0xFFC2); /* SOF2: 8-bit, 1 component, 1x1, table 0 */
  pvhp_put16be(&b, 11);
  pvhp_put8(&b, 8);
  pvhp_put16be(&b, h);
  pvhp_put16be(&b, w);
  pvhp_put8(&b, 1);
  pvhp_put8(&b, 1);
  pvhp_put8(&b, 0x11);
  pvhp_put8(&b, 0);
  pvhp_put16be(&b, 0xFFC4); /* DHT DC 0: one code '0' for category 0 */
  pvhp_put16be(&b, 2 + 1 + 16 + 1);
  pvhp_put8(&b, 0x00);
  for (int i = 0; i < 16; i++) pvhp_put8(&b, i == 0 ? 1 : 0);
  pvhp_put8(&b, 0x00);
  pvhp_put16be(&b, 0xFFC4); /* DHT AC 0: EOBr (r = 0..14) as the 4-bit codes r */
  pvhp_put16be(&b, 2 + 1 + 16 + 15);
  pvhp_put8(&b, 0x10);
  for (int i = 0; i < 16; i++) pvhp_put8(&b, i == 3 ? 15 : 0);
  for (int r = 0; r < 15; r++) pvhp_put8(&b, (unsigned)(r << 4));
  const uint64_t blocks = (uint64_t)((w + 7) / 8) * ((h + 7) / 8);
  for (uint32_t s = 0; s < scans; s++) {
    pvhp_put16be(&b, 0xFFDA);
    pvhp_put16be(&b, 8);
    pvhp_put8(&b, 1);
    pvhp_put8(&b, 1);
    pvhp_put8(&b, 0x00);
    pvhp_put8(&b, s == 0 ? 0 : 1);  /* Ss */
    pvhp_put8(&b, s == 0 ? 0 : 63); /* Se */
    pvhp_put8(&b, 0);               /* Ah, Al */
    bits bw = {&b, 0, 0};
    if (s == 0) {
      if (truncate) {
        for (int i = 0; i < 64; i++) pvhp_put8(&b, 0);
        break;
      }
      for (uint64_t k = 0; k < blocks; k++) bits_put(&bw, 0, 1);
    } else {
      for (uint64_t left = blocks; left;) {
        const uint32_t run = left > 32767 ? 32767 : (uint32_t)left;
        int r = 0;
        while ((2u << r) <= run) r++;
        bits_put(&bw, (uint32_t)r, 4);
        if (r) bits_put(&bw, run - (1u << r), r);
        left -= run;
      }
    }
    bits_flush(&bw);
  }
  pvhp_put16be(&b, 0xFFD9);
  return b;
}

