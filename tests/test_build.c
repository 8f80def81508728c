/* test_build.c - the packer end to end: build an ImageFolder made in-test,
 * read it back through the reader, check determinism across thread counts,
 * bad-input handling, crash safety, and a corruption matrix for verify and
 * for pv_dataset_open. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "encode.h"
#include "jpeg_splice.h"
#include "pv_format.h"
#include "pv_pack.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "resample.h"
#include "testutil.h"

typedef struct fixture {
  char *root; /* temp dir */
  char *src;  /* root/src: the ImageFolder */
} fixture;

/* Files that must be skipped, with a word their reason must contain. */
static const char *const k_bad[][2] = {
    {"bird/zero.jpg", "empty"},
    {"bird/garbage.jpg", ""},
    {"cat/truncated.jpg", ""},
};
#define N_BAD 3

static void quiet_log(void *ctx, pv_log_level lv, const char *line) {
  (void)ctx;
  (void)lv;
  (void)line;
}

static void opts_quiet(pv_build_options *o) {
  pv_build_options_init(o);
  o->progress = 0;
  o->log = quiet_log;
}

/* ImageFolder: 3 classes; JPEGs larger and smaller than the 256 target, a
 * PNG, a PNG named .jpg, a grayscale JPEG, and three bad files. */
static int setup_tree(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->root = pvt_mkdtemp("build");
  f->src = pvt_join(f->root, "src");
  char *p;
  static const char *const classes[] = {"bird", "cat", "dog"};
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 6; i++) {
      char rel[64];
      snprintf(rel, sizeof rel, "%s/img%d.jpg", classes[c], i);
      p = pvt_join(f->src, rel);
      uint32_t w = i % 2 ? 400 : 200, h = i % 3 ? 300 : 180;
      assert_int_equal(pvt_write_jpeg(p, w, h, (uint32_t)(c * 10 + i), 90), 0);
      free(p);
    }
  p = pvt_join(f->src, "cat/sub/deep.png");
  assert_int_equal(pvt_write_png(p, 320, 280, 7), 0);
  free(p);
  p = pvt_join(f->src, "dog/actually_png.jpg");
  assert_int_equal(pvt_write_png(p, 90, 60, 8), 0);
  free(p);
  {
    /* Grayscale JPEG. */
    uint8_t *rgb = pvt_pattern_rgb(300, 300, 3);
    size_t n;
    uint8_t *j = pvt_encode_jpeg(rgb, 300, 300, 85, &n);
    free(rgb);
    p = pvt_join(f->src, "dog/gray_source.jpg");
    assert_int_equal(pvt_write_file(p, j, n), 0);
    /* A truncated copy is a bad file. */
    free(p);
    p = pvt_join(f->src, "cat/truncated.jpg");
    assert_int_equal(pvt_write_file(p, j, n / 2), 0);
    free(p);
    free(j);
  }
  p = pvt_join(f->src, "bird/zero.jpg");
  assert_int_equal(pvt_write_file(p, "", 0), 0);
  free(p);
  p = pvt_join(f->src, "bird/garbage.jpg");
  assert_int_equal(pvt_write_file(p, "definitely not an image", 23), 0);
  free(p);
  p = pvt_join(f->src, "bird/notes.txt");
  assert_int_equal(pvt_write_file(p, "ignored", 7), 0);
  free(p);
  *state = f;
  return 0;
}

static int teardown_tree(void **state) {
  fixture *f = *state;
  pvt_rmrf(f->root);
  free(f->root);
  free(f->src);
  free(f);
  return 0;
}

static char *out_path(fixture *f, const char *name) { return pvt_join(f->root, name); }

static int dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* Every file of a compares byte-identical to the same file of b. */
static void assert_same_dir(const char *a, const char *b) {
  DIR *d = opendir(a);
  assert_non_null(d);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *pa = pvt_join(a, e->d_name), *pb = pvt_join(b, e->d_name);
    size_t la, lb;
    uint8_t *ba = pvt_read_file(pa, &la), *bb = pvt_read_file(pb, &lb);
    assert_non_null(ba);
    assert_non_null(bb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
    free(pa);
    free(pb);
    n++;
  }
  closedir(d);
  assert_int_equal(n, dir_entries(b));
}

static void test_build_and_read_back(void **state) {
  fixture *f = *state;
  char *out = out_path(f, "ds1");
  pv_build_options o;
  opts_quiet(&o);
  o.shard_bytes = 16 * 1024; /* several shards */
  pv_build_summary s;
  char err[512];
  assert_int_equal(pv_build(f->src, out, &o, &s, err, sizeof err), PV_OK);
  assert_int_equal(s.files, 3 * 6 + 2 + 1 + N_BAD);
  assert_int_equal(s.skipped, N_BAD);
  assert_int_equal(s.images, s.files - N_BAD);
  assert_int_equal(s.classes, 3);
  assert_true(s.shards > 1);
  assert_true(s.original_records > 0); /* small JPEGs were kept as they are */

  pv_dataset *ds = NULL;
  assert_int_equal(pv_dataset_open(out, NULL, &ds, err, sizeof err), PV_OK);
  assert_int_equal(pv_dataset_record_count(ds), s.images);
  assert_int_equal(pv_dataset_shard_count(ds), s.shards);
  assert_int_equal(pv_dataset_class_count(ds), 3);
  assert_string_equal(pv_dataset_class_name(ds, 0), "bird");
  assert_string_equal(pv_dataset_class_name(ds, 2), "dog");
  assert_int_equal(pv_dataset_skipped_count(ds), N_BAD);
  size_t sl;
  const char *sk = pv_dataset_skipped_text(ds, &sl);
  char *skipped = strndup(sk, sl);
  for (int i = 0; i < N_BAD; i++) assert_non_null(strstr(skipped, k_bad[i][0]));
  assert_non_null(strstr(skipped, "empty"));
  free(skipped);

  pv_decoder *dec;
  assert_int_equal(pv_decoder_create(&dec), PV_OK);
  uint64_t per_class[3] = {0};
  int seen_png_as_jpg = 0;
  for (uint64_t i = 0; i < pv_dataset_record_count(ds); i++) {
    pv_record r;
    assert_int_equal(pv_dataset_record(ds, i, &r), PV_OK);
    assert_int_equal((uintptr_t)r.data % PV_RECORD_ALIGN, 0);
    /* Never upscaled; shorter side at most 256. */
    assert_true((r.width < r.height ? r.width : r.height) <= 256);
    uint32_t len;
    const char *sp = pv_dataset_source_path(ds, i, &len);
    char *path = strndup(sp, len);
    /* Label agrees with the class folder of the source path. */
    const char *cn = pv_dataset_class_name(ds, r.label);
    assert_int_equal(strncmp(path, cn, strlen(cn)), 0);
    assert_int_equal(path[strlen(cn)], '/');
    if (strstr(path, "actually_png")) {
      seen_png_as_jpg = 1;
      assert_int_equal(r.width, 90); /* decoded as PNG, by content */
      assert_int_equal(r.height, 60);
    }
    if (strstr(path, "img1.jpg")) { /* 400x300 -> shorter side 256 */
      assert_int_equal(r.width, 341);
      assert_int_equal(r.height, 256);
    }
    if (strstr(path, "img0.jpg")) { /* 200x180: kept as is */
      assert_int_equal(r.width, 200);
      assert_true(r.flags & PV_RECORD_FLAG_ORIGINAL);
      char *full = pvt_join(f->src, path);
      size_t n;
      uint8_t *orig = pvt_read_file(full, &n);
      assert_int_equal(n, r.length);
      assert_memory_equal(orig, r.data, n);
      free(orig);
      free(full);
    }
    uint8_t *px = malloc((size_t)r.width * r.height * 3);
    assert_int_equal(pv_decoder_decode(dec, &r, px, (size_t)r.width * 3,
                                       (size_t)r.width * r.height * 3),
                     PV_OK);
    free(px);
    per_class[r.label]++;
    free(path);
  }
  assert_true(seen_png_as_jpg);
  for (uint32_t c = 0; c < 3; c++) assert_int_equal(per_class[c], pv_dataset_class_records(ds, c));
  pv_decoder_destroy(dec);
  pv_dataset_close(ds);

  /* The report names each skipped file. */
  char *rp = pvt_join(out, PV_REPORT_FILENAME);
  size_t rl;
  char *rep = (char *)pvt_read_file(rp, &rl);
  assert_non_null(rep);
  rep = realloc(rep, rl + 1);
  rep[rl] = 0;
  for (int i = 0; i < N_BAD; i++) assert_non_null(strstr(rep, k_bad[i][0]));
  free(rep);
  free(rp);

  pv_verify_summary vs;
  pv_verify_options vo;
  pv_verify_options_init(&vo);
  vo.decode = 1;
  assert_int_equal(pv_verify(out, &vo, &vs), PV_OK);
  assert_int_equal(vs.problems, 0);
  assert_int_equal(vs.records_checked, s.images);
  assert_int_equal(vs.records_decoded, s.images);
  pvt_rmrf(out);
  free(out);
}

/* Same input and options: byte-identical output for 1, 2 and 5 threads. */
static void test_deterministic_across_threads(void **state) {
  fixture *f = *state;
  const int threads[] = {1, 2, 5};
  char *outs[3];
  for (int codec = 0; codec < 3; codec++) {
    for (int t = 0; t < 3; t++) {
      char name[32];
      snprintf(name, sizeof name, "det-%d-%d", codec, threads[t]);
      outs[t] = out_path(f, name);
      pv_build_options o;
      opts_quiet(&o);
      o.threads = threads[t];
      o.codec = codec;
      o.shard_bytes = 20000;
      o.seed = 42;
      assert_int_equal(pv_build(f->src, outs[t], &o, NULL, NULL, 0), PV_OK);
    }
    assert_same_dir(outs[0], outs[1]);
    assert_same_dir(outs[0], outs[2]);
    for (int t = 0; t < 3; t++) {
      pvt_rmrf(outs[t]);
      free(outs[t]);
    }
  }
}

/* Raw and zstd records hold exactly decode + resize of the source. */
static void test_lossless_codecs_exact(void **state) {
  fixture *f = *state;
  for (int codec = PV_PACK_CODEC_RAW; codec <= PV_PACK_CODEC_ZSTD; codec += 2) {
    char *out = out_path(f, codec ? "zstd" : "raw");
    pv_build_options o;
    opts_quiet(&o);
    o.codec = codec;
    o.shuffle = 0;
    assert_int_equal(pv_build(f->src, out, &o, NULL, NULL, 0), PV_OK);
    pv_dataset *ds;
    assert_int_equal(pv_dataset_open(out, NULL, &ds, NULL, 0), PV_OK);
    pv_decoder *dec;
    pv_resampler *rs;
    assert_int_equal(pv_decoder_create(&dec), PV_OK);
    assert_int_equal(pv__resampler_create(&rs), PV_OK);
    for (uint64_t i = 0; i < pv_dataset_record_count(ds); i++) {
      pv_record r;
      assert_int_equal(pv_dataset_record(ds, i, &r), PV_OK);
      assert_int_equal(r.codec, codec);
      uint32_t len;
      const char *sp = pv_dataset_source_path(ds, i, &len);
      char *rel = strndup(sp, len), *full = pvt_join(f->src, rel);
      size_t n;
      uint8_t *bytes = pvt_read_file(full, &n);
      pv_decode_opts dopt = {0};
      dopt.min_width = r.width;
      dopt.min_height = r.height;
      pv_image img;
      assert_int_equal(pv__decode_image(bytes, n, &dopt, &img, NULL, 0), PV_OK);
      size_t sz = (size_t)r.width * r.height * 3;
      uint8_t *want = malloc(sz), *got = malloc(sz);
      if (img.width == r.width && img.height == r.height)
        memcpy(want, img.pixels, sz);
      else
        assert_int_equal(pv__resample_rgb8(rs, PV_FILTER_BILINEAR, img.pixels, img.width,
                                           img.height, (size_t)img.width * 3, 0, 0, img.width,
                                           img.height, want, r.width, r.height,
                                           (size_t)r.width * 3),
                         PV_OK);
      assert_int_equal(pv_decoder_decode(dec, &r, got, (size_t)r.width * 3, sz), PV_OK);
      assert_memory_equal(want, got, sz);
      free(want);
      free(got);
      pv__image_free(&img);
      free(bytes);
      free(full);
      free(rel);
    }
    pv__resampler_destroy(rs);
    pv_decoder_destroy(dec);
    pv_dataset_close(ds);
    pvt_rmrf(out);
    free(out);
  }
}

/* on_progress: called instead of printing, done non-decreasing with the
 * same total (the files of the writing stage), the last call (total,
 * total); never called with progress = 0 (none). Nothing on stderr is
 * checked here; the Python suite checks fd 2 stays empty. */
typedef struct progress_log {
  int calls;
  uint64_t last_done, last_total, first_total;
  int decreasing;
} progress_log;

static void record_progress(void *ctx, uint64_t done, uint64_t total) {
  progress_log *p = ctx;
  if (p->calls == 0) p->first_total = total;
  if (done < p->last_done || total != p->first_total) p->decreasing = 1;
  p->last_done = done;
  p->last_total = total;
  p->calls++;
}

static void test_progress_callback(void **state) {
  fixture *f = *state;
  char *out = out_path(f, "progress");
  pv_build_options o;
  opts_quiet(&o);
  progress_log pl = {0};
  o.on_progress = record_progress;
  o.progress_ctx = &pl;
  assert_int_equal(pv_build(f->src, out, &o, NULL, NULL, 0), PV_OK); /* progress 0: none */
  assert_int_equal(pl.calls, 0);
  pvt_rmrf(out);
  o.progress = 2; /* lines: the callback instead */
  pv_build_summary s;
  assert_int_equal(pv_build(f->src, out, &o, &s, NULL, 0), PV_OK);
  assert_true(pl.calls >= 1);
  assert_false(pl.decreasing);
  assert_int_equal(pl.last_done, s.files);
  assert_int_equal(pl.last_total, s.files);
  pvt_rmrf(out);
  free(out);
}

/* --no-shuffle keeps torchvision's order: classes in order, files sorted. */
static void test_source_order(void **state) {
  fixture *f = *state;
  char *out = out_path(f, "ordered");
  pv_build_options o;
  opts_quiet(&o);
  o.shuffle = 0;
  assert_int_equal(pv_build(f->src, out, &o, NULL, NULL, 0), PV_OK);
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(out, NULL, &ds, NULL, 0), PV_OK);
  char prev[512] = "";
  for (uint64_t i = 0; i < pv_dataset_record_count(ds); i++) {
    uint32_t len;
    const char *sp = pv_dataset_source_path(ds, i, &len);
    char cur[512];
    snprintf(cur, sizeof cur, "%.*s", (int)len, sp);
    assert_true(strcmp(prev, cur) < 0);
    snprintf(prev, sizeof prev, "%s", cur);
  }
  pv_dataset_close(ds);
  pvt_rmrf(out);
  free(out);
}

static void test_strict_exists_force_cancel(void **state) {
  fixture *f = *state;
  char *out = out_path(f, "strict");
  pv_build_options o;
  opts_quiet(&o);
  o.strict = 1;
  char err[512] = "";
  assert_int_equal(pv_build(f->src, out, &o, NULL, err, sizeof err), PV_ERR_SKIPPED);
  assert_non_null(strstr(err, ".jpg"));
  struct stat sb;
  assert_int_not_equal(stat(out, &sb), 0); /* nothing left behind */
  assert_int_equal(dir_entries(f->root), 1); /* only src/: no temp dirs */

  o.strict = 0;
  assert_int_equal(pv_build(f->src, out, &o, NULL, NULL, 0), PV_OK);
  assert_int_equal(pv_build(f->src, out, &o, NULL, err, sizeof err), PV_ERR_EXISTS);
  o.force = 1;
  o.codec = PV_PACK_CODEC_ZSTD;
  assert_int_equal(pv_build(f->src, out, &o, NULL, NULL, 0), PV_OK);
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(out, NULL, &ds, NULL, 0), PV_OK);
  pv_record r;
  assert_int_equal(pv_dataset_record(ds, 0, &r), PV_OK);
  assert_int_equal(r.codec, PV_CODEC_ZSTD); /* replaced */
  pv_dataset_close(ds);
  assert_int_equal(dir_entries(f->root), 2); /* src/ and strict/ */

  /* Cancelled before it starts: no output, no temporary directory. */
  static volatile sig_atomic_t cancel = 1;
  char *out2 = out_path(f, "cancelled");
  o.force = 0;
  o.cancel = &cancel;
  assert_int_equal(pv_build(f->src, out2, &o, NULL, NULL, 0), PV_ERR_CANCELLED);
  assert_int_not_equal(stat(out2, &sb), 0);
  assert_int_equal(dir_entries(f->root), 2);
  pvt_rmrf(out);
  free(out);
  free(out2);
}

static void test_options_and_limits(void **state) {
  fixture *f = *state;
  char *out = out_path(f, "longer");
  pv_build_options o;
  opts_quiet(&o);
  o.resize = PV_RESIZE_LONGER;
  o.resize_to = 100;
  o.max_pixels = 300 * 300 - 1; /* over: gray_source.jpg (300x300) and the
                                   six 400x300 JPEGs (img1, img5 per class) */
  pv_build_summary s;
  assert_int_equal(pv_build(f->src, out, &o, &s, NULL, 0), PV_OK);
  assert_int_equal(s.skipped, N_BAD + 1 + 6);
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(out, NULL, &ds, NULL, 0), PV_OK);
  for (uint64_t i = 0; i < pv_dataset_record_count(ds); i++) {
    pv_record r;
    pv_dataset_record(ds, i, &r);
    assert_true((r.width > r.height ? r.width : r.height) <= 100);
  }
  size_t tl;
  const char *t = pv_dataset_options_text(ds, &tl);
  char *txt = strndup(t, tl);
  assert_non_null(strstr(txt, "resize=longer\n"));
  assert_non_null(strstr(txt, "resize_to=100\n"));
  assert_null(strstr(txt, "threads")); /* thread count must not change bytes */
  free(txt);
  pv_dataset_close(ds);
  pvt_rmrf(out);
  free(out);

  pv_build_options bad;
  opts_quiet(&bad);
  bad.jpeg_quality = 0;
  assert_int_equal(pv_build(f->src, NULL, &bad, NULL, NULL, 0), PV_ERR_INVALID_ARG);
  opts_quiet(&bad);
  char *missing = out_path(f, "does-not-exist");
  assert_int_equal(pv_build(missing, NULL, &bad, NULL, NULL, 0), PV_ERR_NOT_FOUND);
  free(missing);
  char *def = pv_default_output_dir("/data/train//");
  assert_string_equal(def, "/data/train.pvpack");
  free(def);
}


/* Re-encoded JPEG records carry restart markers every R MCUs, R the largest
 * divisor of the MCU row up to jpeg_restart and to a sixteenth of the row
 * (spec 3.6), so the loader can
 * splice crops; originals are untouched; jpeg_restart = 0 writes none. */
static void test_jpeg_restart_markers(void **state) {
  fixture *f = *state;
  for (uint32_t rmax = 0; rmax <= 4; rmax += 4) {
    char *out = out_path(f, rmax ? "rst4" : "rst0");
    pv_build_options o;
    opts_quiet(&o);
    o.jpeg_restart = rmax;
    o.resize_to = 200;
    assert_int_equal(pv_build(f->src, out, &o, NULL, NULL, 0), PV_OK);
    pv_dataset *ds;
    assert_int_equal(pv_dataset_open(out, NULL, &ds, NULL, 0), PV_OK);
    int reencoded = 0;
    for (uint64_t i = 0; i < pv_dataset_record_count(ds); i++) {
      pv_record r;
      assert_int_equal(pv_dataset_record(ds, i, &r), PV_OK);
      if (r.codec != PV_CODEC_JPEG || (r.flags & PV_RECORD_FLAG_ORIGINAL)) continue;
      reencoded++;
      pv_jpeg_layout L;
      const int ok = pv__jpeg_layout(r.data, r.length, &L);
      if (!rmax) {
        assert_int_equal(ok, 0);
        continue;
      }
      assert_int_equal(ok, 1);
      assert_int_equal(L.width, r.width);
      assert_int_equal(L.height, r.height);
      assert_int_equal(L.restart, pv__jpeg_restart_interval(r.width, rmax));
      assert_int_equal(L.mcus_per_row % L.restart, 0);
    }
    assert_true(reencoded > 0);
    size_t tl;
    const char *t = pv_dataset_options_text(ds, &tl);
    char *txt = strndup(t, tl), want[32];
    snprintf(want, sizeof want, "jpeg_restart=%u\n", rmax);
    assert_non_null(strstr(txt, want));
    free(txt);
    pv_dataset_close(ds);
    assert_int_equal(pv_verify(out, NULL, NULL), PV_OK);
    pvt_rmrf(out);
    free(out);
  }
}

/* --codec auto: small images lossless (zstd), others JPEG, originals kept. */
static void test_auto_codec(void **state) {
  fixture *f = *state;
  char *out = out_path(f, "auto");
  pv_build_options o;
  opts_quiet(&o);
  o.codec = PV_PACK_CODEC_AUTO;
  o.auto_threshold = 100 * 100 * 3;
  pv_build_summary s;
  assert_int_equal(pv_build(f->src, out, &o, &s, NULL, 0), PV_OK);
  assert_true(s.codec_records[PV_CODEC_ZSTD] >= 1);
  assert_true(s.codec_records[PV_CODEC_JPEG] >= 1);
  assert_true(s.original_records >= 1);
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(out, NULL, &ds, NULL, 0), PV_OK);
  for (uint64_t i = 0; i < pv_dataset_record_count(ds); i++) {
    pv_record r;
    pv_dataset_record(ds, i, &r);
    int small = (uint64_t)r.width * r.height * 3 <= o.auto_threshold;
    if (r.flags & PV_RECORD_FLAG_ORIGINAL)
      assert_int_equal(r.codec, PV_CODEC_JPEG);
    else
      assert_int_equal(r.codec, small ? PV_CODEC_ZSTD : PV_CODEC_JPEG);
  }
  size_t tl;
  const char *t = pv_dataset_options_text(ds, &tl);
  char *txt = strndup(t, tl);
  assert_non_null(strstr(txt, "codec=auto\nauto_threshold=30000\n"));
  free(txt);
  pv_dataset_close(ds);
  pvt_rmrf(out);
  free(out);
}

/* ---- corruption matrix -------------------------------------------------- */

typedef struct damage {
  const char *name;
  const char *file; /* index.pvi or shard-00000.pvs */
  int64_t where;    /* byte offset; negative: from the end */
  int truncate;     /* truncate to `where` instead of flipping */
  pv_status open_status;   /* pv_dataset_open */
  pv_status verify_status; /* first problem reported by verify */
} damage;

static void flip_or_truncate(const char *path, const damage *d) {
  size_t n;
  uint8_t *b = pvt_read_file(path, &n);
  assert_non_null(b);
  size_t at = d->where >= 0 ? (size_t)d->where : n - (size_t)(-d->where);
  assert_true(at < n);
  if (d->truncate) {
    n = at;
  } else {
    b[at] ^= 0x10;
  }
  assert_int_equal(pvt_write_file(path, b, n), 0);
  free(b);
}

typedef struct seen {
  int count;
  pv_status first;
  int named_record;
} seen;

static void collect(void *ctx, const char *file, int64_t record, const char *source, pv_status st,
                    const char *what) {
  seen *s = ctx;
  (void)file;
  (void)what;
  if (!s->count++) s->first = st;
  if (record >= 0 && source) s->named_record = 1;
}

static void test_corruption_matrix(void **state) {
  fixture *f = *state;
  char *clean = out_path(f, "clean");
  pv_build_options o;
  opts_quiet(&o);
  o.codec = PV_PACK_CODEC_RAW; /* payload layout is known: record 0 at 64 */
  o.shard_bytes = 1 << 20;
  o.shuffle = 0; /* record 0 is bird/img0.jpg, 200x180: 108000 bytes, padded */
  assert_int_equal(pv_build(f->src, clean, &o, NULL, NULL, 0), PV_OK);
  /* Locate a padding byte: the end of record 0's payload, if unaligned. */
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(clean, NULL, &ds, NULL, 0), PV_OK);
  pv_record r0, r1;
  pv_dataset_record(ds, 0, &r0);
  pv_dataset_record(ds, 1, &r1);
  int64_t pad = (int64_t)(64 + r0.length);
  int has_pad = r1.shard == 0 && (64 + r0.length) % 64 != 0;
  pv_dataset_close(ds);
  assert_true(has_pad);

  const damage cases[] = {
      {"index magic", "index.pvi", 0, 0, PV_ERR_NOT_PVPACK, PV_ERR_NOT_PVPACK},
      {"index header field", "index.pvi", 44, 0, PV_ERR_CHECKSUM, PV_ERR_CHECKSUM},
      {"index sections", "index.pvi", 300, 0, PV_ERR_CHECKSUM,
       PV_ERR_CHECKSUM},
      {"index trailer", "index.pvi", -1, 0, PV_ERR_TRUNCATED, PV_ERR_TRUNCATED},
      {"index truncated", "index.pvi", 200, 1, PV_ERR_TRUNCATED, PV_ERR_TRUNCATED},
      {"shard magic", "shard-00000.pvs", 1, 0, PV_ERR_NOT_PVPACK, PV_ERR_NOT_PVPACK},
      {"shard header", "shard-00000.pvs", 36, 0, PV_ERR_CHECKSUM, PV_ERR_CHECKSUM},
      {"record payload", "shard-00000.pvs", 64 + 5, 0, PV_OK, PV_ERR_CHECKSUM},
      {"record table", "shard-00000.pvs", -64 - 3, 0, PV_ERR_CHECKSUM, PV_ERR_CHECKSUM},
      {"shard footer", "shard-00000.pvs", -30, 0, PV_ERR_CHECKSUM, PV_ERR_CHECKSUM},
      {"shard end magic", "shard-00000.pvs", -2, 0, PV_ERR_TRUNCATED, PV_ERR_TRUNCATED},
      {"shard truncated mid-payload", "shard-00000.pvs", 100, 1, PV_ERR_TRUNCATED,
       PV_ERR_TRUNCATED},
      {"shard truncated in footer", "shard-00000.pvs", -10, 1, PV_ERR_TRUNCATED, PV_ERR_TRUNCATED},
      {"shard truncated to header", "shard-00000.pvs", 64, 1, PV_ERR_TRUNCATED, PV_ERR_TRUNCATED},
      {"shard empty", "shard-00000.pvs", 0, 1, PV_ERR_TRUNCATED, PV_ERR_TRUNCATED},
      {"padding", "shard-00000.pvs", pad, 0, PV_OK, PV_ERR_CORRUPT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const damage *d = &cases[i];
    char *dir = out_path(f, "damaged");
    pvt_rmrf(dir);
    pv_build_options o2 = o;
    o2.force = 1;
    assert_int_equal(pv_build(f->src, dir, &o2, NULL, NULL, 0), PV_OK);
    char *path = pvt_join(dir, d->file);
    flip_or_truncate(path, d);
    char err[512] = "";
    pv_dataset *x = NULL;
    pv_status st = pv_dataset_open(dir, NULL, &x, err, sizeof err);
    if (st != d->open_status)
      fail_msg("%s: open returned %s (%s), expected %s", d->name, pv_status_name(st), err,
               pv_status_name(d->open_status));
    if (st != PV_OK) {
      assert_null(x);
      assert_non_null(strstr(err, d->file)); /* the message names the file */
    } else if (d->verify_status == PV_ERR_CHECKSUM) {
      /* Structure intact, payload damaged: caught on read when asked. */
      pv_dataset_close(x);
      pv_open_options oo;
      pv_open_options_init(&oo);
      oo.verify_on_read = 1;
      assert_int_equal(pv_dataset_open(dir, &oo, &x, NULL, 0), PV_OK);
      pv_record r;
      assert_int_equal(pv_dataset_record(x, 0, &r), PV_ERR_CHECKSUM);
    }
    pv_dataset_close(x);
    seen s = {0, PV_OK, 0};
    pv_verify_options vo;
    pv_verify_options_init(&vo);
    vo.problem = collect;
    vo.ctx = &s;
    pv_verify_summary vs;
    st = pv_verify(dir, &vo, &vs);
    if (s.count == 0 || s.first != d->verify_status)
      fail_msg("%s: verify found %d problems, first %s, expected %s", d->name, s.count,
               pv_status_name(s.first), pv_status_name(d->verify_status));
    assert_int_equal(st, d->verify_status);
    assert_int_equal(vs.problems, (uint64_t)s.count);
    if (!strcmp(d->name, "record payload")) assert_true(s.named_record);
    free(path);
    pvt_rmrf(dir);
    free(dir);
  }
  /* A missing shard is damage too. */
  char *dir = out_path(f, "damaged");
  pv_build_options o2 = o;
  assert_int_equal(pv_build(f->src, dir, &o2, NULL, NULL, 0), PV_OK);
  char *path = pvt_join(dir, "shard-00000.pvs");
  unlink(path);
  pv_dataset *x = NULL;
  assert_int_equal(pv_dataset_open(dir, NULL, &x, NULL, 0), PV_ERR_NOT_FOUND);
  pv_verify_summary vs;
  pv_verify_options vo;
  pv_verify_options_init(&vo);
  vo.problem = collect;
  seen s = {0, PV_OK, 0};
  vo.ctx = &s;
  assert_int_equal(pv_verify(dir, &vo, &vs), PV_ERR_NOT_FOUND);
  assert_true(vs.problems > 0);
  pvt_rmrf(dir);
  free(dir);
  free(path);
  pvt_rmrf(clean);
  free(clean);
}

/* ---- the command line ---------------------------------------------------- */

static void test_cli(void **state) {
  fixture *f = *state;
  char *out = out_path(f, "cli");
  char *log = NULL;
  const char *b[] = {"build", f->src, "-o", out, "--threads", "2", "--quiet", NULL};
  assert_int_equal(pvt_run_cli(&log, b), 0);
  assert_non_null(strstr(log, "skipped"));
  free(log);
  const char *b2[] = {"build", f->src, "-o", out, NULL};
  assert_int_equal(pvt_run_cli(&log, b2), 2); /* exists */
  assert_non_null(strstr(log, "--force"));
  free(log);
  const char *b3[] = {"build", f->src, "-o", out, "--strict", "--force", NULL};
  assert_int_equal(pvt_run_cli(&log, b3), 1);
  free(log);
  /* The failed --force build left the previous dataset intact. */
  const char *v[] = {"verify", out, NULL};
  assert_int_equal(pvt_run_cli(&log, v), 0);
  assert_non_null(strstr(log, "OK"));
  free(log);
  const char *vj[] = {"verify", out, "--json", "--decode", NULL};
  assert_int_equal(pvt_run_cli(&log, vj), 0);
  assert_non_null(strstr(log, "\"ok\": true"));
  free(log);
  const char *ij[] = {"info", out, "--json", NULL};
  assert_int_equal(pvt_run_cli(&log, ij), 0);
  assert_non_null(strstr(log, "\"records\": 21"));
  assert_non_null(strstr(log, "\"classes\": [\"bird\", \"cat\", \"dog\"]"));
  free(log);
  char *img = out_path(f, "rec.img");
  const char *g[] = {"get", out, "3", "-o", img, NULL};
  assert_int_equal(pvt_run_cli(&log, g), 0);
  assert_non_null(strstr(log, "label"));
  assert_non_null(strstr(log, "source"));
  free(log);
  struct stat sb;
  assert_int_equal(stat(img, &sb), 0);
  assert_true(sb.st_size > 0);
  /* Damage -> exit 1 naming the shard; not a dataset -> exit 2. */
  char *shard = pvt_join(out, "shard-00000.pvs");
  damage d = {"", "", 70, 0, PV_OK, PV_OK};
  flip_or_truncate(shard, &d);
  assert_int_equal(pvt_run_cli(&log, v), 1);
  assert_non_null(strstr(log, "shard-00000.pvs"));
  free(log);
  const char *vm[] = {"verify", img, NULL};
  assert_int_equal(pvt_run_cli(&log, vm), 2);
  free(log);
  const char *bad[] = {"build", NULL};
  assert_int_equal(pvt_run_cli(&log, bad), 2);
  free(log);
  free(shard);
  free(img);
  pvt_rmrf(out);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_and_read_back),
      cmocka_unit_test(test_deterministic_across_threads),
      cmocka_unit_test(test_lossless_codecs_exact),
      cmocka_unit_test(test_source_order),
      cmocka_unit_test(test_progress_callback),
      cmocka_unit_test(test_strict_exists_force_cancel),
      cmocka_unit_test(test_options_and_limits),
      cmocka_unit_test(test_jpeg_restart_markers),
      cmocka_unit_test(test_auto_codec),
      cmocka_unit_test(test_corruption_matrix),
      cmocka_unit_test(test_cli),
  };
  return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
