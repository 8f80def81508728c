/* jpeg_splice.c - see jpeg_splice.h. Marker syntax: ITU-T T.81, B.1. */
#include "jpeg_splice.h"

#include <stdlib.h>
#include <string.h>

#include "read_limits.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

int pv__jpeg_layout(const uint8_t *p, size_t n, pv_jpeg_layout *L) {
  if (!p || !L || n < 4 || n > UINT32_MAX || p[0] != 0xFF || p[1] != 0xD8) return 0;
  memset(L, 0, sizeof *L);
  size_t pos = 2;
  int have_sof = 0;
  uint32_t nf = 0, h0 = 1, v0 = 1;
  for (;;) {
    if (pos >= n || p[pos] != 0xFF) return 0;
    while (pos < n && p[pos] == 0xFF) pos++; /* fill bytes before a marker */
    if (pos >= n) return 0;
    const uint8_t m = p[pos++];
    /* Stand-alone markers (RSTn, SOI, EOI, TEM) have no business here. */
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD9)) return 0;
    if (n - pos < 2) return 0;
    const uint32_t len = be16(p + pos);
    if (len < 2 || len > n - pos) return 0;
    const uint8_t *q = p + pos + 2; /* segment body, len - 2 bytes */
    if (m == 0xC0 || m == 0xC1) {
      if (have_sof || len < 8) return 0;
      nf = q[5];
      if (q[0] != 8 || (nf != 1 && nf != 3) || len != 8 + 3 * nf) return 0;
      L->height = be16(q + 1);
      L->width = be16(q + 3);
      if (!L->height || !L->width) return 0; /* height 0: DNL, not for us */
      L->sof_dims = pos + 3;
      for (uint32_t c = 0; c < nf; c++) {
        L->h_samp[c] = q[6 + 3 * c + 1] >> 4;
        L->v_samp[c] = q[6 + 3 * c + 1] & 15;
      }
      if (nf == 3) {
        h0 = q[7] >> 4, v0 = q[7] & 15;
        if (h0 < 1 || h0 > 2 || v0 < 1 || v0 > 2) return 0;
        for (uint32_t c = 1; c < 3; c++)
          if (q[6 + 3 * c + 1] != 0x11) return 0;
      }
      have_sof = 1;
    } else if ((m >= 0xC2 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)) {
      return 0; /* progressive, lossless, hierarchical or arithmetic */
    } else if (m == 0xDD) {
      if (len != 4) return 0;
      L->restart = be16(q);
    } else if (m == 0xDA) {
      if (!have_sof || len < 3 || q[0] != nf || len != 6 + 2 * nf) return 0;
      const uint8_t *t = q + 1 + 2 * nf; /* Ss, Se, Ah/Al */
      if (t[0] != 0 || t[1] != 63 || t[2] != 0) return 0;
      L->header_len = pos + len;
      break;
    }
    pos += len;
  }
  if (!L->restart) return 0;
  L->components = nf;
  L->mcu_w = nf == 3 ? 8 * h0 : 8;
  L->mcu_h = nf == 3 ? 8 * v0 : 8;
  L->mcus_per_row = (L->width + L->mcu_w - 1) / L->mcu_w;
  L->mcu_rows = (L->height + L->mcu_h - 1) / L->mcu_h;
  if (L->mcus_per_row % L->restart) return 0;
  return 1;
}

void pv__jpeg_layout_facts(const pv_jpeg_layout *L, struct pv_jpeg_facts *f) {
  memset(f, 0, sizeof *f);
  f->width = L->width;
  f->height = L->height;
  f->components = (int)L->components;
  for (int c = 0; c < f->components && c < 3; c++) {
    f->h_samp[c] = L->h_samp[c];
    f->v_samp[c] = L->v_samp[c];
  }
  f->progressive = f->multi_scan = 0; /* SOF0/SOF1, one scan of every component */
}

void pv__jpeg_splice_buf_free(pv_jpeg_splice_buf *b) {
  if (!b) return;
  free(b->seg);
  free(b->out);
  memset(b, 0, sizeof *b);
}

static int grow(void **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 1;
  size_t ncap = *cap ? *cap : 256;
  while (ncap < need) ncap *= 2;
  void *q = realloc(*buf, ncap);
  if (!q) return 0;
  *buf = q;
  *cap = ncap;
  return 1;
}

int pv__jpeg_splice(const uint8_t *p, size_t n, const pv_jpeg_layout *L, uint32_t c0,
                    uint32_t c1, uint32_t r0, uint32_t r1, pv_jpeg_splice_buf *b, size_t *len,
                    uint32_t *out_w, uint32_t *out_h) {
  if (!p || !L || !b || !len || !out_w || !out_h || !L->restart || n > UINT32_MAX ||
      L->header_len >= n || c0 >= c1 || c1 > L->mcus_per_row || r0 >= r1 ||
      r1 > L->mcu_rows || c0 % L->restart || c1 % L->restart)
    return 0;
  const uint64_t spr = L->mcus_per_row / L->restart; /* segments per MCU row */
  const uint64_t total = spr * L->mcu_rows;
  const uint64_t last = (uint64_t)(r1 - 1) * spr + c1 / L->restart - 1;
  if (last >= total || !grow((void **)&b->seg, &b->seg_cap, (size_t)(last + 1) * sizeof *b->seg))
    return 0;

  /* b->seg[k] = offset of the marker that ends segment k (RSTn or EOI). */
  uint64_t k = 0;
  size_t pos = L->header_len;
  while (k <= last) {
    const uint8_t *ff = memchr(p + pos, 0xFF, n - pos);
    if (!ff) return 0;
    const size_t q = (size_t)(ff - p);
    if (q + 1 >= n) return 0;
    const uint8_t m = p[q + 1];
    if (m == 0x00) {        /* stuffed data byte */
      pos = q + 2;
    } else if (m == 0xFF) { /* fill byte; the marker follows */
      pos = q + 1;
    } else if (m >= 0xD0 && m <= 0xD7) {
      if (m - 0xD0 != (int)(k % 8) || k + 1 >= total) return 0;
      b->seg[k++] = (uint32_t)q;
      pos = q + 2;
    } else if (m == 0xD9) {
      if (k + 1 != total) return 0; /* EOI before the promised segments */
      b->seg[k++] = (uint32_t)q;
      pos = q + 2;
    } else {
      return 0;
    }
  }

  /* Upper bound of the output: header, the data up to the last segment
   * needed, two bytes per new marker, EOI. */
  const uint64_t nsel = (uint64_t)(r1 - r0) * ((c1 - c0) / L->restart);
  const uint64_t bound = (uint64_t)b->seg[last] + 2 * nsel + 2;
  if (bound > SIZE_MAX || !grow((void **)&b->out, &b->out_cap, (size_t)bound)) return 0;

  uint8_t *o = b->out;
  memcpy(o, p, L->header_len);
  const uint32_t x0 = c0 * L->mcu_w, y0 = r0 * L->mcu_h;
  const uint32_t x1 = (uint64_t)c1 * L->mcu_w < L->width ? c1 * L->mcu_w : L->width;
  const uint32_t y1 = (uint64_t)r1 * L->mcu_h < L->height ? r1 * L->mcu_h : L->height;
  const uint32_t w = x1 - x0, h = y1 - y0;
  o[L->sof_dims] = (uint8_t)(h >> 8);
  o[L->sof_dims + 1] = (uint8_t)h;
  o[L->sof_dims + 2] = (uint8_t)(w >> 8);
  o[L->sof_dims + 3] = (uint8_t)w;
  size_t at = L->header_len;
  uint64_t m = 0;
  for (uint32_t r = r0; r < r1; r++) {
    for (uint32_t s = c0 / L->restart; s < c1 / L->restart; s++, m++) {
      const uint64_t seg = (uint64_t)r * spr + s;
      const size_t from = seg ? (size_t)b->seg[seg - 1] + 2 : L->header_len;
      const size_t to = b->seg[seg];
      memcpy(o + at, p + from, to - from);
      at += to - from;
      o[at++] = 0xFF;
      o[at++] = m + 1 == nsel ? 0xD9 : (uint8_t)(0xD0 + m % 8);
    }
  }
  *len = at;
  *out_w = w;
  *out_h = h;
  return 1;
}
