/* test_hostile.c - the hostile-dataset toolkit itself (tests/hostile.h):
 * a dataset written by pvh_write_dataset is one the reader and verify
 * accept when it is consistent, and pvh_run_limited really caps memory and
 * time and reports signals. The suites that use it trust these two. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "hostile.h"
#include "pvpack.h"
#include "testutil.h"

static void test_written_dataset_opens_and_verifies(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("hostile");
  assert_non_null(root);
  char *dir = pvt_join(root, "ds");
  uint8_t raw[4 * 3 * 3], dec[sizeof raw];
  for (size_t i = 0; i < sizeof raw; i++) raw[i] = (uint8_t)(i * 13 + 1);
  uint8_t z[256];
  size_t zn = ZSTD_compress(z, sizeof z, raw, sizeof raw, 3);
  assert_false(ZSTD_isError(zn));
  size_t jn;
  uint8_t *rgb = pvt_pattern_rgb(16, 8, 1);
  uint8_t *jpg = pvt_encode_jpeg(rgb, 16, 8, 90, &jn);
  assert_non_null(jpg);
  const pvh_record recs[3] = {
      {.codec = PV_CODEC_RAW, .width = 4, .height = 3, .label = 0, .index_label = 0,
       .payload = raw, .length = sizeof raw},
      {.codec = PV_CODEC_ZSTD, .width = 4, .height = 3, .label = 1, .index_label = 1,
       .payload = z, .length = (uint32_t)zn},
      {.codec = PV_CODEC_JPEG, .width = 16, .height = 8, .label = 1, .index_label = 1,
       .payload = jpg, .length = (uint32_t)jn, .path = "c1/pic.jpg"}};
  const pvh_spec spec = {.class_count = 2, .records = recs, .record_count = 3,
                         .records_per_shard = 2};
  assert_int_equal(pvh_write_dataset(dir, &spec), 0);

  char err[512] = "";
  pv_dataset *ds = NULL;
  assert_int_equal(pv_dataset_open(dir, NULL, &ds, err, sizeof err), PV_OK);
  assert_int_equal(pv_dataset_record_count(ds), 3);
  assert_int_equal(pv_dataset_shard_count(ds), 2);
  assert_int_equal(pv_dataset_class_records(ds, 1), 2);
  pv_decoder *d;
  assert_int_equal(pv_decoder_create(&d), PV_OK);
  pv_record r;
  for (uint64_t i = 0; i < 2; i++) {
    assert_int_equal(pv_dataset_record(ds, i, &r), PV_OK);
    assert_int_equal(pv_decoder_decode(d, &r, dec, 12, sizeof dec), PV_OK);
    assert_memory_equal(dec, raw, sizeof raw);
  }
  uint32_t plen;
  const char *p = pv_dataset_source_path(ds, 2, &plen);
  assert_int_equal(plen, 10);
  assert_memory_equal(p, "c1/pic.jpg", 10);
  pv_decoder_destroy(d);
  pv_dataset_close(ds);

  char *out = NULL;
  const char *argv[] = {"verify", dir, "--decode", NULL};
  int rc = pvt_run_cli(&out, argv);
  if (rc != 0) fprintf(stderr, "%s\n", out ? out : "");
  assert_int_equal(rc, 0);
  free(out);
  free(jpg);
  free(rgb);
  pvt_rmrf(root);
  free(dir);
  free(root);
}

static int map_a_lot(void *arg) {
  size_t n = *(size_t *)arg;
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 3;
  munmap(p, n);
  return 0;
}

static int sleep_long(void *arg) {
  (void)arg;
  sleep(20);
  return 0;
}

static int exit_with_status(void *arg) {
  (void)arg;
  return PVH_ST(PV_ERR_LIMIT);
}

static int die_of_signal(void *arg) {
  (void)arg;
  raise(SIGUSR1);
  return 0;
}

static void test_run_limited(void **state) {
  (void)state;
  size_t big = (size_t)2 << 30, small = (size_t)16 << 20;
  assert_int_equal(pvh_run_limited(map_a_lot, &big, 256u << 20, 10), 3);
  assert_int_equal(pvh_run_limited(map_a_lot, &small, 256u << 20, 10), 0);
  assert_int_equal(pvh_run_limited(sleep_long, NULL, 256u << 20, 0.3), PVH_TIMEOUT);
  assert_int_equal(pvh_run_limited(exit_with_status, NULL, 256u << 20, 10),
                   PVH_ST(PV_ERR_LIMIT));
  assert_int_equal(pvh_run_limited(die_of_signal, NULL, 256u << 20, 10), PVH_SIGNALED - SIGUSR1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_written_dataset_opens_and_verifies),
      cmocka_unit_test(test_run_limited),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
