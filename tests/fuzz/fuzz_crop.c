/* fuzz_crop.c - libFuzzer target for the loader's per-sample JPEG path
 * (reader/augment.c with codec/jpeg_splice.c): pv__jpeg_layout and
 * pv__jpeg_splice on hostile bytes, and pv__sample_crop with splicing on
 * and off, as if a record's payload and table entry were hostile.
 *
 * Input layout (all little-endian):
 *   bytes 0-1   width  (value % 1025: 0..1024; large: value % 65501)
 *   bytes 2-3   height (likewise)
 *   bytes 4-11  box x, y, w, h (16 bits each, reduced into the image)
 *   byte 12     output side: 1 + value % 96
 *   byte 13     bit 0 flip, bits 1-2 filter (% 3), bit 3 large declared
 *               sizes (the format's whole range), bits 4-5 codec (0 and 3
 *               jpeg, 1 zstd, 2 raw), bit 6 jpeg_decode=fast (libjpeg's
 *               fast IDCT and merged upsampling, whose skip_scanlines read
 *               freed memory in libjpeg-turbo 2.1: see codec_jpeg.c)
 *   bytes 14..  payload (the record)
 * The sampler and a decoder run with the same limits, lower than the
 * defaults (4 Mpixel, 64 MiB of decoder memory, 100 scans), which keep
 * every exec bounded whatever size the header declares.
 * Checked: statuses are documented ones with a message on failure; a
 * splice, when made, is a stream no longer than the input plus two bytes
 * per interval that starts with SOI and ends with EOI; when both the
 * spliced and the plain path decode, their bytes are equal (damage cannot
 * make a splice show something the plain decode would not); the loader's
 * path and pv_decoder_decode agree on which records are over a limit (one
 * set of limit functions: a record verify --decode calls over a limit is
 * one the loader refuses, and the other way round).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "jpeg_splice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)     \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

#define HDR 14

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

static int documented(pv_status st) {
  return st == PV_OK || st == PV_ERR_DECODE || st == PV_ERR_NOMEM || st == PV_ERR_LIMIT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static pv_sampler *s;
  static pv_decoder *d;
  static pv_jpeg_splice_buf sb;
  if (!s) {
    pv_limits L;
    pv_limits_init(&L);
    L.max_record_pixels = 4u << 20;
    L.max_decoder_memory = 64u << 20;
    L.max_scans = 100;
    if (pv__sampler_create(&s) != PV_OK || pv__sampler_set_limits(s, &L) != PV_OK ||
        pv_decoder_create(&d) != PV_OK || pv_decoder_set_limits(d, &L) != PV_OK)
      abort();
  }
  if (size < HDR) return 0;
  const uint32_t mod = data[13] & 8 ? PV_MAX_DIM + 1 : 1025;
  const uint32_t w = le16(data) % mod, h = le16(data + 2) % mod;
  static const uint8_t codecs[4] = {PV_CODEC_JPEG, PV_CODEC_ZSTD, PV_CODEC_RAW, PV_CODEC_JPEG};
  const uint8_t codec = codecs[data[13] >> 4 & 3];
  const uint8_t *payload = data + HDR;
  const size_t n = size - HDR;

  /* The splicer alone, on a rectangle derived from the box bytes. */
  pv_jpeg_layout L;
  if (pv__jpeg_layout(payload, n, &L)) {
    REQUIRE(L.restart && L.mcus_per_row % L.restart == 0 && L.header_len <= n);
    const uint32_t segs = L.mcus_per_row / L.restart;
    uint32_t c0 = le16(data + 4) % segs, c1 = c0 + 1 + le16(data + 6) % (segs - c0);
    uint32_t r0 = le16(data + 8) % L.mcu_rows, r1 = r0 + 1 + le16(data + 10) % (L.mcu_rows - r0);
    size_t len;
    uint32_t ow, oh;
    if (pv__jpeg_splice(payload, n, &L, c0 * L.restart, c1 * L.restart, r0, r1, &sb, &len, &ow,
                        &oh)) {
      REQUIRE(len >= L.header_len + 2 && len <= n + 2ull * (c1 - c0) * (r1 - r0) + 2);
      REQUIRE(sb.out[0] == 0xFF && sb.out[1] == 0xD8);
      REQUIRE(sb.out[len - 2] == 0xFF && sb.out[len - 1] == 0xD9);
      REQUIRE(ow >= 1 && oh >= 1 && ow <= L.width && oh <= L.height);
    }
  }

  if (!w || !h) return 0;
  pv_crop box;
  box.w = 1 + le16(data + 8) % w;
  box.h = 1 + le16(data + 10) % h;
  box.x = le16(data + 4) % (w - box.w + 1);
  box.y = le16(data + 6) % (h - box.h + 1);
  const uint32_t out = 1 + data[12] % 96;
  const int flip = data[13] & 1;
  const pv_filter f = (pv_filter)((data[13] >> 1 & 3) % 3);
  pv_record rec;
  memset(&rec, 0, sizeof rec);
  rec.data = payload;
  rec.length = (uint32_t)n;
  rec.width = w;
  rec.height = h;
  rec.codec = codec;
  const size_t bytes = (size_t)out * out * 3;
  uint8_t *a = malloc(bytes), *b = malloc(bytes);
  REQUIRE(a && b);
  pv__sampler_set_jpeg_fast(s, data[13] >> 6 & 1);
  pv__sampler_set_splice(s, 1);
  pv_status sa = pv__sample_crop(s, &rec, box, out, out, flip, f, 0, a, (size_t)out * 3);
  REQUIRE(documented(sa));
  if (sa != PV_OK) REQUIRE(pv__sampler_last_error(s)[0] != 0);
  pv__sampler_set_splice(s, 0);
  pv_status sp = pv__sample_crop(s, &rec, box, out, out, flip, f, 0, b, (size_t)out * 3);
  REQUIRE(documented(sp));
  if (sa == PV_OK && sp == PV_OK) REQUIRE(memcmp(a, b, bytes) == 0);
  REQUIRE((sa == PV_ERR_LIMIT) == (sp == PV_ERR_LIMIT));
  free(a);
  free(b);

  /* The decoder's verdict on limits is the loader's. */
  pv_status sc = pv_decoder_check(d, &rec);
  REQUIRE(documented(sc));
  if (sc == PV_ERR_LIMIT) REQUIRE(sp == PV_ERR_LIMIT);
  if (sc == PV_OK) {
    REQUIRE((uint64_t)w * h <= 4u << 20);
    uint8_t *px = malloc((size_t)w * h * 3);
    REQUIRE(px);
    pv_status sd = pv_decoder_decode(d, &rec, px, (size_t)w * 3, (size_t)w * h * 3);
    REQUIRE(documented(sd));
    /* A full decode meets every limit a partial one does (all scans are
     * read before the first row either way). */
    if (sp == PV_ERR_LIMIT) REQUIRE(sd == PV_ERR_LIMIT);
    free(px);
  }
  return 0;
}
