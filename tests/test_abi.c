/* test_abi.c - options structs across versions (format/opts_copy.h): every
 * call that takes an options struct accepts a smaller (older) size, using the
 * caller's fields that fit and its own defaults for the rest, and a larger
 * (newer) size only when the bytes past what it knows are zero. Each test
 * sets a field beyond the size it passes to a value that would show if it
 * were read, and checks the default is used instead (and, as a control, that
 * the same value is honoured when the size covers it). The GPU loader's
 * options are checked in test_cuda_gpu.c (test_option_sizes).
 *
 * And the files' side of the same promise (spec/FORMAT.md 1, 4.1): a dataset
 * written by a later minor version, with its unused header bytes filled and
 * an extra index section in the extension area, opens, reads and verifies
 * in this 1.0 reader (test_later_minor_version_opens). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv_format.h"
#include "pv_pack.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "testutil.h"

typedef pvt_ds_fixture fixture;

static int setup(void **state) {
  *state = pvt_ds_fixture_new("abi", 6, 2, 40, 30, 40, 30);
  return *state ? 0 : -1;
}

static int teardown(void **state) {
  pvt_ds_fixture_free(*state);
  return 0;
}

/* ---- pv_loader_options -------------------------------------------------- */

typedef struct counting {
  int allocs;
} counting;
static void *count_alloc(void *ctx, size_t size, size_t align) {
  ((counting *)ctx)->allocs++;
  void *p = NULL;
  return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) ? NULL : p;
}
static void count_free(void *ctx, void *p, size_t size) { free(p); }

/* Runs one batch of a loader made with o; returns the batch size seen and
 * (in *height, may be NULL) the batch's height. */
static uint32_t one_batch_h(const pv_dataset *ds, const pv_loader_options *o, pv_status want,
                            uint32_t *height) {
  pv_loader *l = NULL;
  char err[256] = "";
  pv_status st = pv_loader_create(ds, o, &l, err, sizeof err);
  if (st != want) fail_msg("pv_loader_create: %s (%s), expected %s", pv_status_name(st), err,
                           pv_status_name(want));
  if (st != PV_OK) {
    assert_null(l);
    return 0;
  }
  pv_batch *b = NULL;
  assert_int_equal(pv_loader_next(l, &b), PV_OK);
  assert_non_null(b);
  uint32_t n = b->batch_size;
  if (height) *height = b->height;
  pv_loader_release(l, b);
  pv_loader_destroy(l);
  return n;
}

static uint32_t one_batch(const pv_dataset *ds, const pv_loader_options *o, pv_status want) {
  return one_batch_h(ds, o, want, NULL);
}

static void test_loader_older_size(void **state) {
  fixture *f = *state;
  counting c = {0};
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.threads = 1;
  o.batch_size = 3;
  o.height = o.width = 16;
  o.allocator.alloc = count_alloc;
  o.allocator.free = count_free;
  o.allocator.ctx = &c;
  /* Control: a full-size struct's allocator is used. */
  assert_int_equal(one_batch(f->ds, &o, PV_OK), 3);
  assert_true(c.allocs > 0);
  /* A caller from before `allocator` (then the last field) existed: its fields
   * (batch_size) are used, the allocator is the default (aligned malloc),
   * whatever lies in the bytes past its size. */
  c.allocs = 0;
  o.size = offsetof(pv_loader_options, allocator);
  assert_int_equal(one_batch(f->ds, &o, PV_OK), 3);
  assert_int_equal(c.allocs, 0);
  /* A struct that ends after batch_size: height and width are the
   * defaults (224), not the 16 set past its end. */
  uint32_t h = 0;
  o.size = offsetof(pv_loader_options, height);
  assert_int_equal(one_batch_h(f->ds, &o, PV_OK, &h), 3);
  assert_int_equal(h, 224);
  assert_int_equal(c.allocs, 0);
}

static void test_loader_newer_size(void **state) {
  fixture *f = *state;
  struct {
    pv_loader_options o;
    uint64_t newer[2];
  } w;
  memset(&w, 0, sizeof w);
  pv_loader_options_init(&w.o);
  w.o.threads = 1;
  w.o.batch_size = 2;
  w.o.height = w.o.width = 16;
  /* A newer caller that left its newer fields at zero: accepted. */
  w.o.size = sizeof w;
  assert_int_equal(one_batch(f->ds, &w.o, PV_OK), 2);
  /* ... one that set a field this library does not know: refused, not
   * silently ignored. */
  w.newer[1] = 1;
  one_batch(f->ds, &w.o, PV_ERR_INVALID_ARG);
  /* A size no options struct has (an uninitialised field): refused
   * without reading that far. */
  w.newer[1] = 0;
  w.o.size = 1u << 20;
  one_batch(f->ds, &w.o, PV_ERR_INVALID_ARG);
  w.o.size = sizeof(size_t) - 1;
  one_batch(f->ds, &w.o, PV_ERR_INVALID_ARG);
}

/* ---- pv_open_options ---------------------------------------------------- */

static void test_open_older_size(void **state) {
  fixture *f = *state;
  /* Damage record 0's payload (its checksum no longer matches). */
  pv_record r;
  assert_int_equal(pv_dataset_record(f->ds, 0, &r), PV_OK);
  const pv_shard_view *v = pv_dataset_shard_view(f->ds, r.shard);
  assert_non_null(v);
  uint64_t off = (uint64_t)(r.data - v->file);
  char name[64];
  snprintf(name, sizeof name, PV_SHARD_NAME_FMT, r.shard);
  char *path = pvt_join(f->ds_dir, name);
  size_t len = 0;
  uint8_t *bytes = pvt_read_file(path, &len);
  assert_non_null(bytes);
  assert_true(off < len);
  bytes[off + r.length / 2] ^= 0x5a;
  pv_dataset_close(f->ds);
  f->ds = NULL;
  assert_int_equal(pvt_write_file(path, bytes, len), 0);
  free(bytes);
  free(path);

  pv_open_options o;
  pv_open_options_init(&o);
  o.verify_on_read = 1;
  o.limits.max_record_pixels = 7;
  pv_dataset *ds = NULL;
  char err[256];
  /* Control: the full struct's verify_on_read and limits are used. */
  assert_int_equal(pv_dataset_open(f->ds_dir, &o, &ds, err, sizeof err), PV_OK);
  assert_int_equal(pv_dataset_record(ds, 0, &r), PV_ERR_CHECKSUM);
  assert_int_equal(pv_dataset_limits(ds)->max_record_pixels, 7);
  pv_dataset_close(ds);
  /* A caller from before `limits` (the last field): default limits, even
   * with garbage where its struct ends. */
  memset(&o.limits, 0xff, sizeof o.limits);
  o.size = offsetof(pv_open_options, limits);
  assert_int_equal(pv_dataset_open(f->ds_dir, &o, &ds, err, sizeof err), PV_OK);
  pv_limits dflt;
  pv_limits_init(&dflt);
  assert_memory_equal(pv_dataset_limits(ds), &dflt, sizeof dflt);
  assert_int_equal(pv_dataset_record(ds, 0, &r), PV_ERR_CHECKSUM);
  pv_dataset_close(ds);
  /* Only `size`: verify_on_read is the default (off), so the damaged
   * record is handed out (checked only on request). */
  o.size = sizeof(size_t);
  assert_int_equal(pv_dataset_open(f->ds_dir, &o, &ds, err, sizeof err), PV_OK);
  assert_int_equal(pv_dataset_record(ds, 0, &r), PV_OK);
  pv_dataset_close(ds);
  /* Newer: a set field past ours is refused. */
  struct {
    pv_open_options o;
    uint64_t newer;
  } w;
  memset(&w, 0, sizeof w);
  pv_open_options_init(&w.o);
  w.o.size = sizeof w;
  assert_int_equal(pv_dataset_open(f->ds_dir, &w.o, &ds, err, sizeof err), PV_OK);
  pv_dataset_close(ds);
  w.newer = 3;
  assert_int_equal(pv_dataset_open(f->ds_dir, &w.o, &ds, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_null(ds);
  /* limits whose own size claims more than the outer struct holds. */
  pv_open_options_init(&o);
  o.limits.size = sizeof o.limits + 64;
  assert_int_equal(pv_dataset_open(f->ds_dir, &o, &ds, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_null(ds);
}

/* ---- pv_limits (pv_decoder_set_limits) ---------------------------------- */

static void test_limits_newer_size(void **state) {
  pv_decoder *d = NULL;
  assert_int_equal(pv_decoder_create(&d), PV_OK);
  struct {
    pv_limits l;
    uint64_t newer;
  } w;
  memset(&w, 0, sizeof w);
  pv_limits_init(&w.l);
  w.l.size = sizeof w;
  assert_int_equal(pv_decoder_set_limits(d, &w.l), PV_OK);
  w.newer = 1;
  assert_int_equal(pv_decoder_set_limits(d, &w.l), PV_ERR_INVALID_ARG);
  pv_decoder_destroy(d);
}

/* ---- pv_build_options --------------------------------------------------- */

static void quiet(void *ctx, pv_log_level level, const char *line) {}

/* Builds src into out with o and returns the dataset's options text. */
static char *build_options_text(const char *src, const char *out, const pv_build_options *o) {
  char err[256] = "";
  pv_status st = pv_build(src, out, o, NULL, err, sizeof err);
  if (st != PV_OK) fail_msg("pv_build: %s (%s)", pv_status_name(st), err);
  pv_dataset *ds = NULL;
  assert_int_equal(pv_dataset_open(out, NULL, &ds, err, sizeof err), PV_OK);
  size_t n = 0;
  const char *t = pv_dataset_options_text(ds, &n);
  char *copy = malloc(n + 1);
  memcpy(copy, t, n);
  copy[n] = 0;
  pv_dataset_close(ds);
  return copy;
}

static void test_build_older_size(void **state) {
  char *root = pvt_mkdtemp("abi-build");
  char *src = pvt_join(root, "src");
  char *out1 = pvt_join(root, "full.pvpack"), *out2 = pvt_join(root, "older.pvpack");
  assert_int_equal(pvt_write_jpeg_tree(src, 4, 2, 40, 20, 40, 20, 90), 0);
  pv_build_options o;
  pv_build_options_init(&o);
  o.progress = 0;
  o.log = quiet;
  o.threads = 1;
  o.jpeg_restart = 1;
  /* Control: the full struct's jpeg_restart is used. */
  char *t = build_options_text(src, out1, &o);
  assert_non_null(strstr(t, "\njpeg_restart=1\n"));
  free(t);
  /* A caller from before `jpeg_restart` (the last field): the default, 4. */
  o.size = offsetof(pv_build_options, jpeg_restart);
  t = build_options_text(src, out2, &o);
  assert_non_null(strstr(t, "\njpeg_restart=4\n"));
  free(t);
  /* A garbage size is refused before anything is written. */
  o.size = 0;
  char err[256];
  assert_int_equal(pv_build(src, NULL, &o, NULL, err, sizeof err), PV_ERR_INVALID_ARG);
  pvt_rmrf(root);
  free(root);
  free(src);
  free(out1);
  free(out2);
}

/* ---- pv_verify_options -------------------------------------------------- */

static void no_problem(void *ctx, const char *file, int64_t record, const char *source_path,
                       pv_status status, const char *what) {
  ++*(int *)ctx;
}

static void test_verify_sizes(void **state) {
  /* A clean dataset of its own (the fixture's is damaged by the open test
   * when it runs first). */
  pvt_ds_fixture *g = pvt_ds_fixture_new("abi-verify", 4, 2, 40, 10, 40, 10);
  assert_non_null(g);
  int problems = 0;
  pv_verify_options o;
  pv_verify_options_init(&o);
  o.decode = 1;
  o.threads = 1;
  o.problem = no_problem;
  o.ctx = &problems;
  o.limits.max_record_pixels = 1;
  pv_verify_summary s;
  /* Control: the full struct's limits are used (every record over them). */
  assert_int_equal(pv_verify(g->ds_dir, &o, &s), PV_ERR_LIMIT);
  assert_true(problems > 0);
  /* Before `limits` (the last field): the default limits, a clean run. */
  problems = 0;
  o.size = offsetof(pv_verify_options, limits);
  assert_int_equal(pv_verify(g->ds_dir, &o, &s), PV_OK);
  assert_int_equal(problems, 0);
  assert_int_equal(s.records_decoded, 4);
  /* Newer: zero tail accepted, a set field refused. */
  struct {
    pv_verify_options o;
    uint64_t newer;
  } w;
  memset(&w, 0, sizeof w);
  pv_verify_options_init(&w.o);
  w.o.problem = no_problem;
  w.o.ctx = &problems;
  w.o.size = sizeof w;
  assert_int_equal(pv_verify(g->ds_dir, &w.o, &s), PV_OK);
  w.newer = 1;
  assert_int_equal(pv_verify(g->ds_dir, &w.o, &s), PV_ERR_INVALID_ARG);
  pvt_ds_fixture_free(g);
}

/* ---- a later minor version's dataset ------------------------------------- */

static void test_later_minor_version_opens(void **state) {
  pvt_ds_fixture *g = pvt_ds_fixture_new("abi-minor", 5, 2, 40, 10, 40, 10);
  assert_non_null(g);
  assert_int_equal(pv_dataset_shard_count(g->ds), 1);
  pv_dataset_close(g->ds);
  g->ds = NULL;
  /* The shard: a 1.1 field in the header's unused bytes [52, 56), every
   * checksum that covers it recomputed (header, footer's copy, footer). */
  char *spath = pvt_join(g->ds_dir, "shard-00000.pvs");
  size_t sn = 0;
  uint8_t *s = pvt_read_file(spath, &sn);
  assert_non_null(s);
  pv_store32(s + 52, 0xC0FFEEu);
  pv_store64(s + 56, pv_checksum(s, 56));
  uint8_t *ft = s + sn - PV_SHARD_FOOTER_SIZE;
  pv_store64(ft + 24, pv_load64(s + 56));
  pv_store64(ft + 48, pv_checksum(ft, 48));
  assert_int_equal(pvt_write_file(spath, s, sn), 0);
  /* The index: the shard's new footer checksum in its reference, a 1.1
   * section 6 of 40 bytes in the extension area before the trailer, its
   * descriptor in the header's unused bytes [216, 240). */
  char *ipath = pvt_join(g->ds_dir, PV_INDEX_FILENAME);
  size_t in = 0;
  uint8_t *ix = pvt_read_file(ipath, &in);
  assert_non_null(ix);
  const size_t extra = 40, body = in - PV_INDEX_TRAILER_SIZE;
  uint8_t *nx = calloc(1, in + extra);
  assert_non_null(nx);
  memcpy(nx, ix, body);
  for (size_t i = 0; i < extra; i++) nx[body + i] = (uint8_t)(i * 7 + 1);
  uint64_t shards_off = pv_load64(nx + 64);
  pv_store64(nx + shards_off + 24, pv_load64(ft + 48));
  pv_store64(nx + 24, in + extra);
  pv_store64(nx + 216, body);
  pv_store64(nx + 224, extra);
  pv_store64(nx + 232, pv_checksum(nx + body, extra));
  for (int k = 0; k < PV_SEC_COUNT; k++) {
    uint8_t *d = nx + 64 + 24 * k;
    pv_store64(d + 16, pv_checksum(nx + pv_load64(d), (size_t)pv_load64(d + 8)));
  }
  pv_store64(nx + 248, pv_checksum(nx, 248));
  pv_store64(nx + body + extra, pv_load64(nx + 248));
  memcpy(nx + body + extra + 8, PV_INDEX_END_MAGIC, 8);
  assert_int_equal(pvt_write_file(ipath, nx, in + extra), 0);

  pv_open_options oo;
  pv_open_options_init(&oo);
  oo.verify_on_read = 1;
  pv_dataset *ds = NULL;
  char err[256] = "";
  pv_status st = pv_dataset_open(g->ds_dir, &oo, &ds, err, sizeof err);
  if (st != PV_OK) fail_msg("a 1.1 dataset does not open: %s (%s)", pv_status_name(st), err);
  assert_int_equal(pv_dataset_record_count(ds), 5);
  pv_decoder *d = NULL;
  assert_int_equal(pv_decoder_create(&d), PV_OK);
  for (uint64_t i = 0; i < 5; i++) {
    pv_record r;
    assert_int_equal(pv_dataset_record(ds, i, &r), PV_OK);
    size_t bytes = (size_t)r.width * r.height * 3;
    uint8_t *px = malloc(bytes);
    assert_int_equal(pv_decoder_decode(d, &r, px, (size_t)r.width * 3, bytes), PV_OK);
    free(px);
  }
  pv_decoder_destroy(d);
  pv_dataset_close(ds);
  /* verify, which checks every byte a 1.0 reader knows, finds nothing. */
  int problems = 0;
  pv_verify_options vo;
  pv_verify_options_init(&vo);
  vo.decode = 1;
  vo.threads = 1;
  vo.problem = no_problem;
  vo.ctx = &problems;
  pv_verify_summary sum;
  assert_int_equal(pv_verify(g->ds_dir, &vo, &sum), PV_OK);
  assert_int_equal(problems, 0);
  assert_int_equal(sum.records_decoded, 5);
  free(s);
  free(ix);
  free(nx);
  free(spath);
  free(ipath);
  pvt_ds_fixture_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loader_older_size),
      cmocka_unit_test(test_loader_newer_size),
      cmocka_unit_test(test_limits_newer_size),
      cmocka_unit_test(test_build_older_size),
      cmocka_unit_test(test_verify_sizes),
      cmocka_unit_test(test_later_minor_version_opens),
      /* Last: it damages the fixture's dataset. */
      cmocka_unit_test(test_open_older_size),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
