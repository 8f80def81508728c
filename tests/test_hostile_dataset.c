/* test_hostile_dataset.c - issue 9 items 8-11: datasets that are hostile,
 * odd or changing under the reader, through every read path.
 *
 * Each case is built in-test with tests/hostile.h (every checksum
 * recomputed: XXH3 is not a MAC) or by rewriting files of a built dataset,
 * and every path runs in a child with an address-space cap and a time
 * limit (pvh_run_limited), so a signal, a hang or a runaway allocation
 * shows as a failed assertion rather than killing or stalling the suite:
 *
 *   item 8  shards that change while mapped: truncated (ftruncate), `cp`
 *           over them (open O_TRUNC + write: same inode), a table entry
 *           rewritten in place with a hostile offset or label (checksums
 *           recomputed or not): record access, pv_decoder_decode (with its
 *           reset), the sampler, the loader (FAIL and REPLACE), and a
 *           dataset replaced by `build --force` under a running loader.
 *           The fault handler chains: faults that are not ours still kill.
 *   item 9  a shard label of 4294967295 (index label in range), a label in
 *           range that disagrees with the index, wrong per-class counts:
 *           open, info, get, verify, verify --decode.
 *   item 10 a FIFO (or a directory) named index.pvi / shard-00000.pvs, and
 *           symbolic links (followed when they lead to regular files).
 *   item 11 more than PV_MAX_SHARDS shards (refused at open cheaply, by the
 *           packer, and by verify as a limit, exit 2), exactly
 *           PV_MAX_SHARDS (opens), and mmap failing for lack of address
 *           space (PV_ERR_LIMIT; verify maps a window at a time so it
 *           still runs where open cannot).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "augment.h"
#include "guard.h"
#include "hostile.h"
#include "pv_pack.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "testutil.h"

#define CAP (768ull << 20) /* address space a child may add */
#define SECS 60.0
#define MSGCAP 4096

static char *g_msg; /* MAP_SHARED: why a child's check failed */
static char *g_root;

#define CHILD_CHECK(cond, code, ...)             \
  do {                                           \
    if (!(cond)) {                               \
      snprintf(g_msg, MSGCAP, __VA_ARGS__);      \
      return (code);                             \
    }                                            \
  } while (0)

static const char *rc_text(int rc, char *buf, size_t cap) {
  if (rc == PVH_TIMEOUT)
    snprintf(buf, cap, "ran past its time limit");
  else if (rc <= PVH_SIGNALED)
    snprintf(buf, cap, "killed by signal %d", PVH_SIGNALED - rc);
  else
    snprintf(buf, cap, "exit %d", rc);
  return buf;
}

/* Runs fn in a limited child; it must return 0. */
static void run_child(const char *what, int (*fn)(void *), void *arg, uint64_t cap, double secs) {
  g_msg[0] = 0;
  int rc = pvh_run_limited(fn, arg, cap, secs);
  char b[64];
  if (rc != 0) fail_msg("%s: %s: %s", what, rc_text(rc, b, sizeof b), g_msg);
}

/* ---- the CLI in a limited child -------------------------------------------- */

typedef struct cli_job {
  const char *const *argv;
  const char *out;
} cli_job;

static int cli_child(void *arg) {
  cli_job *j = arg;
  const char *bin = getenv("PVPACK_BIN");
  if (!bin) bin = "pvpack";
  int fd = open(j->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 126;
  dup2(fd, 1);
  dup2(fd, 2);
  close(fd);
  int n = 0;
  while (j->argv[n]) n++;
  char **av = calloc((size_t)n + 2, sizeof *av);
  if (!av) return 126;
  av[0] = (char *)bin;
  for (int i = 0; i < n; i++) av[i + 1] = (char *)j->argv[i];
  execv(bin, av);
  return 127;
}

/* Exit code of `pvpack argv...` (or a PVH_* code), output in *out. */
static int cli(char **out, const char *const *argv) {
  char *path = pvt_join(g_root, "cli-output.txt");
  cli_job j = {argv, path};
  int rc = pvh_run_limited(cli_child, &j, CAP, SECS);
  size_t n = 0;
  uint8_t *b = pvt_read_file(path, &n);
  *out = calloc(1, n + 1);
  if (b && *out) memcpy(*out, b, n);
  free(b);
  unlink(path);
  free(path);
  return rc;
}

/* pvpack argv must exit with `rc` and print `needle`. */
static void expect_cli(const char *const *argv, int rc, const char *needle) {
  char *out = NULL;
  int got = cli(&out, argv);
  char b[64];
  if (got != rc || (needle && !strstr(out, needle)))
    fail_msg("pvpack %s %s: %s (expected exit %d and \"%s\"), output:\n%s", argv[0], argv[1],
             rc_text(got, b, sizeof b), rc, needle ? needle : "", out);
  free(out);
}

/* ---- hand-built datasets ------------------------------------------------------ */

typedef struct dsbuf {
  pvh_record *rec;
  uint8_t **pay;
  uint32_t n;
} dsbuf;

/* n records of w x h, label i % classes (index label too); JPEG (quality
 * 90) or raw. */
static void dsbuf_make(dsbuf *d, uint32_t n, uint32_t classes, uint32_t w, uint32_t h, int jpeg) {
  d->n = n;
  d->rec = calloc(n, sizeof *d->rec);
  d->pay = calloc(n, sizeof *d->pay);
  assert_non_null(d->rec);
  assert_non_null(d->pay);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t *rgb = pvt_pattern_rgb(w, h, i);
    assert_non_null(rgb);
    size_t len = (size_t)w * h * 3;
    if (jpeg) {
      d->pay[i] = pvt_encode_jpeg(rgb, w, h, 90, &len);
      assert_non_null(d->pay[i]);
      free(rgb);
    } else {
      d->pay[i] = rgb;
    }
    d->rec[i] = (pvh_record){.codec = jpeg ? PV_CODEC_JPEG : PV_CODEC_RAW,
                             .width = w,
                             .height = h,
                             .label = i % classes,
                             .index_label = i % classes,
                             .payload = d->pay[i],
                             .length = (uint32_t)len};
  }
}

static void dsbuf_free(dsbuf *d) {
  for (uint32_t i = 0; i < d->n; i++) free(d->pay[i]);
  free(d->pay);
  free(d->rec);
}

static char *write_ds(const char *name, const dsbuf *d, uint32_t classes, uint32_t per,
                      const uint64_t *counts) {
  char *dir = pvt_join(g_root, name);
  pvt_rmrf(dir);
  pvh_spec spec = {.class_count = classes, .class_counts = counts, .records = d->rec,
                   .record_count = d->n, .records_per_shard = per};
  assert_int_equal(pvh_write_dataset(dir, &spec), 0);
  return dir;
}

/* A scratch directory on tmpfs when there is one: the tests below create
 * 16385 files, which costs seconds of metadata work and fsyncs on a disk. */
static char *fast_tmp(const char *tag) {
  struct stat st;
  if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
    char *p = malloc(64);
    assert_non_null(p);
    snprintf(p, 64, "/dev/shm/pvt-%s-XXXXXX", tag);
    if (mkdtemp(p)) return p;
    free(p);
  }
  char *p = pvt_join(g_root, tag);
  assert_int_equal(mkdir(p, 0755), 0);
  return p;
}

static char *shard_path(const char *dir, uint32_t k) {
  char name[32];
  snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
  return pvt_join(dir, name);
}

/* File offset of entry j's table bytes in a shard file. */
static uint64_t entry_offset(const char *path, uint32_t j) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  uint8_t f[8];
  assert_int_equal(pread(fd, f, 8, st.st_size - PV_SHARD_FOOTER_SIZE), 8);
  close(fd);
  return pv_load64(f) + (uint64_t)j * PV_RECORD_ENTRY_SIZE;
}

/* Rewrites `bytes` bytes of shard entry j at field offset `field`, in place
 * (pwrite: same inode, no truncation, as another process rewriting the
 * file would). With reseal the table and footer checksums are recomputed
 * too (the index's copy of the footer checksum is left alone). */
static void patch_entry(const char *path, uint32_t j, uint32_t field, uint64_t value, int bytes,
                        int reseal) {
  uint64_t at = entry_offset(path, j) + field;
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t v[8];
  pv_store64(v, value);
  assert_int_equal(pwrite(fd, v, (size_t)bytes, (off_t)at), bytes);
  if (reseal) {
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n);
    assert_non_null(b);
    assert_int_equal(pread(fd, b, n, 0), (ssize_t)n);
    uint8_t *ft = b + n - PV_SHARD_FOOTER_SIZE;
    uint64_t toff = pv_load64(ft);
    pv_store64(ft + 32, pv_checksum(b + toff, (size_t)(n - PV_SHARD_FOOTER_SIZE - toff)));
    pv_store64(ft + 48, pv_checksum(ft, 48));
    assert_int_equal(pwrite(fd, ft, PV_SHARD_FOOTER_SIZE, (off_t)(n - PV_SHARD_FOOTER_SIZE)),
                     PV_SHARD_FOOTER_SIZE);
    free(b);
  }
  close(fd);
}

/* ---- in-child read paths ------------------------------------------------------ */

typedef struct open_case {
  const char *dir;
  pv_status want;
  const char *needle; /* in err */
} open_case;

static int open_child(void *arg) {
  open_case *c = arg;
  char err[1024] = "";
  pv_dataset *ds = NULL;
  pv_status st = pv_dataset_open(c->dir, NULL, &ds, err, sizeof err);
  CHILD_CHECK(st == c->want, 1, "pv_dataset_open: %s (%s), expected %s", pv_status_name(st), err,
              pv_status_name(c->want));
  CHILD_CHECK(!c->needle || strstr(err, c->needle), 2, "pv_dataset_open: \"%s\" lacks \"%s\"", err,
              c->needle);
  CHILD_CHECK((st == PV_OK) == (ds != NULL), 3, "handle and status disagree");
  pv_dataset_close(ds);
  return 0;
}

static void expect_open(const char *dir, pv_status want, const char *needle) {
  open_case c = {dir, want, needle};
  run_child("pv_dataset_open", open_child, &c, CAP, SECS);
}

typedef struct verify_case {
  const char *dir;
  int decode, threads;
  pv_status want;
  const char *needle; /* in a problem or in summary.error */
  int want_problems;  /* -1: any > 0 */
} verify_case;

static void verify_problem(void *ctx, const char *file, int64_t record, const char *source,
                           pv_status st, const char *what) {
  (void)ctx;
  (void)source;
  size_t n = strlen(g_msg);
  if (n + 1 < MSGCAP)
    snprintf(g_msg + n, MSGCAP - n, "[%s rec %lld %s: %s]", file, (long long)record,
             pv_status_name(st), what);
}

static int verify_child(void *arg) {
  verify_case *c = arg;
  pv_verify_options o;
  pv_verify_options_init(&o);
  o.decode = c->decode;
  o.threads = c->threads;
  o.problem = verify_problem;
  pv_verify_summary s;
  g_msg[0] = 0;
  pv_status st = pv_verify(c->dir, &o, &s);
  size_t n = strlen(g_msg);
  snprintf(g_msg + n, MSGCAP - n, " error=\"%s\"", s.error);
  if (st != c->want) return 1;
  if (c->needle && !strstr(g_msg, c->needle)) return 2;
  if (c->want_problems >= 0 ? s.problems != (uint64_t)c->want_problems : s.problems == 0) return 3;
  return 0;
}

static void expect_verify(const char *dir, int decode, pv_status want, const char *needle,
                          int want_problems, uint64_t cap) {
  verify_case c = {dir, decode, 2, want, needle, want_problems};
  g_msg[0] = 0;
  int rc = pvh_run_limited(verify_child, &c, cap, SECS);
  char b[64];
  if (rc != 0)
    fail_msg("pv_verify%s %s: %s (want %s, \"%s\"): %s", decode ? " --decode" : "", dir,
             rc_text(rc, b, sizeof b), pv_status_name(want), needle ? needle : "", g_msg);
}

/* Every read path of a dataset that open must refuse. */
static void expect_refused_everywhere(const char *dir, pv_status open_st, const char *needle,
                                      int cli_rc, int verify_rc, const char *verify_needle) {
  expect_open(dir, open_st, needle);
  const char *info[] = {"info", dir, NULL};
  expect_cli(info, cli_rc, needle);
  const char *get[] = {"get", dir, "0", "-o", "/dev/null", NULL};
  expect_cli(get, cli_rc, needle);
  const char *v[] = {"verify", dir, NULL};
  expect_cli(v, verify_rc, verify_needle);
  const char *vd[] = {"verify", dir, "--decode", NULL};
  expect_cli(vd, verify_rc, verify_needle);
}

/* ---- item 9: labels and class counts ------------------------------------------- */

static void test_label_out_of_range(void **state) {
  (void)state;
  dsbuf d;
  dsbuf_make(&d, 6, 3, 8, 8, 0);
  d.rec[4].label = 4294967295u; /* the index keeps 1: in range */
  char *dir = write_ds("label-oor", &d, 3, 4, NULL);
  expect_refused_everywhere(dir, PV_ERR_CORRUPT, "label 4294967295 out of range", 1, 1,
                            "label 4294967295");
  /* The message names the shard and the record. */
  expect_open(dir, PV_ERR_CORRUPT, "shard-00001.pvs: record 4 (entry 0)");
  expect_verify(dir, 0, PV_ERR_CORRUPT, "shard-00001.pvs rec 4 PV_ERR_CORRUPT: label 4294967295",
                -1, CAP);
  expect_verify(dir, 1, PV_ERR_CORRUPT, "label 4294967295", -1, CAP);
  pvt_rmrf(dir);
  free(dir);
  dsbuf_free(&d);
}

static void test_label_disagrees_with_index(void **state) {
  (void)state;
  dsbuf d;
  dsbuf_make(&d, 6, 3, 8, 8, 0);
  d.rec[2].label = 0; /* index says 2; counts stay those of the index labels */
  char *dir = write_ds("label-mismatch", &d, 3, 0, NULL);
  expect_refused_everywhere(dir, PV_ERR_CORRUPT, "label 0 in the shard, 2 in the index", 1, 1,
                            "label 0 in the shard, 2 in the index");
  pvt_rmrf(dir);
  free(dir);
  dsbuf_free(&d);
}

static void test_wrong_class_counts(void **state) {
  (void)state;
  dsbuf d;
  dsbuf_make(&d, 6, 3, 8, 8, 0); /* 2 records per class */
  const uint64_t counts[3] = {3, 1, 2}; /* sums to 6: passes the sum check */
  char *dir = write_ds("counts", &d, 3, 0, counts);
  expect_refused_everywhere(dir, PV_ERR_CORRUPT,
                            "class 0: the index counts 3 records, its records section has 2", 1,
                            1, "index counts 3 records");
  /* verify names both sides: the index's records and the shards' labels. */
  expect_verify(dir, 0, PV_ERR_CORRUPT, "shards hold 2", 3, CAP);
  pvt_rmrf(dir);
  free(dir);
  dsbuf_free(&d);
}

/* ---- item 10: FIFOs and other non-regular files ---------------------------------- */

static void test_fifo_and_special_files(void **state) {
  (void)state;
  dsbuf d;
  dsbuf_make(&d, 4, 2, 8, 8, 0);
  /* A FIFO named index.pvi: nobody ever writes it, so a blocking open hangs. */
  char *dir = write_ds("fifo-index", &d, 2, 2, NULL);
  char *ix = pvt_join(dir, PV_INDEX_FILENAME);
  unlink(ix);
  assert_int_equal(mkfifo(ix, 0644), 0);
  expect_refused_everywhere(dir, PV_ERR_IO, "is a FIFO, not a regular file", 2, 1, "FIFO");
  pvt_rmrf(dir);
  free(dir);
  free(ix);
  /* A FIFO named shard-00001.pvs. */
  dir = write_ds("fifo-shard", &d, 2, 2, NULL);
  char *sh = shard_path(dir, 1);
  unlink(sh);
  assert_int_equal(mkfifo(sh, 0644), 0);
  expect_refused_everywhere(dir, PV_ERR_IO, "shard-00001.pvs: is a FIFO", 2, 1, "FIFO");
  /* A directory by that name. */
  unlink(sh);
  assert_int_equal(mkdir(sh, 0755), 0);
  expect_open(dir, PV_ERR_IO, "shard-00001.pvs: is a directory");
  rmdir(sh);
  /* A symbolic link to a regular file is followed (datasets assembled from
   * links are legitimate); a link to a FIFO is refused like the FIFO. */
  char *real = pvt_join(g_root, "real-shard.pvs");
  char *dir2 = write_ds("fifo-shard-src", &d, 2, 2, NULL);
  char *sh2 = shard_path(dir2, 1);
  assert_int_equal(rename(sh2, real), 0);
  assert_int_equal(symlink(real, sh), 0);
  expect_open(dir, PV_OK, NULL);
  const char *v[] = {"verify", dir, NULL};
  expect_cli(v, 0, "OK");
  unlink(sh);
  char *fifo = pvt_join(g_root, "a-fifo");
  assert_int_equal(mkfifo(fifo, 0644), 0);
  assert_int_equal(symlink(fifo, sh), 0);
  expect_open(dir, PV_ERR_IO, "is a FIFO");
  unlink(fifo);
  unlink(real);
  free(fifo);
  free(real);
  pvt_rmrf(dir2);
  free(dir2);
  free(sh2);
  pvt_rmrf(dir);
  free(dir);
  free(sh);
  dsbuf_free(&d);
}

/* ---- item 11: shard counts and mapping limits ----------------------------------- */

static void test_too_many_shards_refused_cheaply(void **state) {
  (void)state;
  dsbuf d;
  dsbuf_make(&d, 2, 1, 4, 4, 0);
  char *dir = write_ds("many-shards", &d, 1, 0, NULL);
  /* Claim 16385 shards in the header, resealed (header checksum and the
   * trailer's copy): rejected from the header alone, before any shard. */
  char *ix = pvt_join(dir, PV_INDEX_FILENAME);
  size_t n;
  uint8_t *b = pvt_read_file(ix, &n);
  assert_non_null(b);
  pv_store32(b + 48, PV_MAX_SHARDS + 1);
  pv_store64(b + 248, pv_checksum(b, 248));
  pv_store64(b + n - PV_INDEX_TRAILER_SIZE, pv_load64(b + 248));
  assert_int_equal(pvt_write_file(ix, b, n), 0);
  free(b);
  expect_open(dir, PV_ERR_LIMIT, "16385 shards");
  /* verify: a limit, not damage (exit 2, no problem counted). */
  expect_verify(dir, 0, PV_ERR_LIMIT, "at most 16384 shards", 0, CAP);
  const char *v[] = {"verify", dir, NULL};
  expect_cli(v, 2, "at most 16384 shards");
  const char *info[] = {"info", dir, NULL};
  expect_cli(info, 1, "16385 shards");
  pvt_rmrf(dir);
  free(dir);
  free(ix);
  dsbuf_free(&d);
}

static void test_max_shards_open(void **state) {
  (void)state;
  /* Exactly PV_MAX_SHARDS one-record shards: the most the packer writes;
   * open maps them all. */
  dsbuf d;
  dsbuf_make(&d, 1, 1, 1, 1, 0);
  pvh_record *many = calloc(PV_MAX_SHARDS, sizeof *many);
  assert_non_null(many);
  for (uint32_t i = 0; i < PV_MAX_SHARDS; i++) many[i] = d.rec[0];
  char *root = fast_tmp("max-shards");
  char *dir = pvt_join(root, "ds");
  pvh_spec spec = {.class_count = 1, .records = many, .record_count = PV_MAX_SHARDS,
                   .records_per_shard = 1};
  assert_int_equal(pvh_write_dataset(dir, &spec), 0);
  expect_open(dir, PV_OK, NULL);
  expect_verify(dir, 0, PV_OK, NULL, 0, CAP);
  pvt_rmrf(root);
  free(root);
  free(dir);
  free(many);
  dsbuf_free(&d);
}

typedef struct map_limit_case {
  const char *dir;
} map_limit_case;

static int map_limit_child(void *arg) {
  map_limit_case *c = arg;
  char err[1024] = "";
  pv_dataset *ds = NULL;
  pv_status st = pv_dataset_open(c->dir, NULL, &ds, err, sizeof err);
  CHILD_CHECK(st == PV_ERR_LIMIT, 1, "open under the cap: %s (%s)", pv_status_name(st), err);
  CHILD_CHECK(strstr(err, "cannot map") && strstr(err, ".pvs") && strstr(err, "vm.max_map_count"),
              2, "message: %s", err);
  /* verify maps at most a window of shards at a time: it runs where open
   * cannot (one thread: no thread stacks to map). */
  pv_verify_options o;
  pv_verify_options_init(&o);
  o.threads = 1;
  pv_verify_summary s;
  g_msg[0] = 0;
  o.problem = verify_problem;
  st = pv_verify(c->dir, &o, &s);
  char probs[1024];
  snprintf(probs, sizeof probs, "%s", g_msg);
  CHILD_CHECK(st == PV_OK && s.problems == 0 && s.shards_checked == 130, 3,
              "verify under the cap: %s, %llu problems, %u shards: %s %s", pv_status_name(st),
              (unsigned long long)s.problems, s.shards_checked, s.error, probs);
  return 0;
}

static int map_limit_verify_child(void *arg) {
  map_limit_case *c = arg;
  pv_verify_options o;
  pv_verify_options_init(&o);
  o.threads = 1;
  pv_verify_summary s;
  g_msg[0] = 0;
  o.problem = verify_problem;
  pv_status st = pv_verify(c->dir, &o, &s);
  char probs[1024];
  snprintf(probs, sizeof probs, "%s", g_msg);
  CHILD_CHECK(st == PV_ERR_LIMIT && s.problems == 0 && strstr(s.error, "cannot map") &&
                  strstr(s.error, "shard-"),
              1, "verify under a tiny cap: %s, %llu problems, error \"%s\" %s",
              pv_status_name(st), (unsigned long long)s.problems, s.error, probs);
  return 0;
}

static void test_mmap_failure_is_a_limit(void **state) {
  (void)state;
  /* 130 shards of one 64 KiB raw record: 8.3 MB of mappings. */
  dsbuf d;
  dsbuf_make(&d, 130, 2, 148, 148, 0);
  char *dir = write_ds("map-limit", &d, 2, 1, NULL);
  map_limit_case c = {dir};
  /* 6 MiB more address space: not enough for every shard at once, enough
   * for verify's window of 64 (4.2 MB). */
  run_child("mapping limit", map_limit_child, &c, 6u << 20, SECS);
  /* Below one window, verify stops with a limit too (not "DAMAGED"). */
  run_child("mapping limit (verify)", map_limit_verify_child, &c, 1u << 20, SECS);
  pvt_rmrf(dir);
  free(dir);
  dsbuf_free(&d);
}

static void quiet_log(void *ctx, pv_log_level level, const char *line) {
  (void)ctx;
  (void)level;
  (void)line;
}

static void test_packer_refuses_too_many_shards(void **state) {
  (void)state;
  /* 16385 raw records of 26x26 (2028 bytes): with 4096-byte shards each
   * record needs a shard of its own. Sources are PPM (no encoding cost). */
  char *root = fast_tmp("many");
  char *src = pvt_join(root, "src");
  uint8_t ppm[32 + 26 * 26 * 3];
  const int hn = snprintf((char *)ppm, 32, "P6\n26 26\n255\n");
  for (uint32_t i = 0; i < PV_MAX_SHARDS + 1; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "c%u/%05u.ppm", i % 2, i);
    for (int k = 0; k < 26 * 26 * 3; k++) ppm[hn + k] = (uint8_t)(k * 7 + i);
    char *p = pvt_join(src, rel);
    assert_int_equal(pvt_write_file(p, ppm, (size_t)hn + 26 * 26 * 3), 0);
    free(p);
  }
  char *out = pvt_join(root, "out");
  pv_build_options o;
  pv_build_options_init(&o);
  o.codec = PV_PACK_CODEC_RAW;
  o.shard_bytes = 4096;
  o.resize = PV_RESIZE_NONE;
  o.threads = 2;
  o.progress = 0;
  o.log = quiet_log;
  char err[512] = "";
  pv_status st = pv_build(src, out, &o, NULL, err, sizeof err);
  assert_int_equal(st, PV_ERR_LIMIT);
  assert_non_null(strstr(err, "more than 16384 shards"));
  assert_non_null(strstr(err, "--shard-size"));
  struct stat sb;
  assert_int_not_equal(stat(out, &sb), 0); /* nothing left behind */
  /* One record fewer fits: the packer writes exactly PV_MAX_SHARDS. */
  char *last = pvt_join(src, "c0/16384.ppm");
  assert_int_equal(unlink(last), 0);
  pv_build_summary sum;
  st = pv_build(src, out, &o, &sum, err, sizeof err);
  assert_int_equal(st, PV_OK);
  assert_int_equal(sum.shards, PV_MAX_SHARDS);
  expect_open(out, PV_OK, NULL);
  pvt_rmrf(root);
  free(root);
  free(last);
  free(src);
  free(out);
}

/* ---- item 8: files that change while mapped -------------------------------------- */

/* 8 shards of 8 JPEG records (256x192, several pages each), 4 classes:
 * shard 2 holds records 16..23. */
static char *live_dataset(const char *name, dsbuf *d) {
  dsbuf_make(d, 64, 4, 256, 192, 1);
  return write_ds(name, d, 4, 8, NULL);
}

typedef struct live_case {
  const char *dir;
  int mode; /* what happens to shard 2 while the loader holds batch 0 */
  pv_on_error on_error;
  pv_status want;
  const char *needle;
} live_case;

enum {
  LIVE_TRUNCATE,      /* ftruncate to 4096 */
  LIVE_CP_SMALLER,    /* open O_TRUNC + write 4096 bytes (cp of a smaller file) */
  LIVE_CP_SAME_SIZE,  /* open O_TRUNC + write as many zero bytes (cp of another file) */
  LIVE_HOSTILE_OFFSET,      /* entry 3's offset := 2^40, in place */
  LIVE_HOSTILE_OFFSET_SEAL, /* the same with the table/footer checksums recomputed */
  LIVE_LABEL                /* entry 3's label := 4294967295, in place, resealed */
};

static void mutate_shard2(const char *dir, int mode) {
  char *p = shard_path(dir, 2);
  struct stat st;
  stat(p, &st);
  if (mode == LIVE_TRUNCATE) {
    if (truncate(p, 4096) != 0) abort();
  } else if (mode == LIVE_CP_SMALLER || mode == LIVE_CP_SAME_SIZE) {
    size_t n = mode == LIVE_CP_SMALLER ? 4096 : (size_t)st.st_size;
    uint8_t *z = calloc(1, n);
    int fd = open(p, O_WRONLY | O_TRUNC);
    if (!z || fd < 0 || write(fd, z, n) != (ssize_t)n) abort();
    close(fd);
    free(z);
  } else if (mode == LIVE_HOSTILE_OFFSET || mode == LIVE_HOSTILE_OFFSET_SEAL) {
    patch_entry(p, 3, 0, 1ull << 40, 8, mode == LIVE_HOSTILE_OFFSET_SEAL);
  } else if (mode == LIVE_LABEL) {
    patch_entry(p, 3, 12, 4294967295u, 4, 1);
  }
  free(p);
}

static int live_loader_child(void *arg) {
  live_case *c = arg;
  pv_dataset *ds = NULL;
  char err[1024] = "";
  pv_status st = pv_dataset_open(c->dir, NULL, &ds, err, sizeof err);
  CHILD_CHECK(st == PV_OK, 1, "open: %s", err);
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.batch_size = 8;
  o.width = o.height = 64;
  o.threads = 2;
  o.prefetch = 2;
  o.order = PV_ORDER_SEQUENTIAL;
  o.on_error = c->on_error;
  o.rank = 0;
  o.world_size = 1;
  pv_loader *l = NULL;
  st = pv_loader_create(ds, &o, &l, err, sizeof err);
  CHILD_CHECK(st == PV_OK, 2, "loader: %s", err);
  pv_batch *b0 = NULL;
  st = pv_loader_next(l, &b0);
  CHILD_CHECK(st == PV_OK && b0, 3, "batch 0: %s", pv_loader_last_error(l));
  /* With batch 0 held and 2 slots, the workers can only have reached batch
   * 1 (records 8..15, shard 1): shard 2 (records 16..23) is untouched, and
   * REPLACE's 16 tries from any of its records reach shard 3. */
  mutate_shard2(c->dir, c->mode);
  pv_loader_release(l, b0);
  uint64_t seen = 8, replaced = 0;
  pv_status first = PV_OK;
  for (;;) {
    pv_batch *b = NULL;
    st = pv_loader_next(l, &b);
    if (st != PV_OK) {
      first = st;
      break;
    }
    if (!b) break;
    for (uint32_t i = 0; i < b->count; i++)
      CHILD_CHECK(b->labels[i] >= 0 && b->labels[i] < 4, 4, "label %lld reached a batch",
                  (long long)b->labels[i]);
    seen += b->count;
    replaced += b->replaced;
    pv_loader_release(l, b);
  }
  if (c->want == PV_OK) {
    CHILD_CHECK(first == PV_OK && seen == 64 && replaced > 0, 5,
                "REPLACE: %s after %llu samples, %llu replaced: %s", pv_status_name(first),
                (unsigned long long)seen, (unsigned long long)replaced, pv_loader_last_error(l));
  } else {
    CHILD_CHECK(first == c->want, 6, "loader returned %s, expected %s: %s", pv_status_name(first),
                pv_status_name(c->want), pv_loader_last_error(l));
    CHILD_CHECK(strstr(pv_loader_last_error(l), "shard-00002.pvs") &&
                    strstr(pv_loader_last_error(l), c->needle),
                7, "message: %s", pv_loader_last_error(l));
  }
  pv_loader_destroy(l);
  pv_dataset_close(ds);
  return 0;
}

static void run_live(const char *name, int mode, pv_on_error on_error, pv_status want,
                     const char *needle) {
  dsbuf d;
  char *dir = live_dataset(name, &d);
  live_case c = {dir, mode, on_error, want, needle};
  char what[128];
  snprintf(what, sizeof what, "loader, %s", name);
  run_child(what, live_loader_child, &c, CAP, SECS);
  pvt_rmrf(dir);
  free(dir);
  dsbuf_free(&d);
}

static void test_loader_shard_truncated(void **state) {
  (void)state;
  char needle[128];
  /* The size the shard had: that of the file written for it. */
  dsbuf d;
  char *dir = live_dataset("live-size", &d);
  char *p = shard_path(dir, 2);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  snprintf(needle, sizeof needle, "changed size while mapped (was %lld, now 4096)",
           (long long)st.st_size);
  free(p);
  pvt_rmrf(dir);
  free(dir);
  dsbuf_free(&d);
  run_live("live-truncate", LIVE_TRUNCATE, PV_ON_ERROR_FAIL, PV_ERR_CHANGED, needle);
  run_live("live-truncate-replace", LIVE_TRUNCATE, PV_ON_ERROR_REPLACE, PV_OK, NULL);
  run_live("live-cp-smaller", LIVE_CP_SMALLER, PV_ON_ERROR_FAIL, PV_ERR_CHANGED, needle);
}

static void test_loader_shard_rewritten(void **state) {
  (void)state;
  /* cp of a same-size file: the zeroed entries fail their checks at use. */
  run_live("live-cp-same", LIVE_CP_SAME_SIZE, PV_ON_ERROR_FAIL, PV_ERR_CORRUPT,
           "channels is 0");
  run_live("live-offset", LIVE_HOSTILE_OFFSET, PV_ON_ERROR_FAIL, PV_ERR_CORRUPT,
           "outside the payload area");
  run_live("live-offset-sealed", LIVE_HOSTILE_OFFSET_SEAL, PV_ON_ERROR_FAIL, PV_ERR_CORRUPT,
           "outside the payload area");
  run_live("live-offset-replace", LIVE_HOSTILE_OFFSET, PV_ON_ERROR_REPLACE, PV_OK, NULL);
  run_live("live-label", LIVE_LABEL, PV_ON_ERROR_FAIL, PV_ERR_CORRUPT,
           "label 4294967295 out of range");
  run_live("live-label-replace", LIVE_LABEL, PV_ON_ERROR_REPLACE, PV_OK, NULL);
}

/* Record access and pv_decoder_decode (the path of Python's Dataset[i] and
 * of `pvpack get`) on a shard that shrinks after the record was looked up:
 * the fault is an error, and the decoder (TurboJPEG handle left mid-decode)
 * is reset and decodes the next record exactly. */
typedef struct decode_case {
  const char *dir;
} decode_case;

typedef struct crop_job {
  pv_sampler *s;
  const pv_record *r;
  uint8_t *dst;
} crop_job;

static pv_status crop_run(void *arg) {
  crop_job *j = arg;
  pv_crop box = {0, 0, j->r->width, j->r->height};
  return pv__sample_crop(j->s, j->r, box, 64, 48, 0, PV_FILTER_BILINEAR, 0, j->dst, 64 * 3);
}

static int decode_child(void *arg) {
  decode_case *c = arg;
  pv_dataset *ds = NULL;
  char err[1024] = "";
  CHILD_CHECK(pv_dataset_open(c->dir, NULL, &ds, err, sizeof err) == PV_OK, 1, "open: %s", err);
  pv_decoder *dec = NULL, *fresh = NULL;
  CHILD_CHECK(pv_decoder_create(&dec) == PV_OK && pv_decoder_create(&fresh) == PV_OK, 2, "dec");
  pv_sampler *sm = NULL, *sm_fresh = NULL;
  CHILD_CHECK(pv__sampler_create(&sm) == PV_OK && pv__sampler_create(&sm_fresh) == PV_OK, 3, "sm");
  size_t px = 256 * 192 * 3;
  uint8_t *a = malloc(px), *b = malloc(px);
  CHILD_CHECK(a && b, 4, "oom");
  pv_record r, good;
  CHILD_CHECK(pv_dataset_record(ds, 16, &r) == PV_OK && r.shard == 2, 5, "record 16");
  const pv_record r16 = r;
  CHILD_CHECK(pv_dataset_record(ds, 50, &good) == PV_OK, 6, "record 50");
  /* Cut shard 2 one page into record 16's payload: the decoder reads its
   * first page, then faults. */
  uint64_t off = (uint64_t)(r.data - pv_dataset_shard_view(ds, 2)->file);
  uint64_t cut = (off + 4095) / 4096 * 4096 + 4096;
  CHILD_CHECK(cut < off + r.length, 7, "record 16 spans too few pages (%u bytes)", r.length);
  char *p = shard_path(c->dir, 2);
  CHILD_CHECK(truncate(p, (off_t)cut) == 0, 8, "truncate");
  free(p);
  pv_status st = pv_decoder_decode(dec, &r, a, 256 * 3, px);
  CHILD_CHECK(st == PV_ERR_CHANGED, 9, "decode of a vanished payload: %s (%s)", pv_status_name(st),
              pv_decoder_last_error(dec));
  CHILD_CHECK(strstr(pv_decoder_last_error(dec), "record 16") &&
                  strstr(pv_decoder_last_error(dec), "shard-00002.pvs"),
              10, "decoder message: %s", pv_decoder_last_error(dec));
  st = pv_dataset_explain_fault(ds, r.shard, err, sizeof err);
  CHILD_CHECK(st == PV_ERR_CHANGED && strstr(err, "shard-00002.pvs changed size while mapped"), 11,
              "explain: %s %s", pv_status_name(st), err);
  /* The same decoder, reset, decodes another record like a fresh one. */
  CHILD_CHECK(pv_decoder_decode(dec, &good, a, 256 * 3, px) == PV_OK, 12, "after reset: %s",
              pv_decoder_last_error(dec));
  CHILD_CHECK(pv_decoder_decode(fresh, &good, b, 256 * 3, px) == PV_OK, 13, "fresh");
  CHILD_CHECK(memcmp(a, b, px) == 0, 14, "the reset decoder decodes differently");
  /* The record lookup itself: its table entry is gone now. */
  st = pv_dataset_record_ex(ds, 17, &r, err, sizeof err);
  CHILD_CHECK(st == PV_ERR_CHANGED && r.shard == 2 && r.shard_record == 1 &&
                  strstr(err, "shard-00002.pvs changed size while mapped"),
              15, "record 17: %s (%s)", pv_status_name(st), err);
  /* The loader's sampler: interrupted mid-decode by the guard (splicing
   * off, so libjpeg itself is mid-scan when the fault hits), reset, then
   * exactly like a fresh one. */
  pv__sampler_set_splice(sm, 0);
  crop_job j = {sm, &r16, a};
  st = pv__guard_call(r16.data, r16.length, crop_run, &j);
  CHILD_CHECK(st == PV_ERR_CHANGED, 16, "sampler on a vanished payload: %s (%s)",
              pv_status_name(st), pv__sampler_last_error(sm));
  pv__sampler_reset(sm);
  crop_job g1 = {sm, &good, a}, g2 = {sm_fresh, &good, b};
  CHILD_CHECK(crop_run(&g1) == PV_OK, 17, "sampler after reset: %s", pv__sampler_last_error(sm));
  CHILD_CHECK(crop_run(&g2) == PV_OK, 18, "fresh sampler: %s", pv__sampler_last_error(sm_fresh));
  CHILD_CHECK(memcmp(a, b, 64 * 48 * 3) == 0, 19, "the reset sampler crops differently");
  pv_dataset_close(ds);
  pv__sampler_destroy(sm);
  pv__sampler_destroy(sm_fresh);
  pv_decoder_destroy(dec);
  pv_decoder_destroy(fresh);
  free(a);
  free(b);
  return 0;
}

static void test_decoder_on_vanishing_payload(void **state) {
  (void)state;
  dsbuf d;
  char *dir = live_dataset("live-decode", &d);
  decode_case c = {dir};
  run_child("decoder on a vanishing payload", decode_child, &c, CAP, SECS);
  pvt_rmrf(dir);
  free(dir);
  dsbuf_free(&d);
}

/* `pvpack build --force` over a dataset a loader is reading: the new
 * dataset is renamed into place, the old files stay mapped, and the loader
 * goes on with exactly the old data. */
typedef struct force_case {
  const char *src, *src2, *dir;
} force_case;

static int force_child(void *arg) {
  force_case *c = arg;
  pv_dataset *ds = NULL;
  char err[1024] = "";
  CHILD_CHECK(pv_dataset_open(c->dir, NULL, &ds, err, sizeof err) == PV_OK, 1, "open: %s", err);
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.batch_size = 4;
  o.width = o.height = 32;
  o.threads = 2;
  o.prefetch = 2;
  o.rank = 0;
  o.world_size = 1;
  pv_loader *l = NULL;
  CHILD_CHECK(pv_loader_create(ds, &o, &l, err, sizeof err) == PV_OK, 2, "loader: %s", err);
  /* Reference: epoch 0 before the rebuild (labels and a checksum per batch). */
  uint64_t ref[64], got[64];
  int nb = 0;
  pv_batch *b;
  while (pv_loader_next(l, &b) == PV_OK && b && nb < 64) {
    ref[nb++] = pv_checksum(b->images, (size_t)b->count * 32 * 32 * 3) ^ pv_checksum(b->labels, b->count * 8);
    pv_loader_release(l, b);
  }
  CHILD_CHECK(nb > 2, 3, "too few batches");
  pv_loader_set_epoch(l, 0, 0);
  CHILD_CHECK(pv_loader_next(l, &b) == PV_OK && b, 4, "batch 0: %s", pv_loader_last_error(l));
  got[0] = pv_checksum(b->images, (size_t)b->count * 32 * 32 * 3) ^ pv_checksum(b->labels, b->count * 8);
  pv_build_options bo;
  pv_build_options_init(&bo);
  bo.progress = 0;
  bo.log = quiet_log;
  bo.force = 1;
  pv_status st = pv_build(c->src2, c->dir, &bo, NULL, err, sizeof err);
  CHILD_CHECK(st == PV_OK, 5, "rebuild --force: %s %s", pv_status_name(st), err);
  pv_loader_release(l, b);
  int k = 1;
  while ((st = pv_loader_next(l, &b)) == PV_OK && b && k < 64) {
    got[k++] = pv_checksum(b->images, (size_t)b->count * 32 * 32 * 3) ^ pv_checksum(b->labels, b->count * 8);
    pv_loader_release(l, b);
  }
  CHILD_CHECK(st == PV_OK && k == nb, 6, "after the rebuild: %s, %d of %d batches: %s",
              pv_status_name(st), k, nb, pv_loader_last_error(l));
  CHILD_CHECK(memcmp(ref, got, (size_t)nb * sizeof *ref) == 0, 7, "the old data changed");
  pv_loader_destroy(l);
  pv_dataset_close(ds);
  /* The new dataset is the new one. */
  CHILD_CHECK(pv_dataset_open(c->dir, NULL, &ds, err, sizeof err) == PV_OK, 8, "reopen: %s", err);
  CHILD_CHECK(pv_dataset_record_count(ds) == 9, 9, "new dataset has %llu records",
              (unsigned long long)pv_dataset_record_count(ds));
  pv_dataset_close(ds);
  return 0;
}

static void test_build_force_under_a_loader(void **state) {
  (void)state;
  char *src = pvt_join(g_root, "force-src"), *src2 = pvt_join(g_root, "force-src2");
  char *dir = pvt_join(g_root, "force.pvpack");
  assert_int_equal(pvt_write_jpeg_tree(src, 30, 3, 40, 30, 40, 30, 90), 0);
  assert_int_equal(pvt_write_jpeg_tree(src2, 9, 2, 50, 10, 50, 10, 80), 0);
  assert_int_equal(pvt_build_quiet(src, dir, PV_PACK_CODEC_JPEG, 4096), PV_OK);
  force_case c = {src, src2, dir};
  run_child("build --force under a loader", force_child, &c, CAP, SECS);
  pvt_rmrf(src);
  pvt_rmrf(src2);
  pvt_rmrf(dir);
  free(src);
  free(src2);
  free(dir);
}

/* The fault handler takes only faults on armed ranges: every other SIGSEGV
 * or SIGBUS still kills the process with its signal, or reaches the
 * handler that was installed before ours. */
typedef struct chain_case {
  const char *dir;
  int kind;
} chain_case;

static void prior_handler(int sig) { _exit(40 + sig % 10); }

static int chain_child(void *arg) {
  chain_case *c = arg;
  /* cmocka's own handlers (it catches signals in the test process) go;
   * the previous handler is then the default, or prior_handler. */
  signal(SIGSEGV, c->kind == 3 ? prior_handler : SIG_DFL);
  signal(SIGBUS, SIG_DFL);
  pv_dataset *ds = NULL;
  if (pv_dataset_open(c->dir, NULL, &ds, NULL, 0) != PV_OK) return 1; /* installs the guard */
  if (c->kind == 0 || c->kind == 3) {
    /* A real bug: a read of memory that is not mapped (SIGSEGV; not a
     * NULL dereference, which UBSan would catch first). */
    volatile uint8_t *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap((void *)p, 4096);
    (void)p[1];
  } else if (c->kind == 1) {
    /* SIGBUS on a mapping nobody armed. */
    char *p = pvt_join(g_root, "bus.bin");
    uint8_t z[8192] = {0};
    pvt_write_file(p, z, sizeof z);
    int fd = open(p, O_RDONLY);
    volatile uint8_t *m = mmap(NULL, sizeof z, PROT_READ, MAP_SHARED, fd, 0);
    if (truncate(p, 0) != 0) return 2;
    (void)m[4096];
  } else {
    raise(SIGBUS);
  }
  return 3;
}

static void test_fault_handler_chains(void **state) {
  (void)state;
  dsbuf d;
  dsbuf_make(&d, 2, 1, 4, 4, 0);
  char *dir = write_ds("chain", &d, 1, 0, NULL);
  chain_case c = {dir, 0};
  assert_int_equal(pvh_run_limited(chain_child, &c, CAP, SECS), PVH_SIGNALED - SIGSEGV);
  c.kind = 1;
  assert_int_equal(pvh_run_limited(chain_child, &c, CAP, SECS), PVH_SIGNALED - SIGBUS);
  c.kind = 2;
  assert_int_equal(pvh_run_limited(chain_child, &c, CAP, SECS), PVH_SIGNALED - SIGBUS);
  c.kind = 3;
  assert_int_equal(pvh_run_limited(chain_child, &c, CAP, SECS), 40 + SIGSEGV % 10);
  pvt_rmrf(dir);
  free(dir);
  dsbuf_free(&d);
}

int main(void) {
  g_msg = mmap(NULL, MSGCAP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_msg == MAP_FAILED) return 1;
  g_root = pvt_mkdtemp("hostile-ds");
  if (!g_root) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_label_out_of_range),
      cmocka_unit_test(test_label_disagrees_with_index),
      cmocka_unit_test(test_wrong_class_counts),
      cmocka_unit_test(test_fifo_and_special_files),
      cmocka_unit_test(test_too_many_shards_refused_cheaply),
      cmocka_unit_test(test_max_shards_open),
      cmocka_unit_test(test_mmap_failure_is_a_limit),
      cmocka_unit_test(test_packer_refuses_too_many_shards),
      cmocka_unit_test(test_loader_shard_truncated),
      cmocka_unit_test(test_loader_shard_rewritten),
      cmocka_unit_test(test_decoder_on_vanishing_payload),
      cmocka_unit_test(test_build_force_under_a_loader),
      cmocka_unit_test(test_fault_handler_chains),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pvt_rmrf(g_root);
  free(g_root);
  return rc;
}
