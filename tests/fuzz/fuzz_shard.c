/* fuzz_shard.c - libFuzzer target for the shard parser (format/).
 *
 * Each input is treated as a whole shard file and goes through the parser
 * twice: as given, and "resealed" (every checksum recomputed over the bytes
 * as they are), so that mutations reach the structural checks behind the
 * checksums instead of dying at the first XXH3 comparison.
 *
 * On success the view is used the way a reader uses it: every entry is
 * decoded, every payload checksum computed, and the layout invariants the
 * validator promises are asserted (abort() tells the fuzzer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pv_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) \
  do {             \
    if (!(c)) abort(); \
  } while (0)

static int known_failure(pv_status st) {
  return st == PV_ERR_TRUNCATED || st == PV_ERR_NOT_PVPACK || st == PV_ERR_VERSION ||
         st == PV_ERR_CORRUPT || st == PV_ERR_CHECKSUM || st == PV_ERR_LIMIT;
}

static void exercise(const uint8_t *file, size_t size) {
  char err[256] = "";
  pv_shard_header h;
  pv_shard_footer f;
  uint64_t hsum;
  pv_status st = pv_shard_header_decode(file, size, &h, &hsum, err, sizeof err);
  REQUIRE(st == PV_OK || known_failure(st));
  st = pv_shard_footer_decode(file, size, &f, err, sizeof err);
  REQUIRE(st == PV_OK || known_failure(st));

  pv_shard_view v;
  err[0] = 0;
  st = pv_shard_validate(file, size, &v, err, sizeof err);
  if (st != PV_OK) {
    REQUIRE(known_failure(st) && err[0] != 0);
    return;
  }
  const uint64_t table_offset = v.footer.table_offset;
  REQUIRE(v.file == file && v.file_size == size);
  REQUIRE(table_offset >= PV_SHARD_HEADER_SIZE && table_offset % PV_RECORD_ALIGN == 0);
  REQUIRE(table_offset + (uint64_t)v.header.record_count * PV_RECORD_ENTRY_SIZE +
              PV_SHARD_FOOTER_SIZE == size);
  REQUIRE(v.table == file + table_offset);
  uint64_t expect = PV_SHARD_HEADER_SIZE;
  volatile uint8_t sink = 0;
  for (uint32_t i = 0; i < v.header.record_count; i++) {
    pv_record_entry e, c;
    pv_shard_entry(&v, i, &e);
    /* Record access decodes a private copy of the entry: same verdict. */
    uint8_t copy[PV_RECORD_ENTRY_SIZE];
    memcpy(copy, pv_shard_entry_bytes(&v, i), sizeof copy);
    REQUIRE(pv_record_entry_decode(copy, table_offset, &c, NULL, 0) == PV_OK &&
            c.offset == e.offset && c.length == e.length && c.label == e.label &&
            c.width == e.width && c.height == e.height && c.codec == e.codec &&
            c.flags == e.flags && c.checksum == e.checksum);
    REQUIRE(e.offset == expect && e.offset % PV_RECORD_ALIGN == 0);
    REQUIRE(e.length <= table_offset - e.offset);
    REQUIRE(e.codec < PV_CODEC_COUNT && e.channels == 3);
    REQUIRE(e.width >= 1 && e.width <= PV_MAX_DIM && e.height >= 1 && e.height <= PV_MAX_DIM);
    st = pv_shard_check_record(&v, &e);
    REQUIRE(st == PV_OK || st == PV_ERR_CHECKSUM);
    if (e.length) sink ^= file[e.offset] ^ file[e.offset + e.length - 1];
    expect = (e.offset + e.length + PV_RECORD_ALIGN - 1) / PV_RECORD_ALIGN * PV_RECORD_ALIGN;
  }
  REQUIRE(expect == table_offset);
  (void)sink;
}

/* Recomputes the header, table and footer checksums in place (bounds
 * checked here, since the bytes are arbitrary). */
static void reseal(uint8_t *p, size_t n) {
  if (n < PV_SHARD_HEADER_SIZE + PV_SHARD_FOOTER_SIZE) return;
  uint8_t *ft = p + n - PV_SHARD_FOOTER_SIZE;
  pv_store64(p + 56, pv_checksum(p, 56));
  pv_store64(ft + 24, pv_load64(p + 56));
  uint64_t toff = pv_load64(ft), tbytes = (uint64_t)pv_load32(p + 36) * PV_RECORD_ENTRY_SIZE;
  if (toff <= n - PV_SHARD_FOOTER_SIZE && tbytes <= n - PV_SHARD_FOOTER_SIZE - toff)
    pv_store64(ft + 32, pv_checksum(p + toff, (size_t)tbytes));
  pv_store64(ft + 48, pv_checksum(ft, 48));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  exercise(data, size);
  if (size >= PV_SHARD_HEADER_SIZE + PV_SHARD_FOOTER_SIZE && size <= (1u << 22)) {
    uint8_t *copy = malloc(size); /* exactly size bytes, so ASan sees overreads */
    if (!copy) return 0;
    memcpy(copy, data, size);
    reseal(copy, size);
    exercise(copy, size);
    free(copy);
  }
  return 0;
}
