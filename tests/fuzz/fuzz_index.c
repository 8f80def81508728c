/* fuzz_index.c - libFuzzer target for the index parser (format/).
 *
 * Each input is treated as a whole index.pvi and validated twice: as given,
 * and "resealed" (section checksums, header checksum and the trailer's copy
 * recomputed over the bytes as they are), so that mutations reach the
 * structural checks behind the checksums.
 *
 * On success every accessor is called over every entry the way a reader
 * calls them, each returned string is read in full, and the promises of
 * pv_index_validate are asserted (abort() tells the fuzzer); so are those
 * of the open-time checks behind it: pv_index_check_class_counts (per-class
 * counts against the records' labels) and pv_index_record_decode on a copy
 * of each entry (what record access re-checks).
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

/* Reads every byte of [s, s+len) and checks it lies inside the section. */
static uint8_t touch(const pv_index_view *v, const char *s, uint64_t len) {
  const uint8_t *b = (const uint8_t *)s, *sec = v->sec[PV_SEC_STRINGS];
  REQUIRE(b >= sec && (uint64_t)(b - sec) <= v->header.sections[PV_SEC_STRINGS].size &&
          len <= v->header.sections[PV_SEC_STRINGS].size - (uint64_t)(b - sec));
  uint8_t x = 0;
  for (uint64_t i = 0; i < len; i++) x ^= b[i];
  return x;
}

static void exercise(const uint8_t *file, size_t size) {
  pv_index_view v;
  char err[256] = "";
  pv_status st = pv_index_validate(file, size, &v, err, sizeof err);
  if (st != PV_OK) {
    REQUIRE(known_failure(st) && err[0] != 0);
    return;
  }
  const pv_index_header *h = &v.header;
  REQUIRE(h->file_size == size && h->shard_count <= PV_MAX_SHARDS &&
          h->class_count <= PV_MAX_CLASSES && h->record_count <= PV_MAX_RECORDS);
  for (int s = 0; s < PV_SEC_COUNT; s++)
    REQUIRE(h->sections[s].offset >= PV_INDEX_HEADER_SIZE &&
            h->sections[s].offset % PV_SECTION_ALIGN == 0 &&
            h->sections[s].size <= size - PV_INDEX_TRAILER_SIZE - h->sections[s].offset &&
            v.sec[s] == file + h->sections[s].offset);
  volatile uint8_t sink = 0;
  uint64_t next = 0;
  for (uint32_t k = 0; k < h->shard_count; k++) {
    pv_shard_ref r;
    pv_index_shard(&v, k, &r);
    REQUIRE(r.first_record == next && r.file_size >= PV_SHARD_HEADER_SIZE + PV_SHARD_FOOTER_SIZE);
    next += r.record_count;
  }
  REQUIRE(next == h->record_count);
  uint64_t class_sum = 0;
  for (uint32_t c = 0; c < h->class_count; c++) {
    uint32_t len = 0;
    const char *name = pv_index_class_name(&v, c, &len);
    REQUIRE(len >= 1 && len <= PV_MAX_PATH_BYTES);
    sink ^= touch(&v, name, len);
    class_sum += pv_index_class_records(&v, c);
  }
  REQUIRE(class_sum == h->record_count);
  /* The open-time class-count check: one pass, a clean verdict. */
  uint64_t *counts = malloc((h->class_count ? h->class_count : 1) * sizeof *counts);
  if (counts) {
    err[0] = 0;
    st = pv_index_check_class_counts(&v, counts, err, sizeof err);
    REQUIRE(st == PV_OK || (st == PV_ERR_CORRUPT && err[0] != 0));
    if (st == PV_OK)
      for (uint32_t c = 0; c < h->class_count; c++)
        REQUIRE(counts[c] == pv_index_class_records(&v, c));
    free(counts);
  }
  for (uint64_t i = 0; i < h->record_count; i++) {
    uint32_t len = 0, label = 0;
    const char *path = pv_index_record_path(&v, i, &len, &label);
    REQUIRE(label < h->class_count && len <= PV_MAX_PATH_BYTES);
    /* The reader's copy-and-recheck of an entry agrees with validation. */
    uint8_t copy[PV_INDEX_RECORD_SIZE];
    memcpy(copy, pv_index_record_bytes(&v, i), sizeof copy);
    pv_index_record ir;
    REQUIRE(pv_index_record_decode(&v, copy, &ir) == PV_OK && ir.label == label &&
            ir.path_length == len &&
            (const char *)v.sec[PV_SEC_STRINGS] + ir.path_offset == path);
    sink ^= touch(&v, path, len);
    uint32_t k = pv_index_find_shard(&v, i);
    REQUIRE(k < h->shard_count);
    pv_shard_ref r;
    pv_index_shard(&v, k, &r);
    REQUIRE(r.first_record <= i && i - r.first_record < r.record_count);
  }
  for (int s = PV_SEC_STRINGS; s < PV_SEC_COUNT; s++) {
    uint64_t len = 0;
    const char *t = pv_index_section_text(&v, (pv_section_id)s, &len);
    REQUIRE(len == h->sections[s].size);
    for (uint64_t i = 0; i < len; i++) sink ^= (uint8_t)t[i];
  }
  (void)sink;
}

/* Recomputes the section checksums (where a section lies inside the
 * buffer), the header checksum and the trailer's copy of it. */
static void reseal(uint8_t *p, size_t n) {
  if (n < PV_INDEX_HEADER_SIZE + PV_INDEX_TRAILER_SIZE) return;
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    uint8_t *d = p + 64 + 24 * s;
    uint64_t off = pv_load64(d), sz = pv_load64(d + 8);
    if (off <= n && sz <= n - off) pv_store64(d + 16, pv_checksum(p + off, (size_t)sz));
  }
  pv_store64(p + 248, pv_checksum(p, 248));
  pv_store64(p + n - PV_INDEX_TRAILER_SIZE, pv_load64(p + 248));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  exercise(data, size);
  if (size >= PV_INDEX_HEADER_SIZE + PV_INDEX_TRAILER_SIZE && size <= (1u << 22)) {
    uint8_t *copy = malloc(size); /* exactly size bytes, so ASan sees overreads */
    if (!copy) return 0;
    memcpy(copy, data, size);
    reseal(copy, size);
    exercise(copy, size);
    free(copy);
  }
  return 0;
}
