/* test_cpus.c - default thread counts follow the CPUs this process may use
 * (issue 9, item 14): the cgroup quota parsers on good and bad texts, and,
 * under an affinity mask of one CPU, the loader, the packer and verify
 * with threads = 0 each run one thread. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"
#include "pv_pack.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "testutil.h"

static int cpu_max(const char *s) { return pv__cgroup_cpu_max_parse(s, strlen(s)); }
static int cfs(const char *q, const char *p) {
  return pv__cgroup_cfs_parse(q, strlen(q), p, strlen(p));
}

static void test_cpu_max_parser(void **state) {
  (void)state;
  assert_int_equal(cpu_max("max 100000"), 0); /* no limit */
  assert_int_equal(cpu_max("max 100000\n"), 0);
  assert_int_equal(cpu_max("50000 100000"), 1); /* half a CPU: 1 thread */
  assert_int_equal(cpu_max("150000 100000"), 2); /* 1.5: rounded up */
  assert_int_equal(cpu_max("200000 100000\n"), 2);
  assert_int_equal(cpu_max("100000 100000"), 1);
  assert_int_equal(cpu_max("1 100000"), 1);
  assert_int_equal(cpu_max("6400000 100000"), 64);
  assert_int_equal(cpu_max("999999999999999999 1"), 1 << 20); /* clamped */
  static const char *const garbage[] = {
      "", "\n", "max", "max\n", "50000", "50000 ", " 50000 100000", "50000  100000",
      "50000 100000 ", "50000 100000\n\n", "50000 100000 x", "abc 100000", "5e4 100000",
      "-5 100000", "+5 100000", "50000 0", "0 100000", "max 0", "max -1", "MAX 100000",
      "50000\t100000", "9999999999999999999999 100000"};
  for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++)
    if (cpu_max(garbage[i]) != -1) fail_msg("'%s' accepted as %d", garbage[i], cpu_max(garbage[i]));
  /* Embedded NUL: the length counts, not the terminator. */
  assert_int_equal(pv__cgroup_cpu_max_parse("50000 100000\0", 13), -1);
  assert_int_equal(pv__cgroup_cpu_max_parse("50000 100000xyz", 12), 1);
  assert_int_equal(pv__cgroup_cpu_max_parse(NULL, 0), -1);
}

static void test_cfs_parser(void **state) {
  (void)state;
  assert_int_equal(cfs("-1", "100000"), 0);
  assert_int_equal(cfs("-1\n", "100000\n"), 0);
  assert_int_equal(cfs("50000", "100000"), 1);
  assert_int_equal(cfs("250000\n", "100000\n"), 3);
  assert_int_equal(cfs("400000", "100000"), 4);
  static const char *const bad[][2] = {{"-2", "100000"}, {"abc", "1"},     {"1", "0"},
                                       {"", ""},         {"50000", ""},     {"50000", "x"},
                                       {" 1", "1"},      {"1", "1\n\n"},    {"0", "100000"},
                                       {"-1", "0"},      {"1.5", "100000"}, {"-1 ", "1"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (cfs(bad[i][0], bad[i][1]) != -1) fail_msg("'%s' '%s' accepted", bad[i][0], bad[i][1]);
}

static void put(const char *root, const char *rel, const char *text) {
  char *p = pvt_join(root, rel);
  assert_int_equal(pvt_write_file(p, text, strlen(text)), 0);
  free(p);
}

static int from(const char *proc, const char *root) {
  return pv__cgroup_cpus_from(proc, strlen(proc), root);
}

/* The cgroup walk over a fake /sys/fs/cgroup: the smallest quota of the
 * process's cgroup and its ancestors wins; garbage files are ignored. */
static void test_cgroup_tree(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("cgroup");
  /* v2: /a/b (unlimited) inside /a (1.5 CPUs) inside the root (8). */
  put(root, "a/b/cpu.max", "max 100000\n");
  put(root, "a/cpu.max", "150000 100000\n");
  put(root, "cpu.max", "800000 100000\n");
  assert_int_equal(from("0::/a/b\n", root), 2);
  assert_int_equal(from("0::/\n", root), 8);
  assert_int_equal(from("0::/a/b/c/d\n", root), 2); /* missing levels: skipped */
  put(root, "a/cpu.max", "garbage\n");
  assert_int_equal(from("0::/a/b\n", root), 8);
  put(root, "cpu.max", "max 100000");
  assert_int_equal(from("0::/a/b\n", root), 0); /* no limit anywhere */
  /* v1: the cpu controller's line, in a combined mount. */
  put(root, "cpu,cpuacct/job/cpu.cfs_quota_us", "300000\n");
  put(root, "cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
  put(root, "cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  put(root, "cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  assert_int_equal(from("4:memory:/job\n3:cpu,cpuacct:/job\n0::/a/b\n", root), 3);
  assert_int_equal(from("3:cpuacct:/job\n", root), 0); /* not the cpu controller */
  assert_int_equal(from("3:cpu,cpuacct:/\n", root), 0);
  /* Lines that are not in the form are ignored. */
  assert_int_equal(from("garbage\n3:cpu,cpuacct\n3:cpu,cpuacct:job\n3:cpu:/../job\n", root), 0);
  assert_int_equal(from("", root), 0);
  pvt_rmrf(root);
  free(root);
}

static void quiet(void *ctx, pv_log_level lv, const char *line) { (void)ctx, (void)lv, (void)line; }

typedef struct fx {
  char *root, *src, *ds;
  pv_dataset *d;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->root = pvt_mkdtemp("cpus");
  f->src = pvt_join(f->root, "src");
  f->ds = pvt_join(f->root, "ds.pvpack");
  assert_int_equal(pvt_write_jpeg_tree(f->src, 12, 2, 40, 16, 30, 16, 90), 0);
  /* Small shards, so verify has more than one chunk to share out. */
  assert_int_equal(pvt_build_quiet(f->src, f->ds, PV_PACK_CODEC_ZSTD, 4096), PV_OK);
  assert_int_equal(pv_dataset_open(f->ds, NULL, &f->d, NULL, 0), PV_OK);
  assert_true(pv_dataset_shard_count(f->d) >= 2);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  pv_dataset_close(f->d);
  pvt_rmrf(f->root);
  free(f->root);
  free(f->src);
  free(f->ds);
  free(f);
  return 0;
}

/* Default (threads = 0) counts of the loader, the packer and verify. */
static void default_counts(fx *f, int *loader, int *packer, int *verifier) {
  pv_loader_options lo;
  pv_loader_options_init(&lo);
  lo.batch_size = 4;
  lo.height = lo.width = 16;
  lo.threads = 0;
  pv_loader *l = NULL;
  char err[256];
  assert_int_equal(pv_loader_create(f->d, &lo, &l, err, sizeof err), PV_OK);
  *loader = pv_loader_thread_count(l);
  pv_loader_destroy(l);

  pv_build_options bo;
  pv_build_options_init(&bo);
  bo.progress = 0;
  bo.log = quiet;
  bo.force = 1;
  bo.threads = 0;
  pv_build_summary bs;
  char *out = pvt_join(f->root, "again.pvpack");
  assert_int_equal(pv_build(f->src, out, &bo, &bs, NULL, 0), PV_OK);
  *packer = bs.threads;
  pvt_rmrf(out);
  free(out);

  pv_verify_options vo;
  pv_verify_options_init(&vo);
  vo.threads = 0;
  pv_verify_summary vs;
  assert_int_equal(pv_verify(f->ds, &vo, &vs), PV_OK);
  *verifier = vs.threads;
}

static void test_defaults_follow_affinity(void **state) {
  fx *f = *state;
  cpu_set_t all, one;
  CPU_ZERO(&all);
  assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
  int first = -1;
  for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
    if (CPU_ISSET(c, &all)) first = c;
  assert_true(first >= 0);

  /* The whole mask: the counts are what pv__available_cpus says, which is
   * at most the mask's size. */
  int avail = pv__available_cpus();
  assert_true(avail >= 1);
  assert_true(avail <= CPU_COUNT(&all));
  int l, p, v;
  default_counts(f, &l, &p, &v);
  assert_int_equal(l, avail);
  assert_int_equal(p, avail);
  /* verify runs at most one thread per chunk; here a chunk per shard. */
  const int shards = (int)pv_dataset_shard_count(f->d);
  assert_int_equal(v, avail < shards ? avail : shards);

  /* One CPU (taskset -c <first>): every default is 1 thread. Threads
   * inherit the mask of the thread that creates them, so pinning this one
   * is enough; the mask is restored after. */
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  int a1 = pv__available_cpus();
  default_counts(f, &l, &p, &v);
  assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
  assert_int_equal(a1, 1);
  assert_int_equal(l, 1);
  assert_int_equal(p, 1);
  assert_int_equal(v, 1);
  assert_int_equal(pv__available_cpus(), avail);

  /* Explicit counts are kept as given. */
  pv_loader_options lo;
  pv_loader_options_init(&lo);
  lo.batch_size = 4;
  lo.height = lo.width = 16;
  lo.threads = 3;
  pv_loader *ld = NULL;
  char err[256];
  assert_int_equal(pv_loader_create(f->d, &lo, &ld, err, sizeof err), PV_OK);
  assert_int_equal(pv_loader_thread_count(ld), 3);
  pv_loader_destroy(ld);
  assert_int_equal(pv_loader_thread_count(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cpu_max_parser),
      cmocka_unit_test(test_cfs_parser),
      cmocka_unit_test(test_cgroup_tree),
      cmocka_unit_test_setup_teardown(test_defaults_follow_affinity, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
