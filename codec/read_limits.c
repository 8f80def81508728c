/* read_limits.c - the read-side limit checks (see read_limits.h). */
#include "read_limits.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "opts_copy.h"

/* pv_limits_init: limits_options.c, from the table. */


pv_status pv__codec_failf(char *err, size_t cap, pv_status st, const char *fmt, ...) {
  if (err && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return st;
}

pv_status pv__limits_resolve(const pv_limits *in, pv_limits *out) {
  /* An older caller's struct is a prefix of ours; a newer one's may only
   * leave the fields we do not know at zero. */
  return PV__OPTS_COPY(out, pv_limits_init, in);
}

pv_status pv__limits_resolve_nested(const void *outer, size_t outer_size, size_t off,
                                    pv_limits *out) {
  pv_limits_init(out);
  if (!outer || outer_size < off + sizeof out->size) return PV_OK;
  const pv_limits *in = (const pv_limits *)((const char *)outer + off);
  if (in->size > outer_size - off) return PV_ERR_INVALID_ARG;
  return pv__limits_resolve(in, out);
}

pv_status pv__limit_record(const pv_limits *L, uint32_t width, uint32_t height, uint64_t length,
                           char *err, size_t cap) {
  const uint64_t px = (uint64_t)width * height;
  if (L->max_record_pixels && px > L->max_record_pixels)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "%ux%u = %llu pixels, over max_record_pixels %llu",
                 width, height, (unsigned long long)px,
                 (unsigned long long)L->max_record_pixels);
  if (L->max_record_bytes && length > L->max_record_bytes)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "payload of %llu bytes, over max_record_bytes %llu",
                 (unsigned long long)length, (unsigned long long)L->max_record_bytes);
  return PV_OK;
}

/* ---- JPEG ------------------------------------------------------------------ */

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
static uint64_t round_up(uint64_t a, uint64_t b) { return ceil_div(a, b) * b; }

uint64_t pv__jpeg_decoder_memory(const pv_jpeg_facts *f) {
  const int nc = f->components < 1                        ? 1
                 : f->components > PV_JPEG_MAX_COMPONENTS ? PV_JPEG_MAX_COMPONENTS
                                                          : f->components;
  uint64_t max_h = 1, max_v = 1;
  for (int c = 0; c < nc; c++) {
    if (f->h_samp[c] > max_h) max_h = f->h_samp[c];
    if (f->v_samp[c] > max_v) max_v = f->v_samp[c];
  }
  uint64_t coef = 0, rows = 0;
  for (int c = 0; c < nc; c++) {
    const uint64_t h = f->h_samp[c] ? f->h_samp[c] : 1, v = f->v_samp[c] ? f->v_samp[c] : 1;
    /* jdinput.c initial_setup: the component's size in 8x8 blocks. */
    const uint64_t wib = ceil_div((uint64_t)f->width * h, max_h * 8);
    const uint64_t hib = ceil_div((uint64_t)f->height * v, max_v * 8);
    /* jdcoefct.c: a virtual array of whole MCUs, 64 JCOEFs per block. */
    coef += round_up(wib, h) * round_up(hib, v) * 128;
    /* jdmainct.c keeps (v * 8) x (min scaled size + 2) sample rows of the
     * component (with context rows for fancy upsampling), jdsample.c a
     * max_v row group at output width: 16 * max_v rows of the component's
     * padded width bound both. */
    rows += round_up(wib, h) * 8 * 16 * max_v;
  }
  return (f->multi_scan ? coef : 0) + rows + (1u << 20);
}

/* The marker at p[pos] (after any fill bytes): its code, and *after set to
 * the first byte past the marker code. 0 when there is none before n. */
static int marker_at(const uint8_t *p, size_t n, size_t pos, size_t *after) {
  while (pos < n && p[pos] != 0xFF) pos++; /* garbage, as libjpeg skips it */
  while (pos < n && p[pos] == 0xFF) pos++; /* fill bytes */
  if (pos >= n) return 0;
  *after = pos + 1;
  return p[pos];
}

uint64_t pv__jpeg_count_scans(const uint8_t *p, size_t n, uint64_t stop_after) {
  if (!p || n < 4 || p[0] != 0xFF || p[1] != 0xD8) return 0;
  uint64_t scans = 0;
  size_t pos = 2;
  for (;;) {
    size_t at;
    const int m = marker_at(p, n, pos, &at);
    if (m == 0 || m == 0xD9) return scans; /* end of data, EOI */
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
      pos = at; /* stand-alone markers */
      continue;
    }
    if (n - at < 2) return scans;
    const size_t len = (size_t)p[at] << 8 | p[at + 1];
    if (len < 2 || len > n - at) return scans;
    pos = at + len;
    if (m != 0xDA) continue;
    if (++scans > stop_after) return scans;
    /* Entropy-coded data: up to the next marker that is neither a stuffed
     * zero (FF 00) nor a restart marker. */
    for (;;) {
      const uint8_t *ff = memchr(p + pos, 0xFF, n - pos);
      if (!ff) return scans;
      size_t q = (size_t)(ff - p);
      while (q + 1 < n && p[q + 1] == 0xFF) q++;
      if (q + 1 >= n) return scans;
      const uint8_t c = p[q + 1];
      if (c == 0x00 || (c >= 0xD0 && c <= 0xD7)) {
        pos = q + 2;
        continue;
      }
      pos = q;
      break;
    }
  }
}

pv_status pv__limit_jpeg_scans(const pv_limits *L, uint64_t scans, char *err, size_t cap) {
  if (L->max_scans && scans > L->max_scans)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "JPEG has more than %u scans (max_scans %u)",
                 L->max_scans, L->max_scans);
  return PV_OK;
}

pv_status pv__limit_jpeg_header(const pv_limits *L, const pv_jpeg_facts *f, const uint8_t *p,
                                size_t n, char *err, size_t cap) {
  const uint64_t need = pv__jpeg_decoder_memory(f);
  if (L->max_decoder_memory && need > L->max_decoder_memory)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT,
                 "JPEG %ux%u (%d components%s) needs about %llu MiB of decoder memory, over "
                 "max_decoder_memory %llu MiB",
                 f->width, f->height, f->components,
                 f->progressive ? ", progressive" : f->multi_scan ? ", multi-scan" : "",
                 (unsigned long long)(need >> 20),
                 (unsigned long long)(L->max_decoder_memory >> 20));
  /* A single-scan file reads its entropy data once, whatever follows it: no
   * count needed (and none of its bytes walked). */
  if (f->multi_scan && p && L->max_scans)
    return pv__limit_jpeg_scans(L, pv__jpeg_count_scans(p, n, L->max_scans), err, cap);
  return PV_OK;
}

long pv__jpeg_max_memory_to_use(const pv_limits *L) {
  if (!L->max_decoder_memory) return 0;
  return L->max_decoder_memory > (uint64_t)LONG_MAX ? LONG_MAX : (long)L->max_decoder_memory;
}

uint64_t pv__decoder_memory_for_pixels(uint64_t max_pixels) {
  const uint64_t cap = 4ull << 30, slack = 64ull << 20;
  if (max_pixels && max_pixels < (cap - slack) / 8) return max_pixels * 8 + slack;
  return cap;
}

/* ---- zstd (RFC 8878, 3.1.1) -------------------------------------------------- */

#define PV_ZSTD_MAGIC 0xFD2FB528u
#define PV_ZSTD_BLOCK_MAX (128u << 10)

pv_status pv__zstd_check(const pv_limits *L, const uint8_t *p, size_t n, uint64_t content,
                         char *err, size_t cap) {
  if (!p || n < 5)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: payload of %zu bytes holds no frame header", n);
  const uint32_t magic = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24;
  if ((magic & 0xFFFFFFF0u) == 0x184D2A50u)
    return pv__codec_failf(err, cap, PV_ERR_DECODE,
                 "zstd: payload starts with a skippable frame (must be one zstd frame)");
  if (magic != PV_ZSTD_MAGIC)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: bad frame magic %08x", magic);
  const uint8_t fhd = p[4];
  const unsigned fcs_flag = fhd >> 6, single = fhd >> 5 & 1, dict_flag = fhd & 3;
  if (fhd & 0x08) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: reserved frame header bit set");
  static const uint8_t dict_bytes[4] = {0, 1, 2, 4}, fcs_bytes[4] = {0, 2, 4, 8};
  const size_t fcs_len = fcs_flag == 0 && single ? 1 : fcs_bytes[fcs_flag];
  const size_t hdr = 5 + (single ? 0 : 1) + dict_bytes[dict_flag] + fcs_len;
  if (n < hdr) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: truncated frame header");
  size_t pos = 5;
  uint64_t window = 0;
  if (!single) {
    const uint8_t wd = p[pos++];
    const uint64_t base = 1ull << (10 + (wd >> 3));
    window = base + (base >> 3) * (wd & 7);
  }
  uint32_t dict = 0;
  for (unsigned i = 0; i < dict_bytes[dict_flag]; i++) dict |= (uint32_t)p[pos++] << (8 * i);
  if (dict) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: frame needs dictionary %u", dict);
  if (!fcs_len) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: frame declares no content size");
  uint64_t fcs = 0;
  for (size_t i = 0; i < fcs_len; i++) fcs |= (uint64_t)p[pos++] << (8 * i);
  if (fcs_len == 2) fcs += 256;
  if (fcs != content || ZSTD_getFrameContentSize(p, n) != (unsigned long long)content)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd frame holds %llu bytes, expected %llu",
                 (unsigned long long)fcs, (unsigned long long)content);
  if (single) window = fcs;
  /* A streaming decoder keeps min(window, content) bytes of history plus a
   * block of input and output; one-shot decoding needs none of it, but the
   * rule is the same for every path. */
  const uint64_t mem = (window < fcs ? window : fcs) + 2ull * PV_ZSTD_BLOCK_MAX;
  if (L->max_decoder_memory && mem > L->max_decoder_memory)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT,
                 "zstd frame window needs %llu MiB of decoder memory, over max_decoder_memory "
                 "%llu MiB",
                 (unsigned long long)(mem >> 20),
                 (unsigned long long)(L->max_decoder_memory >> 20));
  /* The blocks (RFC 8878 3.1.1.2): each within Block_Maximum_Size, the
   * smaller of the window and 128 KiB. zstd's one-shot decoder does not
   * hold RLE and raw blocks to that bound while its streaming decoder does,
   * so without this check the two paths of a reader would disagree. */
  const uint64_t bmax = window < PV_ZSTD_BLOCK_MAX ? window : PV_ZSTD_BLOCK_MAX;
  size_t at = hdr;
  for (;;) {
    if (n - at < 3) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: truncated block header");
    const uint32_t bh = (uint32_t)p[at] | (uint32_t)p[at + 1] << 8 | (uint32_t)p[at + 2] << 16;
    const uint32_t type = bh >> 1 & 3, bsize = bh >> 3;
    at += 3;
    if (type == 3) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: reserved block type");
    if (bsize > bmax)
      return pv__codec_failf(err, cap, PV_ERR_DECODE,
                   "zstd: block of %u bytes over the frame's maximum block size %llu", bsize,
                   (unsigned long long)bmax);
    const size_t body = type == 1 ? 1 : bsize; /* RLE: one byte, repeated */
    if (n - at < body) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: truncated block");
    at += body;
    if (bh & 1) break; /* Last_Block */
  }
  if (fhd & 0x04) { /* Content_Checksum */
    if (n - at < 4) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: truncated checksum");
    at += 4;
  }
  const size_t fsz = ZSTD_findFrameCompressedSize(p, n);
  if (ZSTD_isError(fsz)) return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: %s", ZSTD_getErrorName(fsz));
  if (fsz != at)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "zstd: frame of %zu bytes, zstd says %zu", at, fsz);
  if (at != n)
    return pv__codec_failf(err, cap, PV_ERR_DECODE,
                 "zstd: %zu bytes after the frame (must be one frame and nothing else)", n - at);
  return PV_OK;
}
