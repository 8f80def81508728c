/* test_hostile_decode.c - the read side against hostile record payloads
 * (issue 9, items 5, 6, 7, 12): every payload is built in-test, written
 * into a dataset whose checksums all agree (hostile.h), and run through
 * every read path in a child process with a memory cap and a time limit:
 * pv_decoder_decode (what `pvpack get`, `verify --decode` and Python's
 * Dataset[i] call), the loader's train, eval and none pipelines, and the
 * CLI's `get` and `verify --decode`. Each case asserts the exact status,
 * the same in every path: a record the loader trains on must be one verify
 * accepts, and a record verify calls over a limit must be one the loader
 * refuses.
 *
 * The payloads:
 *   - a zstd frame of RLE blocks that really decompresses to 65500x65500x3
 *     zeros (12.9 GB) from 393 KB;
 *   - zstd payloads spec 3.6 forbids: a second frame, a skippable frame
 *     after or before, trailing bytes, no content size, the wrong size;
 *   - a progressive JPEG header declaring 65500x65500 (a whole-image
 *     coefficient buffer of 8.6 GB) followed by a few bytes of scan;
 *   - progressive JPEGs of many scans (a DC scan, then AC scans of nothing
 *     but end-of-band runs: each a full pass over the coefficients for a few
 *     bytes), hand-assembled and valid, so they decode without a warning;
 *   - records over a lowered pixel or byte limit;
 *   - extreme aspect ratios (4096x1, 65500x1) that `pvpack build` packs
 *     from ordinary files, through the eval pipeline's Resize + CenterCrop.
 * And: a loader inside a slow JPEG decode is destroyed, or repositioned,
 * within a bound (the decode is abandoned, not waited for).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "decode.h"
#include "hostile.h"
#include "hostile_codecs.h"
#include "hostile_payloads.h"
#include "pv_pack.h"
#include "pvpack.h"
#include "testutil.h"

#define CAP_BYTES (1ull << 30) /* address space a child may add */
#define CAP_SECONDS 20.0

/* ---- payload builders: hostile_payloads.h ---------------------------------- */

static uint8_t *baseline_jpeg(uint32_t w, uint32_t h, size_t *len) {
  uint8_t *rgb = pvt_pattern_rgb(w, h, 5);
  assert_non_null(rgb);
  uint8_t *j = pvt_encode_jpeg(rgb, w, h, 90, len);
  assert_non_null(j);
  free(rgb);
  return j;
}

/* ---- datasets and read paths ------------------------------------------------- */

static char *g_root; /* temporary directory of this run */

/* A one-record dataset in a fresh directory under g_root. */
static char *one_record_dataset(const char *name, uint8_t codec, uint32_t w, uint32_t h,
                                const void *payload, size_t len) {
  char *dir = pvt_join(g_root, name);
  pvh_record r;
  memset(&r, 0, sizeof r);
  r.codec = codec;
  r.width = w;
  r.height = h;
  r.payload = payload;
  r.length = (uint32_t)len;
  r.path = "c0/hostile.bin";
  pvh_spec s;
  memset(&s, 0, sizeof s);
  s.class_count = 1;
  s.records = &r;
  s.record_count = 1;
  assert_int_equal(pvh_write_dataset(dir, &s), 0);
  return dir;
}

typedef struct path_arg {
  const char *dir;
  const pv_limits *limits; /* NULL: defaults */
  int pipeline;            /* loader paths */
  uint32_t eval_resize;
} path_arg;

static pv_dataset *open_ds(const path_arg *a) {
  pv_open_options oo;
  pv_open_options_init(&oo);
  if (a->limits) oo.limits = *a->limits;
  pv_dataset *ds = NULL;
  char err[512];
  if (pv_dataset_open(a->dir, &oo, &ds, err, sizeof err) != PV_OK) {
    fprintf(stderr, "open %s: %s\n", a->dir, err);
    return NULL;
  }
  return ds;
}

/* pv_decoder_decode of record 0, as get / verify --decode / Dataset[i] do:
 * pv_decoder_check before the w*h*3 buffer is allocated. */
static int run_decode(void *arg) {
  const path_arg *a = arg;
  pv_dataset *ds = open_ds(a);
  if (!ds) return 200;
  pv_decoder *d;
  pv_record r;
  if (pv_decoder_create(&d) != PV_OK || pv_decoder_set_limits(d, pv_dataset_limits(ds)) != PV_OK ||
      pv_dataset_record(ds, 0, &r) != PV_OK)
    return 201;
  pv_status st = pv_decoder_check(d, &r);
  if (st == PV_OK) {
    size_t n = (size_t)r.width * r.height * 3;
    uint8_t *px = malloc(n);
    if (!px) return 202;
    st = pv_decoder_decode(d, &r, px, (size_t)r.width * 3, n);
    free(px);
  }
  if (st != PV_OK) fprintf(stderr, "  decode: %s\n", pv_decoder_last_error(d));
  pv_decoder_destroy(d);
  pv_dataset_close(ds);
  return PVH_ST(st);
}

/* One batch of the loader (one worker thread) over record 0. */
static int run_loader(void *arg) {
  const path_arg *a = arg;
  pv_dataset *ds = open_ds(a);
  if (!ds) return 200;
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.batch_size = 1;
  o.prefetch = 1;
  o.threads = 1;
  o.height = o.width = 64;
  o.pipeline = (pv_pipeline)a->pipeline;
  if (a->eval_resize) o.eval_resize = a->eval_resize;
  o.rank = 0;
  o.world_size = 1;
  pv_loader *l;
  char err[256];
  pv_status st = pv_loader_create(ds, &o, &l, err, sizeof err);
  if (st != PV_OK) return 203;
  pv_batch *b = NULL;
  st = pv_loader_next(l, &b);
  if (st != PV_OK) fprintf(stderr, "  loader: %s\n", pv_loader_last_error(l));
  if (b) pv_loader_release(l, b);
  pv_loader_destroy(l);
  pv_dataset_close(ds);
  return PVH_ST(st);
}

/* argv for the limits of a (the CLI flags), appended at argv[*n]. */
static void limit_flags(const pv_limits *L, const char **argv, int *n, char bufs[4][32]) {
  if (!L) return;
  snprintf(bufs[0], 32, "%" PRIu64, L->max_record_pixels);
  snprintf(bufs[1], 32, "%" PRIu64, L->max_record_bytes);
  snprintf(bufs[2], 32, "%" PRIu64, L->max_decoder_memory);
  snprintf(bufs[3], 32, "%u", L->max_scans);
  static const char *const names[4] = {"--max-record-pixels", "--max-record-bytes",
                                       "--max-decoder-memory", "--max-scans"};
  for (int i = 0; i < 4; i++) {
    argv[(*n)++] = names[i];
    argv[(*n)++] = bufs[i];
  }
}

/* The status a CLI run reports: exit 0 = PV_OK; else the status named in
 * its output (verify: "[PV_ERR_LIMIT]"; get: pv_strerror's text). */
static pv_status cli_status(int rc, const char *out) {
  if (rc == 0) return PV_OK;
  if (!out) return (pv_status)-100;
  if (strstr(out, "PV_ERR_LIMIT") || strstr(out, pv_strerror(PV_ERR_LIMIT))) return PV_ERR_LIMIT;
  if (strstr(out, "PV_ERR_DECODE") || strstr(out, pv_strerror(PV_ERR_DECODE)))
    return PV_ERR_DECODE;
  if (strstr(out, "PV_ERR_NOMEM") || strstr(out, "out of memory")) return PV_ERR_NOMEM;
  return (pv_status)-101;
}

static int run_cli_get(void *arg) {
  const path_arg *a = arg;
  char *out = NULL, bufs[4][32];
  char *dst = pvt_join(a->dir, "got.bin");
  unlink(dst); /* get never overwrites a file: one per run */
  const char *argv[16] = {"get", a->dir, "0", "-o", dst};
  int n = 5;
  limit_flags(a->limits, argv, &n, bufs);
  argv[n] = NULL;
  int rc = pvt_run_cli(&out, argv);
  pv_status st = cli_status(rc, out);
  if (st != PV_OK) fprintf(stderr, "  get: rc %d: %s", rc, out ? out : "");
  free(out);
  free(dst);
  return PVH_ST(st);
}

static int run_cli_verify(void *arg) {
  const path_arg *a = arg;
  char *out = NULL, bufs[4][32];
  const char *argv[16] = {"verify", a->dir, "--decode", "--threads", "1"};
  int n = 5;
  limit_flags(a->limits, argv, &n, bufs);
  argv[n] = NULL;
  int rc = pvt_run_cli(&out, argv);
  pv_status st = cli_status(rc, out);
  if (st != PV_OK) fprintf(stderr, "  verify: rc %d: %s", rc, out ? out : "");
  free(out);
  return PVH_ST(st);
}

/* Runs every read path over dir and asserts each gives `want`. */
static void expect_everywhere(const char *what, const char *dir, const pv_limits *L,
                              pv_status want) {
  static const struct {
    const char *name;
    int (*fn)(void *);
    int pipeline;
  } paths[] = {
      {"pv_decoder_decode", run_decode, 0},        {"loader train", run_loader, PV_PIPELINE_TRAIN},
      {"loader eval", run_loader, PV_PIPELINE_EVAL}, {"loader none", run_loader, PV_PIPELINE_NONE},
      {"pvpack get", run_cli_get, 0},              {"pvpack verify --decode", run_cli_verify, 0},
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    path_arg a = {dir, L, paths[i].pipeline, 0};
    int rc = pvh_run_limited(paths[i].fn, &a, CAP_BYTES, CAP_SECONDS);
    if (rc != PVH_ST(want)) {
      print_error("%s: %s gave %s (exit %d), want %s\n", what, paths[i].name,
                  rc == PVH_TIMEOUT       ? "a timeout"
                  : rc <= PVH_SIGNALED    ? "a signal"
                  : rc >= 0 && rc < 100   ? pv_status_name(-rc)
                                          : "a harness error",
                  rc, pv_status_name(want));
      bad = 1;
    }
  }
  if (bad) fail();
}

/* ---- cases ----------------------------------------------------------------------- */

/* Item 5: 393 KB of zstd that really is 12.9 GB of pixels. */
static void test_zstd_huge_frame(void **state) {
  (void)state;
  pvhp_buf z = pvhp_zstd_zeros(65500ull * 65500 * 3, 1);
  assert_true(z.n < 400u << 10);
  char *dir = one_record_dataset("zstd-huge", PV_CODEC_ZSTD, 65500, 65500, z.p, z.n);
  expect_everywhere("zstd 65500x65500", dir, NULL, PV_ERR_LIMIT);
  /* Without a pixel limit, its window (single segment: the whole 12.9 GB)
   * is over the decoder-memory limit. */
  pv_limits L;
  pv_limits_init(&L);
  L.max_record_pixels = 0;
  expect_everywhere("zstd 65500x65500, no pixel limit", dir, &L, PV_ERR_LIMIT);
  free(dir);
  free(z.p);
}

/* Item 12: every zstd payload spec 3.6 forbids is a decode error in every
 * path, the loader's too; a conforming one decodes everywhere. */
static void test_zstd_frame_rules(void **state) {
  (void)state;
  const uint32_t w = 19, h = 7;
  const size_t bytes = (size_t)w * h * 3;
  struct {
    const char *name;
    pvhp_buf b;
    pv_status want;
  } c[9];
  int n = 0;
  c[n].name = "conforming";
  c[n].b = pvhp_zstd_frame(bytes, 1);
  c[n++].want = PV_OK;
  c[n].name = "second empty frame";
  c[n].b = pvhp_zstd_frame(bytes, 1);
  {
    pvhp_buf e = pvhp_zstd_frame(0, 1);
    pvhp_put(&c[n].b, e.p, e.n);
    free(e.p);
  }
  c[n++].want = PV_ERR_DECODE;
  c[n].name = "trailing skippable frame";
  c[n].b = pvhp_zstd_frame(bytes, 1);
  pvhp_put_skippable(&c[n].b);
  c[n++].want = PV_ERR_DECODE;
  c[n].name = "leading skippable frame";
  c[n].b = (pvhp_buf){0};
  pvhp_put_skippable(&c[n].b);
  {
    pvhp_buf f = pvhp_zstd_frame(bytes, 1);
    pvhp_put(&c[n].b, f.p, f.n);
    free(f.p);
  }
  c[n++].want = PV_ERR_DECODE;
  c[n].name = "trailing bytes";
  c[n].b = pvhp_zstd_frame(bytes, 1);
  pvhp_put8(&c[n].b, 0);
  pvhp_put8(&c[n].b, 0);
  c[n++].want = PV_ERR_DECODE;
  c[n].name = "no content size";
  c[n].b = pvhp_zstd_frame(bytes, 0);
  c[n++].want = PV_ERR_DECODE;
  c[n].name = "content size too small";
  c[n].b = pvhp_zstd_frame(bytes - 3, 1);
  c[n++].want = PV_ERR_DECODE;
  c[n].name = "RLE frame, 128 KiB window";
  c[n].b = pvhp_zstd_zeros(bytes, 0);
  c[n++].want = PV_OK;
  /* A block larger than the window (Block_Maximum_Size): zstd's one-shot
   * decoder took it, its streaming decoder did not (found by fuzz_record). */
  c[n].name = "RLE block over the window";
  c[n].b = pvhp_zstd_zeros_ex(200000 * 3, 0, 16, 128u << 10);
  c[n++].want = PV_ERR_DECODE;
  for (int i = 0; i < n; i++) {
    char name[64];
    snprintf(name, sizeof name, "zstd-rule-%d", i);
    const int big = i == n - 1; /* 1000 x 200 */
    char *dir = one_record_dataset(name, PV_CODEC_ZSTD, big ? 1000 : w, big ? 200 : h, c[i].b.p,
                                   c[i].b.n);
    expect_everywhere(c[i].name, dir, NULL, c[i].want);
    free(dir);
    free(c[i].b.p);
  }
}

/* Item 5: a progressive JPEG declaring 65500x65500 (an 8.6 GB coefficient
 * buffer) is refused before its decoder allocates, by the pixel limit, and
 * without one by the decoder-memory limit. */
static void test_jpeg_huge_progressive(void **state) {
  (void)state;
  pvhp_buf j = pvhp_jpeg_scans(65500, 65500, 1, 1);
  assert_true(j.n < 1024);
  char *dir = one_record_dataset("jpeg-huge", PV_CODEC_JPEG, 65500, 65500, j.p, j.n);
  expect_everywhere("progressive 65500x65500", dir, NULL, PV_ERR_LIMIT);
  pv_limits L;
  pv_limits_init(&L);
  L.max_record_pixels = 0;
  expect_everywhere("progressive 65500x65500, no pixel limit", dir, &L, PV_ERR_LIMIT);
  free(dir);
  free(j.p);
  /* Within the pixel limit, over a lowered memory limit: 4096x4096 needs a
   * 32 MiB coefficient buffer. */
  j = pvhp_jpeg_scans(4096, 4096, 2, 0);
  dir = one_record_dataset("jpeg-4k-prog", PV_CODEC_JPEG, 4096, 4096, j.p, j.n);
  pv_limits_init(&L);
  L.max_decoder_memory = 16u << 20;
  expect_everywhere("progressive 4096x4096, 16 MiB decoder memory", dir, &L, PV_ERR_LIMIT);
  L.max_decoder_memory = 64u << 20;
  expect_everywhere("progressive 4096x4096, 64 MiB decoder memory", dir, &L, PV_OK);
  free(dir);
  free(j.p);
}

/* Item 6: one scan limit in every path (the loader had none): 2001 scans
 * are refused everywhere (and at once: the scans are counted from the
 * markers), 20 pass, and a lowered limit applies everywhere. */
static void test_jpeg_scan_limit(void **state) {
  (void)state;
  pvhp_buf j = pvhp_jpeg_scans(2048, 2048, 2001, 0);
  char *dir = one_record_dataset("jpeg-2001-scans", PV_CODEC_JPEG, 2048, 2048, j.p, j.n);
  expect_everywhere("2001 scans", dir, NULL, PV_ERR_LIMIT);
  free(dir);
  free(j.p);
  j = pvhp_jpeg_scans(256, 192, 20, 0);
  dir = one_record_dataset("jpeg-20-scans", PV_CODEC_JPEG, 256, 192, j.p, j.n);
  expect_everywhere("20 scans", dir, NULL, PV_OK);
  pv_limits L;
  pv_limits_init(&L);
  L.max_scans = 10;
  expect_everywhere("20 scans, max_scans 10", dir, &L, PV_ERR_LIMIT);
  L.max_scans = 20;
  expect_everywhere("20 scans, max_scans 20", dir, &L, PV_OK);
  free(dir);
  free(j.p);
}

/* Item 5: the pixel and byte limits, for every codec. */
static void test_pixel_and_byte_limits(void **state) {
  (void)state;
  const uint32_t w = 300, h = 200;
  size_t jlen;
  uint8_t *jpg = baseline_jpeg(w, h, &jlen);
  uint8_t *raw = pvt_pattern_rgb(w, h, 2);
  pvhp_buf z = pvhp_zstd_frame((size_t)w * h * 3, 1);
  struct {
    const char *name;
    uint8_t codec;
    const void *p;
    size_t n;
  } recs[] = {{"jpeg", PV_CODEC_JPEG, jpg, jlen},
              {"raw", PV_CODEC_RAW, raw, (size_t)w * h * 3},
              {"zstd", PV_CODEC_ZSTD, z.p, z.n}};
  for (size_t i = 0; i < 3; i++) {
    char name[64];
    snprintf(name, sizeof name, "limits-%s", recs[i].name);
    char *dir = one_record_dataset(name, recs[i].codec, w, h, recs[i].p, recs[i].n);
    pv_limits L;
    pv_limits_init(&L);
    expect_everywhere(recs[i].name, dir, &L, PV_OK);
    L.max_record_pixels = (uint64_t)w * h - 1;
    expect_everywhere(recs[i].name, dir, &L, PV_ERR_LIMIT);
    L.max_record_pixels = (uint64_t)w * h;
    expect_everywhere(recs[i].name, dir, &L, PV_OK);
    L.max_record_bytes = recs[i].n - 1;
    expect_everywhere(recs[i].name, dir, &L, PV_ERR_LIMIT);
    free(dir);
  }
  free(jpg);
  free(raw);
  free(z.p);
}

/* Item 7: extreme aspect ratios (what `pvpack build` makes of a 4096x1 or
 * 65500x1 image: kept as is, no upscale) go through every pipeline with
 * bounded memory. Before, eval's Resize(256) made a 1048576x256 (805 MB)
 * or a 16768000x256 intermediate. The crop of a one-row image's vertical
 * stretch has identical rows. */
typedef struct aspect_arg {
  path_arg a;
  int rows_equal; /* out */
} aspect_arg;

static int run_eval_rows(void *arg) {
  const path_arg *a = arg;
  pv_dataset *ds = open_ds(a);
  if (!ds) return 200;
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.batch_size = 1;
  o.prefetch = 1;
  o.threads = 1;
  o.pipeline = PV_PIPELINE_EVAL; /* Resize(256) + CenterCrop(224) */
  o.rank = 0;
  o.world_size = 1;
  pv_loader *l;
  if (pv_loader_create(ds, &o, &l, NULL, 0) != PV_OK) return 203;
  pv_batch *b = NULL;
  pv_status st = pv_loader_next(l, &b);
  int rc = PVH_ST(st);
  if (st == PV_OK) {
    const uint8_t *px = b->images;
    for (uint32_t y = 1; y < 224; y++)
      if (memcmp(px, px + (size_t)y * 224 * 3, 224 * 3)) rc = 100;
    pv_loader_release(l, b);
  }
  pv_loader_destroy(l);
  pv_dataset_close(ds);
  return rc;
}

static void test_extreme_aspect(void **state) {
  (void)state;
  static const uint32_t widths[] = {4096, 65500};
  for (size_t i = 0; i < 2; i++) {
    const uint32_t w = widths[i];
    size_t jlen;
    uint8_t *jpg = baseline_jpeg(w, 1, &jlen);
    uint8_t *raw = pvt_pattern_rgb(w, 1, 3);
    char name[64];
    snprintf(name, sizeof name, "aspect-jpeg-%u", w);
    char *dj = one_record_dataset(name, PV_CODEC_JPEG, w, 1, jpg, jlen);
    snprintf(name, sizeof name, "aspect-raw-%u", w);
    char *dr = one_record_dataset(name, PV_CODEC_RAW, w, 1, raw, (size_t)w * 3);
    /* 256 MiB is far below the old intermediates (805 MB, 12.9 GB). */
    const char *dirs[2] = {dj, dr};
    for (int k = 0; k < 2; k++) {
      path_arg a = {dirs[k], NULL, PV_PIPELINE_EVAL, 0};
      int rc = pvh_run_limited(run_eval_rows, &a, 256u << 20, CAP_SECONDS);
      if (rc != 0) {
        print_error("%s: eval of %ux1 gave %d\n", dirs[k], w, rc);
        fail();
      }
      for (int p = 0; p < 3; p++) {
        a.pipeline = p;
        assert_int_equal(pvh_run_limited(run_loader, &a, 256u << 20, CAP_SECONDS), 0);
      }
    }
    expect_everywhere(name, dr, NULL, PV_OK);
    free(dj);
    free(dr);
    free(jpg);
    free(raw);
  }
  /* 1 x 65500 (tall): the other axis. */
  uint8_t *raw = pvt_pattern_rgb(1, 65500, 4);
  char *dt = one_record_dataset("aspect-tall", PV_CODEC_RAW, 1, 65500, raw, 65500 * 3);
  for (int p = 0; p < 3; p++) {
    path_arg a = {dt, NULL, p, 0};
    assert_int_equal(pvh_run_limited(run_loader, &a, 256u << 20, CAP_SECONDS), 0);
  }
  free(dt);
  free(raw);
}

/* ---- item 6: a decode in progress is abandoned on destroy / set_epoch ---------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct slow_arg {
  const char *dir;
  int set_epoch; /* 0: time pv_loader_destroy; 1: pv_loader_set_epoch */
} slow_arg;

/* A loader whose only worker is inside a decode of many seconds (no scan
 * limit): destroy (or set_epoch) must come back within 2 s. Exit 0 when it
 * did, 1 when it took longer, 2 when the decode was not even slow. */
static int run_slow(void *arg) {
  const slow_arg *s = arg;
  pv_limits L;
  pv_limits_init(&L);
  L.max_scans = 0;
  path_arg pa = {s->dir, &L, 0, 0};
  pv_dataset *ds = open_ds(&pa);
  if (!ds) return 200;
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.batch_size = 1;
  o.prefetch = 1;
  o.threads = 1;
  o.height = o.width = 32;
  o.pipeline = PV_PIPELINE_NONE;
  o.rank = 0;
  o.world_size = 1;
  pv_loader *l;
  if (pv_loader_create(ds, &o, &l, NULL, 0) != PV_OK) return 203;
  /* The worker is decoding; the batch must not be ready after 0.5 s. */
  if (pv_loader_wait(l, 500)) return 2;
  const double t0 = now_s();
  if (s->set_epoch) {
    pv_loader_set_epoch(l, 1, 0);
    const double t = now_s() - t0;
    fprintf(stderr, "  set_epoch took %.3f s\n", t);
    if (t > 2.0) return 1;
    /* The loader stays usable: its next decode is cancelled by destroy. */
    pv_loader_wait(l, 100);
    pv_loader_destroy(l);
  } else {
    pv_loader_destroy(l);
    const double t = now_s() - t0;
    fprintf(stderr, "  destroy took %.3f s\n", t);
    if (t > 2.0) return 1;
  }
  pv_dataset_close(ds);
  return 0;
}

static void test_cancel_slow_decode(void **state) {
  (void)state;
  /* 30000 scans of 4096x4096: each a pass over 262144 blocks, tens of
   * seconds in all; 28 bytes a scan. */
  pvhp_buf j = pvhp_jpeg_scans(4096, 4096, 30000, 0);
  char *dir = one_record_dataset("jpeg-slow", PV_CODEC_JPEG, 4096, 4096, j.p, j.n);
  for (int k = 0; k < 2; k++) {
    slow_arg a = {dir, k};
    int rc = pvh_run_limited(run_slow, &a, CAP_BYTES, CAP_SECONDS);
    if (rc != 0) {
      print_error("%s during a slow decode: %s\n", k ? "set_epoch" : "destroy",
                  rc == 1            ? "took more than 2 s"
                  : rc == 2          ? "the decode was not slow (fixture broken)"
                  : rc == PVH_TIMEOUT ? "did not return within the time limit"
                                      : "failed");
      fail();
    }
  }
  free(dir);
  free(j.p);
}

/* The limits API: defaults, resolve of an older (smaller) struct, zero =
 * none, and the loader's eval_resize bound. */
static void test_limits_api(void **state) {
  (void)state;
  pv_limits L;
  pv_limits_init(&L);
  assert_int_equal(L.size, sizeof L);
  assert_int_equal(L.max_record_pixels, 178956970u);
  assert_int_equal(L.max_record_bytes, 1u << 30);
  assert_int_equal(L.max_decoder_memory, 8ull * 178956970u + (64u << 20));
  assert_int_equal(L.max_scans, 500);
  pv_decoder *d;
  assert_int_equal(pv_decoder_create(&d), PV_OK);
  pv_limits bad = {0};
  assert_int_equal(pv_decoder_set_limits(d, &bad), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_decoder_set_limits(d, NULL), PV_OK);
  /* An older caller's struct: only the fields it has are taken. */
  pv_limits older;
  memset(&older, 0xFF, sizeof older);
  older.size = offsetof(pv_limits, max_record_bytes);
  older.max_record_pixels = 10;
  assert_int_equal(pv_decoder_set_limits(d, &older), PV_OK);
  uint8_t px[300];
  pv_record r;
  memset(&r, 0, sizeof r);
  r.codec = PV_CODEC_RAW;
  r.width = 10;
  r.height = 10;
  r.data = px;
  r.length = 300;
  assert_int_equal(pv_decoder_check(d, &r), PV_ERR_LIMIT);
  assert_non_null(strstr(pv_decoder_last_error(d), "max_record_pixels 10"));
  r.height = 1;
  r.length = 30;
  assert_int_equal(pv_decoder_check(d, &r), PV_OK);
  assert_int_equal(pv_decoder_decode(d, &r, px, 30, sizeof px), PV_OK);
  pv_decoder_destroy(d);

  assert_int_equal(PV_EVAL_RESIZE_MAX(224, 224), 4096);
  assert_int_equal(PV_EVAL_RESIZE_MAX(2000, 1500), 8000);
  pvt_ds_fixture *f = pvt_ds_fixture_new("limits-api", 4, 2, 40, 10, 40, 10);
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.threads = 1;
  o.batch_size = 2;
  pv_loader *l = NULL;
  char err[256];
  o.eval_resize = 20000;
  assert_int_equal(pv_loader_create(f->ds, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "eval_resize"));
  o.eval_resize = 4096;
  assert_int_equal(pv_loader_create(f->ds, &o, &l, err, sizeof err), PV_OK);
  pv_loader_destroy(l);
  pvt_ds_fixture_free(f);

  pv_dataset *ds = NULL;
  assert_int_equal(pv_dataset_open("", NULL, &ds, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_null(ds);
}

/* The packer decodes source JPEGs with the same scan and memory functions
 * (its own limits: decoder memory from --max-pixels): a source of 2001
 * scans is refused as a limit, not as damage, and before it is decoded; a
 * 65500x65500 progressive header without a pixel limit is refused before
 * its 8.6 GB coefficient buffer is allocated. */
typedef struct pack_arg {
  const pvhp_buf *jpg;
  uint64_t max_pixels;
  char err[256];
} pack_arg;

static int run_pack_decode(void *arg) {
  pack_arg *a = arg;
  pv_decode_opts o;
  memset(&o, 0, sizeof o);
  o.max_pixels = a->max_pixels;
  pv_image img;
  memset(&img, 0, sizeof img);
  pv_status st = pv__decode_image(a->jpg->p, a->jpg->n, &o, &img, a->err, sizeof a->err);
  pv__image_free(&img);
  if (st != PV_OK) fprintf(stderr, "  packer: %s\n", a->err);
  if (st == PV_ERR_LIMIT && !strstr(a->err, "scans") && !strstr(a->err, "decoder memory"))
    return 100;
  return PVH_ST(st);
}

static void test_packer_same_limits(void **state) {
  (void)state;
  pvhp_buf many = pvhp_jpeg_scans(2048, 2048, 2001, 0), few = pvhp_jpeg_scans(300, 200, 20, 0),
      huge = pvhp_jpeg_scans(65500, 65500, 1, 1);
  pack_arg a = {&many, 178956970u, ""};
  const double t0 = now_s();
  assert_int_equal(pvh_run_limited(run_pack_decode, &a, CAP_BYTES, CAP_SECONDS),
                   PVH_ST(PV_ERR_LIMIT));
  assert_true(now_s() - t0 < 5.0); /* refused from its markers, not after 500 passes */
  a.jpg = &few;
  assert_int_equal(pvh_run_limited(run_pack_decode, &a, CAP_BYTES, CAP_SECONDS), 0);
  a.jpg = &huge;
  a.max_pixels = 0;
  assert_int_equal(pvh_run_limited(run_pack_decode, &a, CAP_BYTES, CAP_SECONDS),
                   PVH_ST(PV_ERR_LIMIT));
  free(many.p);
  free(few.p);
  free(huge.p);
}

/* Issue 10, point 2: one codec table behind every read path. Hostile (and
 * good) payloads of every codec of the table (hostile_codecs.h: broken
 * rules, over each limit, and ones that decode) give the same status in
 * pv_decoder_decode (Dataset[i]'s path), the loader's three pipelines,
 * `pvpack get` and `pvpack verify --decode`. python/tests/test_hostile.py
 * runs the same cases through Dataset[i] and Loader. */
static void test_codec_cases_everywhere(void **state) {
  (void)state;
  pvhc_case *cs;
  const size_t n = pvhc_cases(&cs);
  int codecs[PV_CODEC_COUNT] = {0};
  for (size_t i = 0; i < n; i++) {
    const pvhc_case *c = &cs[i];
    char name[80];
    snprintf(name, sizeof name, "codec-%s", c->name);
    char *dir = one_record_dataset(name, c->codec, c->width, c->height, c->payload.p,
                                   c->payload.n);
    expect_everywhere(c->name, dir, c->limited ? &c->limits : NULL, c->want);
    codecs[c->codec] |= 1 << (c->want == PV_OK ? 0 : c->want == PV_ERR_LIMIT ? 1 : 2);
    free(dir);
  }
  pvhc_free(cs, n);
  /* Every codec: accepted payloads, and refused ones. */
  for (int k = 0; k < PV_CODEC_COUNT; k++) {
    assert_true(codecs[k] & 1);
    assert_true(codecs[k] & 2);
  }
}

static int setup(void **state) {
  (void)state;
  g_root = pvt_mkdtemp("hostile-decode");
  return g_root ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  pvt_rmrf(g_root);
  free(g_root);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limits_api),
      cmocka_unit_test(test_zstd_huge_frame),
      cmocka_unit_test(test_zstd_frame_rules),
      cmocka_unit_test(test_jpeg_huge_progressive),
      cmocka_unit_test(test_jpeg_scan_limit),
      cmocka_unit_test(test_pixel_and_byte_limits),
      cmocka_unit_test(test_extreme_aspect),
      cmocka_unit_test(test_cancel_slow_decode),
      cmocka_unit_test(test_packer_same_limits),
      cmocka_unit_test(test_codec_cases_everywhere),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
