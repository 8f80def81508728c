/* fuzz_plan.c - libFuzzer target for the part plan reader
 * (pv__plan_file_read, pack/plan_file.c): a part of a many-machine build
 * reads OUT/parts/plan/<k>-of-<n>.pvl, which anyone who can write OUT can
 * have written, so it is parsed as hostile.
 *
 * Input layout:
 *   byte 0      bit 0: raw mode (the rest is the whole plan file as is);
 *               else the harness writes a valid header and options text
 *               (those the reader will compare with) and the checksum, so
 *               that the class and entry parsing are reached:
 *   byte 1      k, byte 2: n - 1 (n = 1..256, k taken mod n)
 *   bytes 3-10  jobs (little-endian; taken as given: a slice that does not
 *               fit is what the reader must refuse)
 *   byte 11     class count (0..255)
 *   bytes 12..  the class names and entries, verbatim
 * Checked: the status is one the reader documents, with a message on
 * failure; a plan it accepts holds exactly its slice, every path inside its
 * class folder with no '.' or '..' component, every label below the class
 * count. The file is written to a private temporary file once per input.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) \
  do {             \
    if (!(c)) abort(); \
  } while (0)

static char path[64];
static int fd = -1;

static void put(uint8_t **b, size_t *n, size_t *cap, const void *p, size_t len) {
  if (!len) return;
  if (*n + len > *cap) {
    *cap = (*n + len) * 2;
    *b = realloc(*b, *cap);
    REQUIRE(*b);
  }
  memcpy(*b + *n, p, len);
  *n += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fd < 0) {
    snprintf(path, sizeof path, "/tmp/pv-fuzz-plan-XXXXXX");
    fd = mkstemp(path);
    REQUIRE(fd >= 0);
  }
  static const char *src = "/nonexistent/pvpack-fuzz-src";
  pv_build_options o;
  pv_build_options_init(&o);
  char *opts = pv__build_options_text(&o, src);
  REQUIRE(opts);
  uint32_t k = 0, n = 1;
  uint8_t *b = NULL;
  size_t len = 0, cap = 0;
  if (size >= 1 && (data[0] & 1)) {
    put(&b, &len, &cap, data + 1, size - 1);
    k = 0;
    n = 1;
  } else if (size >= 12) {
    n = (uint32_t)data[2] + 1;
    k = data[1] % n;
    uint64_t jobs = 0;
    for (int i = 0; i < 8; i++) jobs |= (uint64_t)data[3 + i] << (8 * i);
    uint64_t first = 0, end = 0;
    pv__plan_part(jobs, k, n, &first, &end);
    uint8_t h[64];
    memcpy(h, "PVPLAN01", 8);
    pv_store32(h + 8, k);
    pv_store32(h + 12, n);
    pv_store32(h + 16, data[11]);
    pv_store32(h + 20, (uint32_t)strlen(opts));
    pv_store64(h + 24, jobs);
    pv_store64(h + 32, first);
    pv_store64(h + 40, end);
    pv_store64(h + 48, 0x1234);
    pv_store64(h + 56, 0x5678);
    put(&b, &len, &cap, h, sizeof h);
    put(&b, &len, &cap, opts, strlen(opts));
    put(&b, &len, &cap, data + 12, size - 12);
    uint8_t t[8];
    pv_store64(t, XXH3_64bits(b, len));
    put(&b, &len, &cap, t, 8);
  } else {
    free(opts);
    return 0;
  }
  REQUIRE(ftruncate(fd, 0) == 0);
  REQUIRE(len == 0 || pwrite(fd, b, len, 0) == (ssize_t)len);
  free(b);

  pv__plan p;
  pv_build_summary sum;
  memset(&sum, 0, sizeof sum);
  uint64_t fp = 0;
  char err[512] = "";
  pv_status st = pv__plan_file_read(path, k, n, &o, src, &p, &fp, &sum, err, sizeof err);
  if (st == PV_OK) {
    uint64_t first = 0, end = 0;
    REQUIRE(pv__plan_part(p.jobs, k, n, &first, &end) == PV_OK);
    REQUIRE(p.job_base == first && p.walk.file_count == end - first);
    REQUIRE(p.walk.class_count >= 1 && p.stamps && p.order);
    for (uint64_t j = first; j < end; j++) {
      const pv_walk_file *f = pv__plan_file(&p, j);
      REQUIRE(f->label < p.walk.class_count);
      const char *cls = p.walk.classes[f->label];
      size_t cl = strlen(cls);
      REQUIRE(!strncmp(f->relpath, cls, cl) && f->relpath[cl] == '/');
      REQUIRE(!strstr(f->relpath, "/../") && !strstr(f->relpath, "/./") &&
              !strstr(f->relpath, "//") && f->relpath[strlen(f->relpath) - 1] != '/');
      REQUIRE(pv__plan_stamp(&p, j) != NULL);
    }
  } else {
    REQUIRE(st == PV_ERR_CORRUPT || st == PV_ERR_INVALID_ARG || st == PV_ERR_NOMEM ||
            st == PV_ERR_LIMIT);
    REQUIRE(err[0] != 0);
  }
  pv__plan_free(&p);
  free(opts);
  return 0;
}
