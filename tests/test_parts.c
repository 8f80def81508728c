/* test_parts.c - building a dataset in parts (issue 11): the plan's slicing
 * (pv__plan_part, pack/plan.c), pv_build_part (pack/part.c): the part
 * directories, the completion record, reruns, refusals, stale temporary
 * directories, K and N from the environment, and `pvpack build --part`. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "build.h"
#include "pv_pack.h"
#include "pvpack.h"
#include "pv_verify.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Every job in exactly one part, parts contiguous and in order, sizes within
 * one of each other, for N = 1..17 and n = 0..100. */
static void test_slices_cover_once(void **state) {
  (void)state;
  for (uint32_t n = 1; n <= 17; n++)
    for (uint64_t jobs = 0; jobs <= 100; jobs++) {
      unsigned seen[101];
      memset(seen, 0, sizeof seen);
      uint64_t prev_end = 0, lo = UINT64_MAX, hi = 0;
      for (uint32_t k = 0; k < n; k++) {
        uint64_t first = 99, end = 99;
        assert_int_equal(pv__plan_part(jobs, k, n, &first, &end), PV_OK);
        assert_true(first <= end);
        assert_true(end <= jobs);
        if (first != prev_end) fail_msg("N=%u n=%llu part %u starts at %llu, not %llu", n,
                                        (unsigned long long)jobs, k, (unsigned long long)first,
                                        (unsigned long long)prev_end);
        prev_end = end;
        for (uint64_t j = first; j < end; j++) seen[j]++;
        if (end - first < lo) lo = end - first;
        if (end - first > hi) hi = end - first;
        /* the documented formula */
        assert_int_equal(first, (uint64_t)k * jobs / n);
        assert_int_equal(end, (uint64_t)(k + 1) * jobs / n);
      }
      assert_int_equal(prev_end, jobs);
      assert_true(hi - lo <= 1);
      for (uint64_t j = 0; j < jobs; j++)
        if (seen[j] != 1) fail_msg("N=%u n=%llu: job %llu in %u parts", n,
                                   (unsigned long long)jobs, (unsigned long long)j, seen[j]);
    }
}

/* Large counts: no overflow where k*jobs does not fit in 64 bits. */
static void test_slices_large(void **state) {
  (void)state;
  const uint64_t jobs = UINT64_MAX - 3;
  const uint32_t n = UINT32_MAX;
  uint64_t prev_end = 0, first, end;
  const uint32_t ks[] = {0, 1, 2, 1000, n / 2, n - 2, n - 1};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
    assert_int_equal(pv__plan_part(jobs, ks[i], n, &first, &end), PV_OK);
    assert_true(first <= end);
    uint64_t size = end - first;
    assert_true(size == jobs / n || size == jobs / n + 1);
    if (ks[i] == 0) assert_int_equal(first, 0);
    if (ks[i] == n - 1) assert_int_equal(end, jobs);
    (void)prev_end;
  }
  /* adjacent parts meet */
  uint64_t f2, e2;
  assert_int_equal(pv__plan_part(jobs, 1000, n, &first, &end), PV_OK);
  assert_int_equal(pv__plan_part(jobs, 1001, n, &f2, &e2), PV_OK);
  assert_int_equal(end, f2);
}

static void test_slices_invalid(void **state) {
  (void)state;
  uint64_t first = 5, end = 5;
  assert_int_equal(pv__plan_part(10, 0, 0, &first, &end), PV_ERR_INVALID_ARG);
  assert_int_equal(first, 0);
  assert_int_equal(end, 0);
  assert_int_equal(pv__plan_part(10, 3, 3, &first, &end), PV_ERR_INVALID_ARG);
  assert_int_equal(pv__plan_part(10, 7, 3, &first, &end), PV_ERR_INVALID_ARG);
}

/* ---- pv_build_part ---------------------------------------------------------- */

#define NIMG 23
#define NCLS 3

static void quiet_log(void *ctx, pv_log_level lv, const char *line) {
  (void)lv;
  if (ctx) {
    char *buf = ctx;
    size_t n = strlen(buf);
    snprintf(buf + n, 4096 - n, "%s\n", line);
  }
}

static void part_opts(pv_build_options *o, char *logbuf) {
  pv_build_options_init(o);
  o->progress = 0;
  o->log = quiet_log;
  o->log_ctx = logbuf;
  o->shard_bytes = 4096; /* several shards per part */
  o->threads = 2;
}

typedef struct tree {
  char *root, *src, *out, *whole;
} tree;

static void tree_new(tree *t) {
  t->root = pvt_mkdtemp("parts");
  t->src = pvt_join(t->root, "src");
  t->out = pvt_join(t->root, "out");
  t->whole = pvt_join(t->root, "whole");
  assert_int_equal(pvt_write_jpeg_tree(t->src, NIMG, NCLS, 40, 30, 30, 20, 90), 0);
}

static void tree_free(tree *t) {
  pvt_rmrf(t->root);
  free(t->root);
  free(t->src);
  free(t->out);
  free(t->whole);
}

static char *part_dir(const tree *t, uint32_t k, uint32_t n) {
  char rel[64];
  snprintf(rel, sizeof rel, "parts/%u-of-%u", k, n);
  return pvt_join(t->out, rel);
}

/* Parts built in the order 2, 0, 1 each hold their slice: opened as a
 * dataset (its partial index), the parts' records in part order are the
 * whole build's records in order (paths, labels, payload bytes). */
static void test_parts_match_whole_build(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_options o;
  part_opts(&o, NULL);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build(t.src, t.whole, &o, &s, err, sizeof err), PV_OK);
  const uint32_t order[3] = {2, 0, 1};
  for (int i = 0; i < 3; i++) {
    pv_status st = pv_build_part(t.src, t.out, &o, order[i], 3, &s, err, sizeof err);
    if (st != PV_OK) fail_msg("part %u: %s: %s", order[i], pv_strerror(st), err);
    assert_int_equal(s.files, NIMG);
  }
  pv_dataset *whole;
  assert_int_equal(pv_dataset_open(t.whole, NULL, &whole, err, sizeof err), PV_OK);
  uint64_t g = 0;
  for (uint32_t k = 0; k < 3; k++) {
    char *pd = part_dir(&t, k, 3);
    char *rec = pvt_join(pd, "part.txt");
    struct stat sb;
    assert_int_equal(stat(rec, &sb), 0);
    pv_dataset *ds;
    pv_status st = pv_dataset_open(pd, NULL, &ds, err, sizeof err);
    if (st != PV_OK) fail_msg("%s: %s", pd, err);
    uint64_t first, end;
    assert_int_equal(pv__plan_part(NIMG, k, 3, &first, &end), PV_OK);
    assert_int_equal(pv_dataset_record_count(ds), end - first);
    assert_true(pv_dataset_shard_count(ds) >= 1);
    for (uint64_t i = 0; i < pv_dataset_record_count(ds); i++, g++) {
      pv_record a, b;
      assert_int_equal(pv_dataset_record(ds, i, &a), PV_OK);
      assert_int_equal(pv_dataset_record(whole, g, &b), PV_OK);
      assert_int_equal(a.label, b.label);
      assert_int_equal(a.length, b.length);
      assert_int_equal(a.width, b.width);
      assert_int_equal(a.height, b.height);
      assert_memory_equal(a.data, b.data, a.length);
      uint32_t la, lb;
      const char *pa = pv_dataset_source_path(ds, i, &la), *pb = pv_dataset_source_path(whole, g, &lb);
      assert_int_equal(la, lb);
      assert_memory_equal(pa, pb, la);
    }
    pv_dataset_close(ds);
    free(rec);
    free(pd);
  }
  assert_int_equal(g, pv_dataset_record_count(whole));
  pv_dataset_close(whole);
  tree_free(&t);
}

static ino_t inode_of(const char *path) {
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  return sb.st_ino;
}

/* A completed part reruns as a no-op that says so; --force repacks it; a
 * part of another plan (tree changed, other options, other N is another
 * directory) is refused; stale temporary directories are removed. */
static void test_part_rerun_force_refuse(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  char logbuf[4096] = "";
  pv_build_options o;
  part_opts(&o, logbuf);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build_part(t.src, t.out, &o, 1, 2, &s, err, sizeof err), PV_OK);
  assert_true(s.images > 0);
  char *pd = part_dir(&t, 1, 2);
  ino_t ino = inode_of(pd);
  logbuf[0] = 0;
  assert_int_equal(pv_build_part(t.src, t.out, &o, 1, 2, &s, err, sizeof err), PV_OK);
  assert_int_equal(s.images, 0);
  assert_non_null(strstr(logbuf, "already complete"));
  assert_true(inode_of(pd) == ino);

  /* other options: refused, naming the part, left as it was */
  pv_build_options o2;
  part_opts(&o2, NULL);
  o2.seed = 7;
  assert_int_equal(pv_build_part(t.src, t.out, &o2, 1, 2, &s, err, sizeof err), PV_ERR_EXISTS);
  assert_non_null(strstr(err, "1-of-2"));
  assert_non_null(strstr(err, "another plan"));
  assert_true(inode_of(pd) == ino);

  /* the tree changed (one file's modification time): refused */
  char *img = pvt_join(t.src, "class0/img000.jpg");
  struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
  assert_int_equal(utimensat(AT_FDCWD, img, ts, 0), 0);
  assert_int_equal(pv_build_part(t.src, t.out, &o, 1, 2, &s, err, sizeof err), PV_ERR_EXISTS);
  assert_true(inode_of(pd) == ino);

  /* --force repacks it */
  o.force = 1;
  assert_int_equal(pv_build_part(t.src, t.out, &o, 1, 2, &s, err, sizeof err), PV_OK);
  assert_true(s.images > 0);
  o.force = 0;
  assert_int_equal(pv_build_part(t.src, t.out, &o, 1, 2, &s, err, sizeof err), PV_OK);
  assert_int_equal(s.images, 0); /* complete for the changed tree now */

  /* a killed run's temporary directory is removed by the next run; a
   * foreign file in it keeps it (never a recursive delete) */
  char *stale = pvt_join(t.out, "parts/0-of-2.tmp-AbC123");
  char *stale_shard = pvt_join(stale, "shard-00000.pvs");
  assert_int_equal(pvt_mkdirs(stale, 1), 0);
  assert_int_equal(pvt_write_file(stale_shard, "x", 1), 0);
  char *kept = pvt_join(t.out, "parts/0-of-2.tmp-XyZ789");
  char *kept_file = pvt_join(kept, "notes.txt");
  assert_int_equal(pvt_mkdirs(kept, 1), 0);
  assert_int_equal(pvt_write_file(kept_file, "mine", 4), 0);
  assert_int_equal(pv_build_part(t.src, t.out, &o, 0, 2, &s, err, sizeof err), PV_OK);
  struct stat sb;
  assert_int_not_equal(stat(stale, &sb), 0);
  assert_int_equal(stat(kept_file, &sb), 0);

  /* a K-of-N directory that is not pvpack's: refused even with --force, kept */
  char *foreign_dir = pvt_join(t.out, "parts/3-of-4");
  char *foreign = pvt_join(foreign_dir, "notes.txt");
  assert_int_equal(pvt_mkdirs(foreign_dir, 1), 0);
  assert_int_equal(pvt_write_file(foreign, "mine", 4), 0);
  o.force = 1;
  assert_int_equal(pv_build_part(t.src, t.out, &o, 3, 4, &s, err, sizeof err), PV_ERR_EXISTS);
  assert_non_null(strstr(err, "not a complete pvpack part"));
  o.force = 0;
  assert_int_equal(stat(foreign, &sb), 0);
  free(foreign);
  free(foreign_dir);

  /* invalid k/n */
  assert_int_equal(pv_build_part(t.src, t.out, &o, 2, 2, &s, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_build_part(t.src, t.out, &o, 0, 0, &s, err, sizeof err), PV_ERR_INVALID_ARG);
  /* never inside the source */
  char *inside = pvt_join(t.src, "class0/out");
  assert_int_equal(pv_build_part(t.src, inside, &o, 0, 2, &s, err, sizeof err), PV_ERR_INVALID_ARG);
  free(inside);
  free(kept);
  free(kept_file);
  free(stale);
  free(stale_shard);
  free(img);
  free(pd);
  tree_free(&t);
}

/* More parts than files: the empty parts are complete too. */
static void test_part_empty_slice(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_options o;
  part_opts(&o, NULL);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build_part(t.src, t.out, &o, 0, 40, &s, err, sizeof err), PV_OK);
  assert_int_equal(s.images, 0);
  char *pd = part_dir(&t, 0, 40);
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(pd, NULL, &ds, err, sizeof err), PV_OK);
  assert_int_equal(pv_dataset_record_count(ds), 0);
  pv_dataset_close(ds);
  free(pd);
  tree_free(&t);
}

static void clear_env(void) {
  unsetenv("SLURM_ARRAY_TASK_ID");
  unsetenv("SLURM_ARRAY_TASK_COUNT");
  unsetenv("SLURM_ARRAY_TASK_MIN");
  unsetenv("SLURM_ARRAY_TASK_MAX");
  unsetenv("JOB_COMPLETION_INDEX");
}

static void test_part_from_env(void **state) {
  (void)state;
  uint32_t k = 99, n = 99;
  char err[256];
  clear_env();
  assert_int_equal(pv_part_from_env(4, &k, &n, err, sizeof err), PV_ERR_INVALID_ARG);
  setenv("SLURM_ARRAY_TASK_ID", "3", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  assert_int_equal(pv_part_from_env(0, &k, &n, err, sizeof err), PV_OK);
  assert_int_equal(k, 3);
  assert_int_equal(n, 4);
  assert_int_equal(pv_part_from_env(5, &k, &n, err, sizeof err), PV_ERR_INVALID_ARG);
  unsetenv("SLURM_ARRAY_TASK_COUNT");
  setenv("SLURM_ARRAY_TASK_ID", "12", 1);
  setenv("SLURM_ARRAY_TASK_MIN", "10", 1);
  setenv("SLURM_ARRAY_TASK_MAX", "14", 1);
  assert_int_equal(pv_part_from_env(0, &k, &n, err, sizeof err), PV_OK);
  assert_int_equal(k, 2);
  assert_int_equal(n, 5);
  setenv("SLURM_ARRAY_TASK_COUNT", "3", 1); /* --array=10-14:2 */
  assert_int_equal(pv_part_from_env(0, &k, &n, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "contiguous"));
  setenv("SLURM_ARRAY_TASK_ID", "x1", 1);
  assert_int_equal(pv_part_from_env(0, &k, &n, err, sizeof err), PV_ERR_INVALID_ARG);
  clear_env();
  setenv("JOB_COMPLETION_INDEX", "1", 1);
  assert_int_equal(pv_part_from_env(0, &k, &n, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_part_from_env(3, &k, &n, err, sizeof err), PV_OK);
  assert_int_equal(k, 1);
  assert_int_equal(n, 3);
  assert_int_equal(pv_part_from_env(1, &k, &n, err, sizeof err), PV_ERR_INVALID_ARG);
  clear_env();

  assert_int_equal(pv_part_parse("2/5", &k, &n, err, sizeof err), PV_OK);
  assert_int_equal(k, 2);
  assert_int_equal(n, 5);
  const char *bad[] = {"5/5", "0/0", "-1/3", "1/", "/3", "1/3x", "1 /3", "3", "", "0/70000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (pv_part_parse(bad[i], &k, &n, err, sizeof err) != PV_ERR_INVALID_ARG)
      fail_msg("'%s' accepted", bad[i]);
}

/* The CLI: --part K/N; --parts N with K from the Slurm environment; an
 * explicit --part wins over the environment. */
static void test_part_cli(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  char *outp = NULL;
  const char *a1[] = {"build", t.src, "-o", t.out, "--part", "0/2", "--quiet",
                      "--threads", "1", NULL};
  int rc = pvt_run_cli(&outp, a1);
  if (rc != 0) fail_msg("rc %d: %s", rc, outp ? outp : "");
  assert_non_null(strstr(outp, "part 0 of 2"));
  /* the part's line names its thread count (what a Slurm task's CPUs gave) */
  assert_non_null(strstr(outp, " s, 1 thread\n"));
  free(outp);
  rc = pvt_run_cli(&outp, a1); /* rerun: a no-op that says so, even with --quiet */
  if (rc != 0) fail_msg("rc %d: %s", rc, outp ? outp : "");
  assert_non_null(strstr(outp, "already complete"));
  free(outp);
  clear_env();
  setenv("SLURM_ARRAY_TASK_ID", "1", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
  const char *a2[] = {"build", t.src, "-o", t.out, "--parts", "2", "--quiet", NULL};
  rc = pvt_run_cli(&outp, a2);
  if (rc != 0) fail_msg("rc %d: %s", rc, outp ? outp : "");
  assert_non_null(strstr(outp, "part 1 of 2"));
  free(outp);
  char *p1 = part_dir(&t, 1, 2), *p0 = part_dir(&t, 0, 2);
  struct stat sb;
  assert_int_equal(stat(p1, &sb), 0);
  assert_int_equal(stat(p0, &sb), 0);
  /* --part wins over SLURM_ARRAY_TASK_ID=1 */
  const char *a3[] = {"build", t.src, "-o", t.out, "--part", "0/3", "--quiet", NULL};
  rc = pvt_run_cli(&outp, a3);
  if (rc != 0) fail_msg("rc %d: %s", rc, outp ? outp : "");
  assert_non_null(strstr(outp, "part 0 of 3"));
  free(outp);
  clear_env();
  const char *a4[] = {"build", t.src, "-o", t.out, "--parts", "2", NULL};
  rc = pvt_run_cli(&outp, a4);
  assert_int_not_equal(rc, 0);
  assert_non_null(strstr(outp, "SLURM_ARRAY_TASK_ID"));
  free(outp);
  free(p0);
  free(p1);
  tree_free(&t);
}

/* ---- pv_merge ---------------------------------------------------------------- */

static void upd64(XXH3_state_t *h, uint64_t v) {
  uint8_t b[8];
  pv_store64(b, v);
  XXH3_64bits_update(h, b, 8);
}

/* Every batch of two epochs of the train pipeline, seed 1234, hashed. */
static uint64_t loader_hash(const char *dir) {
  pv_dataset *ds;
  char err[256];
  assert_int_equal(pv_dataset_open(dir, NULL, &ds, err, sizeof err), PV_OK);
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.batch_size = 5;
  o.height = 32;
  o.width = 24;
  o.pipeline = PV_PIPELINE_TRAIN;
  o.threads = 2;
  o.seed = 1234;
  pv_loader *l;
  assert_int_equal(pv_loader_create(ds, &o, &l, err, sizeof err), PV_OK);
  XXH3_state_t *h = XXH3_createState();
  XXH3_64bits_reset(h);
  uint64_t batches = 0;
  for (uint64_t e = 0; e < 2; e++) {
    assert_int_equal(pv_loader_set_epoch(l, e, 0), PV_OK);
    pv_batch *b;
    while (pv_loader_next(l, &b) == PV_OK && b) {
      size_t per = b->images_bytes / b->batch_size;
      XXH3_64bits_update(h, b->images, per * b->count);
      for (uint32_t i = 0; i < b->count; i++) {
        upd64(h, (uint64_t)b->labels[i]);
        upd64(h, b->records[i]);
      }
      batches++;
      pv_loader_release(l, b);
    }
  }
  assert_true(batches > 0);
  pv_loader_destroy(l);
  pv_dataset_close(ds);
  uint64_t d = XXH3_64bits_digest(h);
  XXH3_freeState(h);
  return d;
}

static void assert_same_records(const char *a_dir, const char *b_dir) {
  pv_dataset *a, *b;
  char err[256];
  assert_int_equal(pv_dataset_open(a_dir, NULL, &a, err, sizeof err), PV_OK);
  assert_int_equal(pv_dataset_open(b_dir, NULL, &b, err, sizeof err), PV_OK);
  assert_int_equal(pv_dataset_record_count(a), pv_dataset_record_count(b));
  assert_int_equal(pv_dataset_class_count(a), pv_dataset_class_count(b));
  assert_int_equal(pv_dataset_skipped_count(a), pv_dataset_skipped_count(b));
  for (uint64_t i = 0; i < pv_dataset_record_count(a); i++) {
    pv_record x, y;
    assert_int_equal(pv_dataset_record(a, i, &x), PV_OK);
    assert_int_equal(pv_dataset_record(b, i, &y), PV_OK);
    assert_int_equal(x.label, y.label);
    assert_int_equal(x.length, y.length);
    assert_int_equal(x.width, y.width);
    assert_int_equal(x.height, y.height);
    assert_int_equal(x.codec, y.codec);
    assert_int_equal(x.flags, y.flags);
    assert_memory_equal(x.data, y.data, x.length);
    uint32_t lx, ly;
    const char *px = pv_dataset_source_path(a, i, &lx), *py = pv_dataset_source_path(b, i, &ly);
    assert_int_equal(lx, ly);
    assert_memory_equal(px, py, lx);
  }
  pv_dataset_close(a);
  pv_dataset_close(b);
}

static void assert_same_file(const char *a_dir, const char *b_dir, const char *name) {
  char *pa = pvt_join(a_dir, name), *pb = pvt_join(b_dir, name);
  size_t la = 0, lb = 0;
  uint8_t *x = pvt_read_file(pa, &la), *y = pvt_read_file(pb, &lb);
  if (!x || !y) fail_msg("%s: missing in %s or %s", name, a_dir, b_dir);
  assert_int_equal(la, lb);
  assert_memory_equal(x, y, la);
  free(x);
  free(y);
  free(pa);
  free(pb);
}

static void build_parts(const tree *t, const char *out, const uint32_t *order, uint32_t count,
                        uint32_t n, int threads) {
  pv_build_options o;
  part_opts(&o, NULL);
  o.threads = threads;
  pv_build_summary s;
  char err[512];
  for (uint32_t i = 0; i < count; i++) {
    pv_status st = pv_build_part(t->src, out, &o, order[i], n, &s, err, sizeof err);
    if (st != PV_OK) fail_msg("part %u/%u: %s: %s", order[i], n, pv_strerror(st), err);
  }
}

/* One build vs N=3 parts in two orders (and thread counts) + merge: the
 * same records, bit-identical loader batches, verify clean, the two merged
 * datasets byte-identical, the skip reports merged. */
static void test_merge_equals_whole(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  char *bad = pvt_join(t.src, "class1/zz_broken.jpg");
  assert_int_equal(pvt_write_file(bad, "not a jpeg", 10), 0);
  pv_build_options o;
  part_opts(&o, NULL);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build(t.src, t.whole, &o, &s, err, sizeof err), PV_OK);
  assert_int_equal(s.skipped, 1);
  char *out2 = pvt_join(t.root, "out2");
  const uint32_t o1[3] = {2, 0, 1}, o2[3] = {1, 2, 0};
  build_parts(&t, t.out, o1, 3, 3, 1);
  build_parts(&t, out2, o2, 3, 3, 2);
  pv_status st = pv_merge(t.out, &s, err, sizeof err);
  if (st != PV_OK) fail_msg("merge: %s: %s", pv_strerror(st), err);
  assert_int_equal(s.images, NIMG);
  assert_int_equal(s.skipped, 1);
  assert_int_equal(pv_merge(out2, &s, err, sizeof err), PV_OK);

  assert_same_records(t.whole, t.out);
  assert_same_records(t.whole, out2);
  assert_true(loader_hash(t.whole) == loader_hash(t.out));
  assert_true(loader_hash(t.out) == loader_hash(out2));

  pv_verify_options vo;
  pv_verify_options_init(&vo);
  pv_verify_summary vs;
  assert_int_equal(pv_verify(t.out, &vo, &vs), PV_OK);
  assert_int_equal(vs.problems, 0);
  assert_int_equal(vs.records_checked, NIMG);

  /* byte-identical whatever order the parts ran in */
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(t.out, NULL, &ds, err, sizeof err), PV_OK);
  uint32_t shards = pv_dataset_shard_count(ds);
  pv_dataset_close(ds);
  assert_true(shards >= 3);
  assert_same_file(t.out, out2, PV_INDEX_FILENAME);
  assert_same_file(t.out, out2, PV_REPORT_FILENAME);
  for (uint32_t k = 0; k < shards; k++) {
    char name[32];
    snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
    assert_same_file(t.out, out2, name);
  }
  /* the skip report names the broken file once; the parts are gone */
  char *rp = pvt_join(t.out, PV_REPORT_FILENAME);
  size_t rl = 0;
  uint8_t *raw = pvt_read_file(rp, &rl);
  assert_non_null(raw);
  char *rep = calloc(1, rl + 1); /* pvt_read_file's bytes are not a string */
  assert_non_null(rep);
  memcpy(rep, raw, rl);
  free(raw);
  char *hit = strstr(rep, "zz_broken.jpg");
  assert_non_null(hit);
  assert_null(strstr(hit + 1, "zz_broken.jpg"));
  char *parts = pvt_join(t.out, "parts");
  struct stat sb;
  assert_int_not_equal(stat(parts, &sb), 0);
  /* a second merge has no parts left to merge */
  assert_int_equal(pv_merge(t.out, &s, err, sizeof err), PV_ERR_NOT_FOUND);
  free(parts);
  free(rep);
  free(rp);
  free(bad);
  pvt_rmrf(out2);
  free(out2);
  tree_free(&t);
}

static int has_index(const char *out) {
  char *p = pvt_join(out, PV_INDEX_FILENAME);
  struct stat sb;
  int r = stat(p, &sb) == 0;
  free(p);
  return r;
}

/* A missing part, a part of another plan (other options; the tree changed)
 * and parts of another N are refused, naming the part; nothing that opens
 * as a dataset is left and the parts stay as they were. */
static void test_merge_refusals(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_options o;
  part_opts(&o, NULL);
  pv_build_summary s;
  char err[512];
  const uint32_t some[2] = {0, 2};
  build_parts(&t, t.out, some, 2, 3, 2);
  assert_int_equal(pv_merge(t.out, &s, err, sizeof err), PV_ERR_NOT_FOUND);
  assert_non_null(strstr(err, "1-of-3"));
  assert_false(has_index(t.out));

  /* part 1 with another seed */
  pv_build_options o2;
  part_opts(&o2, NULL);
  o2.seed = 99;
  assert_int_equal(pv_build_part(t.src, t.out, &o2, 1, 3, &s, err, sizeof err), PV_OK);
  assert_int_equal(pv_merge(t.out, &s, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "1-of-3"));
  assert_non_null(strstr(err, "another plan"));
  assert_false(has_index(t.out));

  /* the tree changed, part 1 rebuilt after it: refused */
  char *img = pvt_join(t.src, "class2/img002.jpg");
  struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
  assert_int_equal(utimensat(AT_FDCWD, img, ts, 0), 0);
  o.force = 1;
  assert_int_equal(pv_build_part(t.src, t.out, &o, 1, 3, &s, err, sizeof err), PV_OK);
  assert_int_equal(pv_merge(t.out, &s, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "another plan"));
  assert_false(has_index(t.out));
  char *p0 = part_dir(&t, 0, 3), *p0s = pvt_join(p0, "shard-00000.pvs");
  struct stat sb;
  assert_int_equal(stat(p0s, &sb), 0); /* the parts are intact */

  /* parts of another N */
  char *out3 = pvt_join(t.root, "out3");
  const uint32_t all[3] = {0, 1, 2};
  build_parts(&t, out3, all, 3, 3, 2);
  assert_int_equal(pv_build_part(t.src, out3, &o, 0, 2, &s, err, sizeof err), PV_OK);
  assert_int_equal(pv_merge(out3, &s, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "another N"));
  assert_false(has_index(out3));

  /* the CLI: merge OUT after the parts */
  char *out4 = pvt_join(t.root, "out4");
  build_parts(&t, out4, all, 3, 3, 2);
  char *outp = NULL;
  const char *a1[] = {"merge", out4, NULL};
  int rc = pvt_run_cli(&outp, a1);
  if (rc != 0) fail_msg("rc %d: %s", rc, outp ? outp : "");
  assert_non_null(strstr(outp, "merged"));
  free(outp);
  const char *a2[] = {"verify", out4, NULL};
  rc = pvt_run_cli(&outp, a2);
  if (rc != 0) fail_msg("verify rc %d: %s", rc, outp ? outp : "");
  free(outp);
  free(out4);
  free(out3);
  free(p0);
  free(p0s);
  free(img);
  tree_free(&t);
}

/* A merge killed after its marker and its first shard's rename (the state
 * kill -9 leaves there: shard 0 of part 0 keeps its numbers) leaves
 * nothing that opens as a dataset; a rerun finishes it, byte-identical to
 * an uninterrupted merge. A foreign file of a dataset name in OUT stops a
 * fresh merge before anything moves. */
static void test_merge_resume(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_summary s;
  char err[512];
  const uint32_t all[3] = {0, 1, 2};
  char *clean = pvt_join(t.root, "clean");
  build_parts(&t, clean, all, 3, 3, 2);
  assert_int_equal(pv_merge(clean, &s, err, sizeof err), PV_OK);

  build_parts(&t, t.out, all, 3, 3, 2);
  char *marker = pvt_join(t.out, "parts/merge.txt");
  assert_int_equal(pvt_write_file(marker, "pvpack merge 1\n", 15), 0);
  char *src0 = pvt_join(t.out, "parts/0-of-3/shard-00000.pvs");
  char *dst0 = pvt_join(t.out, "shard-00000.pvs");
  assert_int_equal(rename(src0, dst0), 0);
  pv_dataset *ds;
  assert_int_not_equal(pv_dataset_open(t.out, NULL, &ds, err, sizeof err), PV_OK);
  pv_status st = pv_merge(t.out, &s, err, sizeof err);
  if (st != PV_OK) fail_msg("resumed merge: %s: %s", pv_strerror(st), err);
  assert_same_file(clean, t.out, PV_INDEX_FILENAME);
  assert_int_equal(pv_dataset_open(t.out, NULL, &ds, err, sizeof err), PV_OK);
  uint32_t shards = pv_dataset_shard_count(ds);
  pv_dataset_close(ds);
  for (uint32_t k = 0; k < shards; k++) {
    char name[32];
    snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
    assert_same_file(clean, t.out, name);
  }

  /* a foreign report.txt in OUT: refused, kept, the parts untouched */
  char *out5 = pvt_join(t.root, "out5");
  build_parts(&t, out5, all, 3, 3, 2);
  char *foreign = pvt_join(out5, "report.txt");
  assert_int_equal(pvt_write_file(foreign, "mine", 4), 0);
  assert_int_equal(pv_merge(out5, &s, err, sizeof err), PV_ERR_EXISTS);
  assert_non_null(strstr(err, "report.txt"));
  size_t fl = 0;
  uint8_t *fb = pvt_read_file(foreign, &fl);
  assert_int_equal(fl, 4);
  free(fb);
  char *p0s = pvt_join(out5, "parts/0-of-3/shard-00000.pvs");
  struct stat sb;
  assert_int_equal(stat(p0s, &sb), 0);
  free(p0s);
  free(foreign);
  free(out5);
  free(marker);
  free(src0);
  free(dst0);
  free(clean);
  tree_free(&t);
}

/* kill -9 during the merge, at a different moment each round: until the
 * merge is done OUT does not open as a dataset; a rerun then finishes it
 * (or finds it finished), byte-identical to an uninterrupted merge. */
static void test_merge_kill9(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_summary s;
  char err[512];
  const uint32_t all[3] = {0, 1, 2};
  char *clean = pvt_join(t.root, "clean");
  build_parts(&t, clean, all, 3, 3, 2);
  assert_int_equal(pv_merge(clean, &s, err, sizeof err), PV_OK);
  int interrupted = 0;
  for (int round = 0; round < 8; round++) {
    char name[32];
    snprintf(name, sizeof name, "kill%d", round);
    char *out = pvt_join(t.root, name);
    build_parts(&t, out, all, 3, 3, 2);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      char e2[512];
      _exit(pv_merge(out, NULL, e2, sizeof e2) == PV_OK ? 0 : 1);
    }
    struct timespec d = {0, (long)round * 150000L}; /* 0 .. 1.05 ms */
    nanosleep(&d, NULL);
    kill(pid, SIGKILL);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    pv_dataset *ds;
    char *ix = pvt_join(out, PV_INDEX_FILENAME);
    struct stat sb;
    int done = stat(ix, &sb) == 0;
    if (!done) assert_int_not_equal(pv_dataset_open(out, NULL, &ds, err, sizeof err), PV_OK);
    char *parts = pvt_join(out, "parts");
    int parts_left = stat(parts, &sb) == 0;
    if (parts_left) interrupted++;
    pv_status st = pv_merge(out, &s, err, sizeof err);
    /* killed after it had finished: nothing is left to merge */
    if (!(st == PV_ERR_NOT_FOUND && done && !parts_left) && st != PV_OK)
      fail_msg("round %d: rerun: %s: %s", round, pv_strerror(st), err);
    assert_int_not_equal(stat(parts, &sb), 0); /* cleaned up */
    assert_same_file(clean, out, PV_INDEX_FILENAME);
    assert_int_equal(pv_dataset_open(out, NULL, &ds, err, sizeof err), PV_OK);
    uint32_t shards = pv_dataset_shard_count(ds);
    pv_dataset_close(ds);
    for (uint32_t k = 0; k < shards; k++) {
      snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
      assert_same_file(clean, out, name);
    }
    free(parts);
    free(ix);
    free(out);
  }
  print_message("kill -9: %d of 8 rounds left a merge to finish\n", interrupted);
  free(clean);
  tree_free(&t);
}

/* kill -9 during a part, at a different moment each round: no part
 * directory exists until it is complete; the rerun packs it cleanly (the
 * killed run's temporary directory removed), byte-identical to a part that
 * was never interrupted. */
static void test_part_kill9(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_summary s;
  char err[512];
  const uint32_t one[1] = {1};
  char *clean = pvt_join(t.root, "clean");
  build_parts(&t, clean, one, 1, 3, 1);
  char *cpd = pvt_join(clean, "parts/1-of-3");
  int interrupted = 0;
  for (int round = 0; round < 6; round++) {
    char name[32];
    snprintf(name, sizeof name, "pkill%d", round);
    char *out = pvt_join(t.root, name);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      pv_build_options o;
      part_opts(&o, NULL);
      o.threads = 1;
      char e2[512];
      _exit(pv_build_part(t.src, out, &o, 1, 3, NULL, e2, sizeof e2) == PV_OK ? 0 : 1);
    }
    struct timespec d = {0, (long)round * 2000000L}; /* 0 .. 10 ms */
    nanosleep(&d, NULL);
    kill(pid, SIGKILL);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    char *pd = pvt_join(out, "parts/1-of-3"), *rec = pvt_join(pd, "part.txt");
    struct stat sb;
    if (stat(pd, &sb) == 0)
      assert_int_equal(stat(rec, &sb), 0); /* there only complete */
    else
      interrupted++;
    pv_build_options o;
    part_opts(&o, NULL);
    pv_status st = pv_build_part(t.src, out, &o, 1, 3, &s, err, sizeof err);
    if (st != PV_OK) fail_msg("round %d: rerun: %s: %s", round, pv_strerror(st), err);
    assert_same_file(cpd, pd, PV_INDEX_FILENAME);
    assert_same_file(cpd, pd, "part.txt");
    pv_dataset *ds;
    assert_int_equal(pv_dataset_open(pd, NULL, &ds, err, sizeof err), PV_OK);
    uint32_t shards = pv_dataset_shard_count(ds);
    pv_dataset_close(ds);
    for (uint32_t k = 0; k < shards; k++) {
      snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
      assert_same_file(cpd, pd, name);
    }
    /* no temporary directory is left behind */
    char *parts = pvt_join(out, "parts");
    DIR *dd = opendir(parts);
    assert_non_null(dd);
    struct dirent *de;
    while ((de = readdir(dd)))
      if (strstr(de->d_name, ".tmp-")) fail_msg("round %d: %s left", round, de->d_name);
    closedir(dd);
    free(parts);
    free(rec);
    free(pd);
    free(out);
  }
  print_message("kill -9: %d of 6 rounds killed the part before it completed\n", interrupted);
  free(cpd);
  free(clean);
  tree_free(&t);
}

/* ---- duplicate attempts of one part (issue 11: speculation, retries) ------ */

/* Names in dir other than "." and ".." (a NULL-terminated list in *names,
 * joined by spaces, for messages). */
static int dir_entries(const char *dir, char *names, size_t cap) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  names[0] = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
      size_t l = strlen(names);
      snprintf(names + l, cap - l, "%s%s", l ? " " : "", de->d_name);
      n++;
    }
  closedir(d);
  return n;
}

static void assert_same_part(const char *a_pd, const char *b_pd) {
  char err[512];
  assert_same_file(a_pd, b_pd, PV_INDEX_FILENAME);
  assert_same_file(a_pd, b_pd, PV_REPORT_FILENAME);
  assert_same_file(a_pd, b_pd, "part.txt");
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(a_pd, NULL, &ds, err, sizeof err), PV_OK);
  uint32_t shards = pv_dataset_shard_count(ds);
  pv_dataset_close(ds);
  for (uint32_t k = 0; k < shards; k++) {
    char name[32];
    snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
    assert_same_file(a_pd, b_pd, name);
  }
}

static void assert_same_dataset(const char *a, const char *b) {
  char err[512];
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(a, NULL, &ds, err, sizeof err), PV_OK);
  uint32_t shards = pv_dataset_shard_count(ds);
  pv_dataset_close(ds);
  assert_same_file(a, b, PV_INDEX_FILENAME);
  for (uint32_t k = 0; k < shards; k++) {
    char name[32];
    snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
    assert_same_file(a, b, name);
  }
}

#define DUPS 4

/* A file system without flock, for the tests below: this definition
 * interposes libc's for the whole (statically linked) test program and its
 * forked children; off, it is the system call. */
static int no_flock_fs;
int flock(int fd, int op) {
  if (no_flock_fs) {
    errno = ENOLCK;
    return -1;
  }
  return (int)syscall(SYS_flock, fd, op);
}

/* With no_flock_fs, renameat2 (part.c's rename-if-absent) waits 200 ms
 * first, so that duplicate attempts all look at <k>-of-<n> before any of
 * them renames: the losers meet a rename that fails (EEXIST). */
int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags);
int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags) {
  if (no_flock_fs) {
    struct timespec d = {0, 200000000L};
    nanosleep(&d, NULL);
  }
  return (int)syscall(SYS_renameat2, ofd, from, nfd, to, flags);
}

/* DUPS forked attempts of part 1 of 3 of t into out, released at once (a
 * pipe closed under them): each must succeed; counts in *discarded those
 * that threw their finished copy away and in *noop those that found the part
 * complete before packing. */
static void dup_round(const tree *t, const char *out, int round, int *discarded, int *noop) {
  int gate[2], res[2];
  assert_int_equal(pipe(gate), 0);
  assert_int_equal(pipe(res), 0);
  pid_t pids[DUPS];
  for (int i = 0; i < DUPS; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      close(gate[1]);
      close(res[0]);
      char c;
      while (read(gate[0], &c, 1) < 0) {
      } /* EOF when the parent closes the gate */
      pv_build_options o;
      char logbuf[4096] = "";
      part_opts(&o, logbuf);
      o.threads = 1 + (i & 1);
      char e2[512] = "";
      pv_build_summary s2;
      pv_status st = pv_build_part(t->src, out, &o, 1, 3, &s2, e2, sizeof e2);
      char msg[700];
      int len = snprintf(msg, sizeof msg, "%d %d %s|%s\n", (int)st,
                         strstr(logbuf, "discarded") ? 1 : s2.threads == 0 ? 2 : 0,
                         pv_strerror(st), e2);
      if (write(res[1], msg, (size_t)len) != len) _exit(3);
      _exit(st == PV_OK ? 0 : 1);
    }
  }
  close(gate[0]);
  close(res[1]);
  close(gate[1]); /* go */
  for (int i = 0; i < DUPS; i++) {
    int ws;
    assert_int_equal(waitpid(pids[i], &ws, 0), pids[i]);
  }
  char msgs[4096];
  ssize_t got, off = 0;
  while ((got = read(res[0], msgs + off, sizeof msgs - 1 - (size_t)off)) > 0) off += got;
  msgs[off] = 0;
  close(res[0]);
  int lines = 0;
  for (char *l = msgs; *l; lines++) {
    char *nl = strchr(l, '\n');
    if (!nl) break;
    *nl = 0;
    if (atoi(l) != PV_OK) fail_msg("round %d: an attempt failed: %s", round, l);
    const char *how = strchr(l, ' ') + 1;
    *discarded += *how == '1';
    *noop += *how == '2';
    l = nl + 1;
  }
  assert_int_equal(lines, DUPS);
}

/* DUPS attempts of part 1 of 3 at once, 5 rounds: every attempt succeeds,
 * exactly parts/1-of-3 remains (no temporary directory, no lock file),
 * byte-identical to a part built alone; the merged dataset is
 * byte-identical to the usual one. */
static void test_part_duplicates_concurrent(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  char *ref = pvt_join(t.root, "ref");
  const uint32_t all[3] = {0, 1, 2}, others[2] = {2, 0};
  build_parts(&t, ref, all, 3, 3, 1);
  char *clean = pvt_join(t.root, "clean"); /* a kept copy of part 1 */
  build_parts(&t, clean, all + 1, 1, 3, 1);
  char *clean_pd = pvt_join(clean, "parts/1-of-3");
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_merge(ref, &s, err, sizeof err), PV_OK);
  int discarded = 0, noop = 0;
  for (int round = 0; round < 5; round++) {
    char name[32];
    snprintf(name, sizeof name, "dup%d", round);
    char *out = pvt_join(t.root, name);
    dup_round(&t, out, round, &discarded, &noop);
    char *parts = pvt_join(out, "parts"), names[1024];
    if (dir_entries(parts, names, sizeof names) != 1 || strcmp(names, "1-of-3"))
      fail_msg("round %d: parts/ holds '%s', not just 1-of-3", round, names);
    char *pd = pvt_join(out, "parts/1-of-3");
    assert_same_part(clean_pd, pd);
    if (round == 4) { /* the rest of the parts, the merge: the usual bytes */
      build_parts(&t, out, others, 2, 3, 2);
      assert_int_equal(pv_merge(out, &s, err, sizeof err), PV_OK);
      assert_same_dataset(ref, out);
      struct stat sb;
      assert_int_not_equal(stat(parts, &sb), 0);
    }
    free(pd);
    free(parts);
    free(out);
  }
  print_message("%d duplicate attempts discarded their copy, %d found the part complete\n",
                discarded, noop);
  assert_int_equal(discarded + noop, 5 * (DUPS - 1));
  free(clean_pd);
  free(clean);
  free(ref);
  tree_free(&t);
}

static int flock_back(void **state) { /* also when the test failed midway */
  (void)state;
  no_flock_fs = 0;
  return 0;
}

/* The same on a file system without flock (ENOLCK): still every attempt
 * succeeds (rename-if-absent, the losers discard), one part with the usual
 * bytes, nothing of theirs left; a dead attempt's directory cannot be told
 * from a live one's there, so it is kept. */
static void test_part_duplicates_no_flock(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  char *clean = pvt_join(t.root, "clean");
  const uint32_t one[1] = {1};
  build_parts(&t, clean, one, 1, 3, 1);
  char *clean_pd = pvt_join(clean, "parts/1-of-3");
  int discarded = 0, noop = 0;
  no_flock_fs = 1;
  for (int round = 0; round < 3; round++) {
    char name[32];
    snprintf(name, sizeof name, "nolock%d", round);
    char *out = pvt_join(t.root, name), *kept = NULL;
    if (round == 2) { /* a dead attempt's directory, attempt.lock and all */
      char *d = pvt_join(out, "parts/1-of-3.tmp-DEAD01");
      assert_int_equal(pvt_mkdirs(d, 1), 0);
      kept = pvt_join(d, "attempt.lock");
      assert_int_equal(pvt_write_file(kept, "", 0), 0);
      free(d);
    }
    dup_round(&t, out, round, &discarded, &noop);
    char *parts = pvt_join(out, "parts"), names[1024];
    const char *want = round == 2 ? "1-of-3 1-of-3.tmp-DEAD01" : "1-of-3";
    int n = dir_entries(parts, names, sizeof names);
    if (n != (round == 2 ? 2 : 1) ||
        (strcmp(names, want) && strcmp(names, "1-of-3.tmp-DEAD01 1-of-3")))
      fail_msg("round %d: parts/ holds '%s', not '%s'", round, names, want);
    char *pd = pvt_join(out, "parts/1-of-3");
    assert_same_part(clean_pd, pd);
    free(pd);
    free(parts);
    free(kept);
    free(out);
  }
  no_flock_fs = 0;
  assert_int_equal(discarded + noop, 3 * (DUPS - 1));
  free(clean_pd);
  free(clean);
  tree_free(&t);
}

/* Makes OUT/parts/1-of-3.tmp-<tag> with a stand-in shard and, if lock, an
 * attempt.lock; returns its path. */
static char *fake_attempt(const char *out, const char *tag, int lock) {
  char rel[64];
  snprintf(rel, sizeof rel, "parts/1-of-3.tmp-%s", tag);
  char *dir = pvt_join(out, rel);
  assert_int_equal(pvt_mkdirs(dir, 1), 0);
  char *sh = pvt_join(dir, "shard-00000.pvs");
  assert_int_equal(pvt_write_file(sh, "partial", 7), 0);
  free(sh);
  if (lock) {
    char *lk = pvt_join(dir, "attempt.lock");
    assert_int_equal(pvt_write_file(lk, "", 0), 0);
    free(lk);
  }
  return dir;
}

/* The directories other attempts left: a dead attempt's (its attempt.lock
 * free; or none) is removed by the next attempt of the part; a live one's
 * (its lock held, here by this process through another open file) is
 * kept; one holding a file pvpack does not write is kept with that file.
 * After the merge, the dead attempts' directories are gone as well. */
static void test_part_attempt_sweep(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  struct stat sb;
  char *dead = fake_attempt(t.out, "DEAD01", 1), *nolock = fake_attempt(t.out, "NOLCK1", 0);
  char *live = fake_attempt(t.out, "LIVE01", 1), *foreign = fake_attempt(t.out, "FORGN1", 0);
  char *notes = pvt_join(foreign, "notes.txt");
  assert_int_equal(pvt_write_file(notes, "mine", 4), 0);
  char *live_lk = pvt_join(live, "attempt.lock");
  int lfd = open(live_lk, O_RDWR);
  assert_true(lfd >= 0);
  assert_int_equal(flock(lfd, LOCK_EX | LOCK_NB), 0);

  const uint32_t one[1] = {1}, rest[2] = {0, 2};
  build_parts(&t, t.out, one, 1, 3, 1);
  assert_int_not_equal(stat(dead, &sb), 0);
  assert_int_not_equal(stat(nolock, &sb), 0);
  if (stat(live, &sb) != 0) fail_msg("a live attempt's directory was removed");
  assert_int_equal(stat(live_lk, &sb), 0);
  assert_int_equal(stat(notes, &sb), 0);
  char *lk = pvt_join(t.out, "parts/1-of-3.lock");
  assert_int_not_equal(stat(lk, &sb), 0); /* the part lock is not left */

  /* a second dead one appears; the live one dies (its lock freed) */
  free(dead);
  dead = fake_attempt(t.out, "DEAD02", 1);
  close(lfd);
  build_parts(&t, t.out, rest, 2, 3, 1);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_merge(t.out, &s, err, sizeof err), PV_OK);
  assert_int_not_equal(stat(dead, &sb), 0);
  assert_int_not_equal(stat(live, &sb), 0);
  /* only the foreign directory is left under parts/ */
  char *parts = pvt_join(t.out, "parts"), names[512];
  assert_int_equal(dir_entries(parts, names, sizeof names), 1);
  assert_string_equal(names, "1-of-3.tmp-FORGN1");
  size_t nl = 0;
  uint8_t *mine = pvt_read_file(notes, &nl);
  assert_non_null(mine);
  assert_int_equal(nl, 4);
  free(mine);
  free(parts);
  free(lk);
  free(live_lk);
  free(notes);
  free(dead);
  free(nolock);
  free(live);
  free(foreign);
  tree_free(&t);
}

/* An attempt still packing when the merge runs (a speculative duplicate):
 * held at its commit by the part lock while its twin's part is placed and
 * merged; it ends with success, discards its copy, and nothing is left
 * under OUT but the dataset. */
static void test_part_straggler_after_merge(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  char *twin = pvt_join(t.root, "twin");
  const uint32_t one[1] = {1}, rest[2] = {0, 2};
  build_parts(&t, twin, one, 1, 3, 1);
  build_parts(&t, t.out, rest, 2, 3, 1);
  char *parts = pvt_join(t.out, "parts");
  char *lkp = pvt_join(parts, "1-of-3.lock");
  /* hold the part lock first: the straggler's birth waits on it */
  int lfd = open(lkp, O_RDWR | O_CREAT, 0666);
  assert_true(lfd >= 0);
  assert_int_equal(flock(lfd, LOCK_EX), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(lfd);
    pv_build_options o;
    part_opts(&o, NULL);
    o.threads = 1;
    char e2[512];
    pv_status st = pv_build_part(t.src, t.out, &o, 1, 3, NULL, e2, sizeof e2);
    if (st != PV_OK) fprintf(stderr, "straggler: %s: %s\n", pv_strerror(st), e2);
    _exit(st == PV_OK ? 0 : 1);
  }
  /* let it be born: release, and wait for its attempt directory */
  unlink(lkp); /* the lock protocol: its holder unlinks it, then unlocks */
  close(lfd);
  struct timespec d = {0, 200000L};
  int born = 0;
  for (int i = 0; i < 300000 && !born; i++) { /* up to a minute */
    char names[512];
    nanosleep(&d, NULL);
    born = dir_entries(parts, names, sizeof names) > 0 && strstr(names, "1-of-3.tmp-") != NULL;
  }
  assert_true(born);
  /* hold its commit: the part lock again, then the twin's part placed */
  char *tpd = pvt_join(twin, "parts/1-of-3"), *pd = pvt_join(parts, "1-of-3");
  struct stat sb, fsb;
  for (;;) { /* part.c's protocol: the lock is ours once the path names it */
    lfd = open(lkp, O_RDWR | O_CREAT, 0666);
    assert_true(lfd >= 0);
    assert_int_equal(flock(lfd, LOCK_EX), 0);
    if (fstat(lfd, &fsb) == 0 && stat(lkp, &sb) == 0 && sb.st_ino == fsb.st_ino) break;
    close(lfd);
  }
  if (stat(pd, &sb) == 0) /* it committed first (a slow machine): still no leftovers */
    print_message("the straggler committed before the twin was placed\n");
  else
    assert_int_equal(rename(tpd, pd), 0);
  unlink(lkp);
  close(lfd);
  /* merged while it packs or waits (the merge takes the part lock too) */
  pv_build_summary s;
  char err[512];
  pv_status st = pv_merge(t.out, &s, err, sizeof err);
  if (st != PV_OK) fail_msg("merge: %s: %s", pv_strerror(st), err);
  int ws;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  assert_true(WIFEXITED(ws));
  assert_int_equal(WEXITSTATUS(ws), 0);
  if (stat(parts, &sb) == 0) {
    char names[512];
    dir_entries(parts, names, sizeof names);
    fail_msg("parts/ is left, holding '%s'", names);
  }
  pv_verify_options vo;
  pv_verify_options_init(&vo);
  pv_verify_summary vs;
  assert_int_equal(pv_verify(t.out, &vo, &vs), PV_OK);
  assert_int_equal(vs.problems, 0);
  assert_int_equal(vs.records_checked, NIMG);
  free(tpd);
  free(pd);
  free(lkp);
  free(parts);
  free(twin);
  tree_free(&t);
}

/* Takes OUT/parts/1-of-3.lock as part.c does (the lock is ours once the
 * path still names the file we locked). Returns the fd. */
static int take_part_lock(const char *lkp) {
  for (;;) {
    int fd = open(lkp, O_RDWR | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(lkp, &b) == 0 && a.st_ino == b.st_ino) return fd;
    close(fd);
  }
}

/* An attempt reaching its commit while a merge is consuming the parts (the
 * merge marker there, 1-of-3 emptied of its part.txt, as in the merge's
 * last step): it discards its copy and succeeds, touching nothing else. */
static void test_part_commit_during_merge(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  const uint32_t rest[2] = {0, 2};
  build_parts(&t, t.out, rest, 2, 3, 1);
  char *parts = pvt_join(t.out, "parts"), *lkp = pvt_join(parts, "1-of-3.lock");
  int lfd = take_part_lock(lkp); /* its birth waits */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(lfd);
    pv_build_options o;
    part_opts(&o, NULL);
    o.threads = 1;
    char e2[512];
    pv_status st = pv_build_part(t.src, t.out, &o, 1, 3, NULL, e2, sizeof e2);
    if (st != PV_OK) fprintf(stderr, "attempt: %s: %s\n", pv_strerror(st), e2);
    _exit(st == PV_OK ? 0 : 1);
  }
  unlink(lkp);
  close(lfd);
  struct timespec d = {0, 200000L};
  int born = 0;
  char names[512];
  for (int i = 0; i < 300000 && !born; i++) {
    nanosleep(&d, NULL);
    born = dir_entries(parts, names, sizeof names) > 0 && strstr(names, "1-of-3.tmp-") != NULL;
  }
  assert_true(born);
  lfd = take_part_lock(lkp); /* its commit waits: the merge "runs" */
  char *marker = pvt_join(parts, "merge.txt"), *pd = pvt_join(parts, "1-of-3");
  char *sh = pvt_join(pd, "shard-00000.pvs");
  assert_int_equal(pvt_write_file(marker, "pvpack merge 1\n", 15), 0);
  assert_int_equal(pvt_mkdirs(pd, 1), 0);
  assert_int_equal(pvt_write_file(sh, "being consumed", 14), 0);
  unlink(lkp);
  close(lfd);
  int ws;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  assert_true(WIFEXITED(ws));
  assert_int_equal(WEXITSTATUS(ws), 0);
  /* its copy is gone; what the "merge" holds is as it was */
  assert_int_equal(dir_entries(parts, names, sizeof names), 4);
  assert_null(strstr(names, ".tmp-"));
  assert_null(strstr(names, ".lock"));
  size_t l = 0;
  uint8_t *b = pvt_read_file(sh, &l);
  assert_non_null(b);
  assert_int_equal(l, 14);
  free(b);
  free(sh);
  free(pd);
  free(marker);
  free(lkp);
  free(parts);
  tree_free(&t);
}

/* ---- plans made once (build --plan, pack/plan_file.c) --------------------- */

static char *plan_file(const tree *t, uint32_t k, uint32_t n) {
  char rel[64];
  snprintf(rel, sizeof rel, "parts/plan/%u-of-%u.pvl", k, n);
  return pvt_join(t->out, rel);
}

/* A plan made once, then the parts in a shuffled order with other thread
 * counts, then merge: byte for byte the dataset of walked parts, the whole
 * build's records; the plan is gone after the merge; a second plan step is
 * a no-op, one with other options is refused unless forced. */
static void test_plan_parts_equal_walked(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  char *bad = pvt_join(t.src, "class1/zz_broken.jpg");
  assert_int_equal(pvt_write_file(bad, "not a jpeg", 10), 0);
  pv_build_options o;
  char logbuf[4096] = "";
  part_opts(&o, logbuf);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build(t.src, t.whole, &o, &s, err, sizeof err), PV_OK);
  char *walked = pvt_join(t.root, "walked");
  const uint32_t seq[4] = {0, 1, 2, 3}, shuf[4] = {3, 1, 0, 2};
  build_parts(&t, walked, seq, 4, 4, 2);
  assert_int_equal(pv_merge(walked, &s, err, sizeof err), PV_OK);

  pv_status st = pv_build_plan(t.src, t.out, &o, 4, &s, err, sizeof err);
  if (st != PV_OK) fail_msg("plan: %s: %s", pv_strerror(st), err);
  assert_int_equal(s.files, NIMG + 1);
  assert_int_equal(s.classes, NCLS);
  assert_int_not_equal(s.threads, 0);
  for (uint32_t k = 0; k < 4; k++) {
    char *pf = plan_file(&t, k, 4);
    struct stat sb;
    assert_int_equal(stat(pf, &sb), 0);
    free(pf);
  }
  /* again: a no-op; other options: refused, then replaced with force */
  assert_int_equal(pv_build_plan(t.src, t.out, &o, 4, &s, err, sizeof err), PV_OK);
  assert_int_equal(s.threads, 0);
  pv_build_options o2 = o;
  o2.seed = 99;
  assert_int_equal(pv_build_plan(t.src, t.out, &o2, 4, &s, err, sizeof err), PV_ERR_EXISTS);
  assert_int_equal(pv_build_plan(t.src, t.out, &o, 3, &s, err, sizeof err), PV_ERR_EXISTS);
  o2.force = 1;
  assert_int_equal(pv_build_plan(t.src, t.out, &o2, 4, &s, err, sizeof err), PV_OK);
  /* parts with the first options now meet the forced plan's seed */
  assert_int_equal(pv_build_part(t.src, t.out, &o, 0, 4, &s, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "seed=99"));
  assert_non_null(strstr(err, "seed=0"));
  o.force = 1;
  assert_int_equal(pv_build_plan(t.src, t.out, &o, 4, &s, err, sizeof err), PV_OK);
  o.force = 0;

  build_parts(&t, t.out, shuf, 4, 4, 1);
  assert_int_equal(pv_merge(t.out, &s, err, sizeof err), PV_OK);
  assert_int_equal(s.images, NIMG);
  assert_int_equal(s.skipped, 1);
  assert_same_dataset(walked, t.out);
  assert_same_file(walked, t.out, PV_REPORT_FILENAME);
  assert_same_records(t.whole, t.out);
  assert_true(loader_hash(t.whole) == loader_hash(t.out));
  char *parts = pvt_join(t.out, "parts");
  struct stat sb;
  assert_int_not_equal(stat(parts, &sb), 0); /* plan and parts gone */
  free(parts);
  pvt_rmrf(walked);
  free(walked);
  free(bad);
  tree_free(&t);
}

/* A part built from the plan does not list the tree: a class folder added
 * after the plan is not seen (a walked part's plan would change), and the
 * merged dataset is the one of the tree as planned. A file changed, removed
 * or added among the planned ones fails the part that packs it with
 * PV_ERR_CHANGED naming it; the other parts still build. */
static void test_plan_tree_changes(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_options o;
  part_opts(&o, NULL);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build(t.src, t.whole, &o, &s, err, sizeof err), PV_OK);
  assert_int_equal(pv_build_plan(t.src, t.out, &o, 3, &s, err, sizeof err), PV_OK);
  char *newcls = pvt_join(t.src, "zzz_new_class");
  assert_int_equal(pvt_write_jpeg_tree(newcls, 2, 1, 20, 5, 20, 5, 90), 0);
  const uint32_t all[3] = {0, 1, 2};
  build_parts(&t, t.out, all, 3, 3, 2);
  assert_int_equal(pv_merge(t.out, &s, err, sizeof err), PV_OK);
  assert_same_records(t.whole, t.out);
  pvt_rmrf(newcls);
  free(newcls);

  /* a file rewritten with other bytes (then put back, mtime too), then one
   * removed: each time exactly one part fails, naming the file */
  char *out2 = pvt_join(t.root, "out2");
  assert_int_equal(pv_build_plan(t.src, out2, &o, 3, &s, err, sizeof err), PV_OK);
  char *victim = pvt_join(t.src, "class1/img004.jpg");
  char *gone = pvt_join(t.src, "class2/img005.jpg");
  struct stat vst;
  assert_int_equal(stat(victim, &vst), 0);
  size_t vl = 0;
  uint8_t *vb = pvt_read_file(victim, &vl);
  assert_non_null(vb);
  assert_int_equal(pvt_write_file(victim, vb, vl - 1), 0); /* another size */
  for (int round = 0; round < 3; round++) {
    if (round == 1) { /* the bytes and the modification time back: as planned */
      assert_int_equal(pvt_write_file(victim, vb, vl), 0);
      struct timespec ts[2] = {vst.st_atim, vst.st_mtim};
      assert_int_equal(utimensat(AT_FDCWD, victim, ts, 0), 0);
    }
    if (round == 2) assert_int_equal(unlink(gone), 0);
    const char *name = round == 0 ? "class1/img004.jpg" : "class2/img005.jpg";
    const char *how = round == 0 ? "changed" : "gone";
    int changed = 0, ok = 0;
    for (uint32_t k = 0; k < 3; k++) {
      char *pd = part_dir(&t, k, 3);
      char *pd2 = pvt_join(out2, pd + strlen(t.out) + 1);
      pvt_rmrf(pd2); /* rebuild every part each round */
      pv_status st = pv_build_part(t.src, out2, &o, k, 3, &s, err, sizeof err);
      struct stat sb;
      if (st == PV_OK) {
        ok++;
        assert_int_equal(stat(pd2, &sb), 0);
      } else {
        assert_int_equal(st, PV_ERR_CHANGED);
        changed++;
        if (!strstr(err, name) || !strstr(err, how)) fail_msg("round %d: %s", round, err);
        assert_int_not_equal(stat(pd2, &sb), 0); /* no part for a failed part */
      }
      free(pd);
      free(pd2);
    }
    assert_int_equal(changed, round == 1 ? 0 : 1);
    assert_int_equal(ok + changed, 3);
  }
  free(vb);
  char *pp = pvt_join(out2, "parts");
  char names[512];
  assert_true(dir_entries(pp, names, sizeof names) >= 0);
  assert_null(strstr(names, "tmp")); /* no attempt's directory left behind */
  free(pp);
  free(victim);
  free(gone);
  pvt_rmrf(out2);
  free(out2);
  tree_free(&t);
}

/* Plan files are read as untrusted: every damage below is refused with
 * PV_ERR_CORRUPT and a message naming the file, never a crash; the part
 * is not written. Checksums are recomputed, so the content is what fails. */
static void plan_layout(const uint8_t *b, size_t len, size_t *entries_at) {
  assert_true(len > 72);
  uint32_t classes, ol;
  memcpy(&classes, b + 16, 4);
  memcpy(&ol, b + 20, 4);
  size_t at = 64 + ol;
  for (uint32_t c = 0; c < classes; c++) {
    uint32_t l;
    memcpy(&l, b + at, 4);
    at += 4 + l;
  }
  *entries_at = at;
}

static void reseal(uint8_t *b, size_t len) {
  uint64_t h = XXH3_64bits(b, len - 8);
  memcpy(b + len - 8, &h, 8); /* little-endian hosts, as the test suite */
}

static void test_plan_hostile(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_options o;
  part_opts(&o, NULL);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build_plan(t.src, t.out, &o, 2, &s, err, sizeof err), PV_OK);
  char *pf = plan_file(&t, 0, 2);
  size_t len = 0;
  uint8_t *orig = pvt_read_file(pf, &len);
  assert_non_null(orig);
  size_t e0 = 0;
  plan_layout(orig, len, &e0);
  enum { CASES = 12 };
  for (int c = 0; c < CASES; c++) {
    uint8_t *b = malloc(len + 64);
    assert_non_null(b);
    memcpy(b, orig, len);
    size_t l = len;
    uint32_t v;
    const char *want = NULL;
    switch (c) {
      case 0: l = len / 2; want = "checksum"; break;            /* cut short */
      case 1: b[e0 + 40] ^= 1; want = "checksum"; break;        /* not resealed */
      case 2: v = NCLS; memcpy(b + e0, &v, 4); want = "entry 0"; break; /* label */
      case 3: memcpy(b + e0 + 32, "../", 3); want = "entry 0"; break;  /* escapes */
      case 4: b[e0 + 32] = '/'; want = "entry 0"; break;         /* absolute */
      case 5: memcpy(b + e0 + 32 + 6, "/../", 4); want = "entry 0"; break;
      case 6: v = 0xFFFFFFF0u; memcpy(b + e0 + 4, &v, 4); want = "entry 0"; break;
      case 7: v = 0x7FFFFFFFu; memcpy(b + 16, &v, 4); want = "header"; break;
      case 8: { uint64_t j = 1ull << 50; memcpy(b + 24, &j, 8); want = "header"; break; }
      case 9: v = 1; memcpy(b + 8, &v, 4); want = "part 1 of 2"; break; /* another k */
      case 10: b[e0 + 32 + 1] = 0; want = "entry 0"; break;      /* NUL in path */
      case 11: memcpy(b + l - 8, "12345678", 8); memset(b + l, 0, 8); l += 8; want = NULL; break;
    }
    if (c >= 2) reseal(b, l);
    assert_int_equal(pvt_write_file(pf, b, l), 0);
    pv_status st = pv_build_part(t.src, t.out, &o, 0, 2, &s, err, sizeof err);
    if (st != PV_ERR_CORRUPT)
      fail_msg("case %d: %s (%s), not PV_ERR_CORRUPT", c, pv_strerror(st), err);
    assert_non_null(strstr(err, "0-of-2.pvl"));
    if (want && !strstr(err, want)) fail_msg("case %d: '%s' lacks '%s'", c, err, want);
    char *pd = part_dir(&t, 0, 2);
    struct stat sb;
    assert_int_not_equal(stat(pd, &sb), 0);
    free(pd);
    free(b);
  }
  /* the real file back: the part builds */
  assert_int_equal(pvt_write_file(pf, orig, len), 0);
  assert_int_equal(pv_build_part(t.src, t.out, &o, 0, 2, &s, err, sizeof err), PV_OK);
  /* a part of another N finds no plan for it */
  assert_int_equal(pv_build_part(t.src, t.out, &o, 0, 3, &s, err, sizeof err), PV_ERR_NOT_FOUND);
  assert_non_null(strstr(err, "another N"));
  free(orig);
  free(pf);
  tree_free(&t);
}

/* `pvpack build --plan --parts N`, then `--part K/N` and merge through the
 * CLI; --plan without --parts is a usage error. */
static void test_plan_cli(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  char *out = NULL;
  const char *plan[] = {"build", t.src, "-o", t.out, "--parts", "2", "--plan", "--quiet", NULL};
  assert_int_equal(pvt_run_cli(&out, plan), 0);
  assert_non_null(strstr(out, "planned 2 parts"));
  free(out);
  assert_int_equal(pvt_run_cli(&out, plan), 0);
  assert_non_null(strstr(out, "already there"));
  free(out);
  const char *noparts[] = {"build", t.src, "-o", t.out, "--plan", NULL};
  assert_int_equal(pvt_run_cli(&out, noparts), 2);
  free(out);
  for (int k = 0; k < 2; k++) {
    char pk[8];
    snprintf(pk, sizeof pk, "%d/2", k);
    const char *part[] = {"build", t.src, "-o", t.out, "--part", pk, "--quiet", NULL};
    assert_int_equal(pvt_run_cli(&out, part), 0);
    free(out);
  }
  const char *merge[] = {"merge", t.out, NULL};
  assert_int_equal(pvt_run_cli(&out, merge), 0);
  free(out);
  const char *verify[] = {"verify", t.out, NULL};
  assert_int_equal(pvt_run_cli(&out, verify), 0);
  free(out);
  tree_free(&t);
}

/* The plan directory holds only what pvpack wrote: a foreign file in it, and
 * a symlink by a plan file's name, survive `--plan --force` and the merge
 * (only regular <k>-of-<n>.pvl files are removed; the link's target too). */
static void test_plan_never_removes_foreign(void **state) {
  (void)state;
  tree t;
  tree_new(&t);
  pv_build_options o;
  part_opts(&o, NULL);
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build_plan(t.src, t.out, &o, 2, &s, err, sizeof err), PV_OK);
  char *mine = pvt_join(t.root, "mine.txt");
  assert_int_equal(pvt_write_file(mine, "user data", 9), 0);
  char *note = pvt_join(t.out, "parts/plan/notes.txt");
  assert_int_equal(pvt_write_file(note, "keep me", 7), 0);
  char *link = pvt_join(t.out, "parts/plan/5-of-9.pvl");
  assert_int_equal(symlink(mine, link), 0);
  o.force = 1; /* replaces the plan: the old directory (with the foreign files) is kept aside */
  assert_int_equal(pv_build_plan(t.src, t.out, &o, 2, &s, err, sizeof err), PV_OK);
  o.force = 0;
  struct stat sb;
  assert_int_equal(stat(mine, &sb), 0);
  char *pd = pvt_join(t.out, "parts");
  char names[1024];
  assert_true(dir_entries(pd, names, sizeof names) > 0);
  char *aside = NULL;
  for (char *w = strtok(names, " "); w; w = strtok(NULL, " "))
    if (!strncmp(w, "plan.tmp-", 9)) aside = pvt_join(pd, w);
  assert_non_null(aside); /* kept, with what pvpack did not write */
  char *an = pvt_join(aside, "notes.txt"), *al = pvt_join(aside, "5-of-9.pvl");
  assert_int_equal(stat(an, &sb), 0);
  assert_int_equal(lstat(al, &sb), 0);
  assert_true(S_ISLNK(sb.st_mode));
  /* foreign files in the new plan directory survive the merge too */
  assert_int_equal(pvt_write_file(note, "keep me", 7), 0);
  const uint32_t all[2] = {0, 1};
  build_parts(&t, t.out, all, 2, 2, 2);
  assert_int_equal(pv_merge(t.out, &s, err, sizeof err), PV_OK);
  assert_int_equal(stat(note, &sb), 0);
  assert_int_equal(stat(mine, &sb), 0);
  free(an);
  free(al);
  free(aside);
  free(pd);
  free(link);
  free(note);
  free(mine);
  tree_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slices_cover_once),
      cmocka_unit_test(test_slices_large),
      cmocka_unit_test(test_slices_invalid),
      cmocka_unit_test(test_parts_match_whole_build),
      cmocka_unit_test(test_part_rerun_force_refuse),
      cmocka_unit_test(test_part_empty_slice),
      cmocka_unit_test(test_part_from_env),
      cmocka_unit_test(test_part_cli),
      cmocka_unit_test(test_merge_equals_whole),
      cmocka_unit_test(test_merge_refusals),
      cmocka_unit_test(test_merge_resume),
      cmocka_unit_test(test_merge_kill9),
      cmocka_unit_test(test_part_kill9),
      cmocka_unit_test(test_part_duplicates_concurrent),
      cmocka_unit_test_teardown(test_part_duplicates_no_flock, flock_back),
      cmocka_unit_test(test_part_attempt_sweep),
      cmocka_unit_test(test_part_straggler_after_merge),
      cmocka_unit_test(test_part_commit_during_merge),
      cmocka_unit_test(test_plan_parts_equal_walked),
      cmocka_unit_test(test_plan_tree_changes),
      cmocka_unit_test(test_plan_hostile),
      cmocka_unit_test(test_plan_cli),
      cmocka_unit_test(test_plan_never_removes_foreign),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
