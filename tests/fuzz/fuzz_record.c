/* fuzz_record.c - libFuzzer target for the reader's record decoding
 * (reader/record_decode.c): pv_decoder_decode on a pv_record built from the
 * input, as if a shard's record table and payload were hostile.
 *
 * Input layout (all little-endian):
 *   byte 0      bits 0-6: codec (0 raw, 1 jpeg, 2 zstd; 3 and up: unknown
 *               codecs); bit 7: large declared sizes (below)
 *   bytes 1-2   width  (value % 513: 0..512; large: value % 65501, the
 *               format's whole range)
 *   bytes 3-4   height (likewise)
 *   byte 5      extra stride in bytes for the second pass (1..64)
 *   bytes 6..   payload (rec.data, rec.length)
 * The decoder runs with limits lower than the defaults (FUZZ_PIXELS pixels,
 * FUZZ_MEMORY bytes of decoder memory, FUZZ_SCANS scans), so that the large
 * sizes a few bytes can declare (a 65500x65500 zstd frame of RLE blocks, a
 * progressive JPEG header) are reachable while every exec stays bounded:
 * as a reader does, the input is first checked (pv_decoder_check) and only
 * a record within the limits gets its width*height*3 destination.
 * Each such input is decoded twice into destinations of exactly the size
 * the call needs (so ASan sees any write past them): once tightly packed
 * (stride = width*3), once with a larger stride. Checked: the status is
 * one of the documented ones with a message on failure; a record the check
 * passes is within the pixel limit; both passes agree on the status and on
 * every pixel; a raw record's pixels are its payload; a destination one
 * byte short is refused before anything is written.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) \
  do {             \
    if (!(c)) abort(); \
  } while (0)

#define HDR 6
#define MAX_DIM 512u
#define FUZZ_PIXELS (4u << 20)
#define FUZZ_MEMORY (64u << 20)
#define FUZZ_SCANS 100u

static pv_decoder *decoder(void) {
  static pv_decoder *d; /* one per process, reused as a reader thread would */
  if (!d) {
    pv_limits L;
    pv_limits_init(&L);
    L.max_record_pixels = FUZZ_PIXELS;
    L.max_decoder_memory = FUZZ_MEMORY;
    L.max_scans = FUZZ_SCANS;
    if (pv_decoder_create(&d) != PV_OK || pv_decoder_set_limits(d, &L) != PV_OK) abort();
  }
  return d;
}

static int documented(pv_status st) {
  return st == PV_OK || st == PV_ERR_DECODE || st == PV_ERR_INVALID_ARG || st == PV_ERR_LIMIT ||
         st == PV_ERR_NOMEM;
}

/* Bytes a destination of h rows with this stride needs (0 when h == 0). */
static size_t need(size_t stride, size_t row, uint32_t h) {
  return h ? stride * (h - 1) + row : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < HDR) return 0;
  pv_record rec;
  memset(&rec, 0, sizeof rec);
  rec.codec = data[0] & 0x7F;
  const uint32_t dim_mod = data[0] & 0x80 ? PV_MAX_DIM + 1 : MAX_DIM + 1;
  rec.width = (uint32_t)(data[1] | data[2] << 8) % dim_mod;
  rec.height = (uint32_t)(data[3] | data[4] << 8) % dim_mod;
  const size_t extra = 1 + data[5] % 64;
  rec.data = data + HDR;
  rec.length = (uint32_t)(size - HDR);
  if (size - HDR > UINT32_MAX) return 0;

  pv_decoder *d = decoder();
  /* The limits first, as every reader: nothing is allocated beyond them. */
  pv_status sc = pv_decoder_check(d, &rec);
  REQUIRE(documented(sc));
  if (sc != PV_OK) {
    REQUIRE(pv_decoder_last_error(d)[0] != 0);
    return 0;
  }
  REQUIRE((uint64_t)rec.width * rec.height <= FUZZ_PIXELS);
  const size_t row = (size_t)rec.width * 3;
  const size_t tight = need(row, row, rec.height);
  const size_t loose = need(row + extra, row, rec.height);
  uint8_t *a = malloc(tight ? tight : 1);
  uint8_t *b = malloc(loose ? loose : 1);
  REQUIRE(a && b);
  memset(a, 0x11, tight ? tight : 1);
  memset(b, 0x22, loose ? loose : 1);

  pv_status sa = pv_decoder_decode(d, &rec, a, row, tight);
  REQUIRE(documented(sa));
  if (sa != PV_OK) REQUIRE(pv_decoder_last_error(d)[0] != 0);
  pv_status sb = pv_decoder_decode(d, &rec, b, row + extra, loose);
  REQUIRE(documented(sb));
  if (sb != PV_OK) REQUIRE(pv_decoder_last_error(d)[0] != 0);
  REQUIRE(sa == sb);
  if (sa == PV_OK) {
    REQUIRE(rec.width >= 1 && rec.height >= 1);
    for (uint32_t y = 0; y < rec.height; y++)
      REQUIRE(!memcmp(a + (size_t)y * row, b + (size_t)y * (row + extra), row));
    if (rec.codec == PV_CODEC_RAW) {
      REQUIRE(rec.length == tight);
      REQUIRE(!memcmp(a, rec.data, tight));
    }
    /* One byte short: refused up front, nothing written. */
    memset(b, 0x33, loose);
    REQUIRE(pv_decoder_decode(d, &rec, b, row + extra, loose - 1) == PV_ERR_INVALID_ARG);
    for (size_t i = 0; i < loose - 1; i++) REQUIRE(b[i] == 0x33);
  }
  free(a);
  free(b);
  return 0;
}
