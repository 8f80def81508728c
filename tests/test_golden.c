/* test_golden.c - the bytes a build writes and the batches the loader makes,
 * pinned by hash, so that a refactoring that must not change behaviour
 * (issue 10: the move to image/, codec/, programs/, the shard writer, the
 * codec table) is checked byte for byte.
 *
 * The expected values were recorded on main at 82701ab (before issue 9 and
 * 10) by running this suite with PV_GOLDEN_PRINT=1. A build is hashed whole
 * except what depends on where the source tree lies (the absolute source
 * path in the options section and the dataset_id derived from it, with the
 * checksums that cover them): every payload, padding byte, record table,
 * shard header field, shard reference, class, path, label and option line.
 * If a change is meant to alter these bytes, it bumps the format version
 * and records new values in the same commit, saying why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv_format.h"
#include "pv_pack.h"
#include "pvpack.h"
#include "testutil.h"

#define XXH_INLINE_ALL
#include "xxhash.h"

static int print_mode(void) { return getenv("PV_GOLDEN_PRINT") != NULL; }

static void check(const char *what, uint64_t got, uint64_t want) {
  if (print_mode()) {
    printf("GOLDEN %-28s 0x%016llxull\n", what, (unsigned long long)got);
    return;
  }
  if (got != want)
    fprintf(stderr, "%s: got 0x%016llxull, want 0x%016llxull\n", what, (unsigned long long)got,
            (unsigned long long)want);
  assert_true(got == want);
}

static void upd64(XXH3_state_t *h, uint64_t v) {
  uint8_t b[8];
  pv_store64(b, v);
  XXH3_64bits_update(h, b, 8);
}

/* Hash of a dataset directory's bytes minus the location-dependent ones. */
static uint64_t dataset_hash(const char *dir) {
  XXH3_state_t *h = XXH3_createState();
  assert_non_null(h);
  XXH3_64bits_reset(h);
  char *p = pvt_join(dir, PV_INDEX_FILENAME);
  size_t n;
  uint8_t *ix = pvt_read_file(p, &n);
  free(p);
  assert_non_null(ix);
  pv_index_view v;
  assert_int_equal(pv_index_validate(ix, n, &v, NULL, 0), PV_OK);
  upd64(h, v.header.version_major * 65536ull + v.header.version_minor);
  upd64(h, v.header.record_count);
  upd64(h, v.header.shard_count);
  upd64(h, v.header.class_count);
  upd64(h, v.header.skipped_count);
  static const pv_section_id whole[] = {PV_SEC_CLASSES, PV_SEC_RECORDS, PV_SEC_STRINGS,
                                        PV_SEC_SKIPPED};
  for (size_t s = 0; s < sizeof whole / sizeof *whole; s++) {
    const pv_section *sec = &v.header.sections[whole[s]];
    upd64(h, sec->size);
    XXH3_64bits_update(h, ix + sec->offset, (size_t)sec->size);
  }
  uint64_t olen;
  const char *opt = pv_index_section_text(&v, PV_SEC_OPTIONS, &olen);
  for (const char *l = opt, *end = opt + olen; l < end;) {
    const char *nl = memchr(l, '\n', (size_t)(end - l));
    size_t ll = nl ? (size_t)(nl - l) + 1 : (size_t)(end - l);
    if (strncmp(l, "source=", 7) != 0) XXH3_64bits_update(h, l, ll);
    l += ll;
  }
  for (uint32_t k = 0; k < v.header.shard_count; k++) {
    pv_shard_ref r;
    pv_index_shard(&v, k, &r);
    upd64(h, r.file_size);
    upd64(h, r.first_record);
    upd64(h, r.record_count);
    char name[64];
    snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
    p = pvt_join(dir, name);
    size_t sn;
    uint8_t *sh = pvt_read_file(p, &sn);
    free(p);
    assert_non_null(sh);
    pv_shard_view sv;
    assert_int_equal(pv_shard_validate(sh, sn, &sv, NULL, 0), PV_OK);
    upd64(h, sv.header.shard_index);
    upd64(h, sv.header.record_count);
    upd64(h, sv.header.first_record);
    upd64(h, sv.footer.table_offset);
    /* payloads, padding and the record table: everything between header
     * and footer */
    XXH3_64bits_update(h, sh + PV_SHARD_HEADER_SIZE,
                       sn - PV_SHARD_HEADER_SIZE - PV_SHARD_FOOTER_SIZE);
    free(sh);
  }
  free(ix);
  uint64_t d = XXH3_64bits_digest(h);
  XXH3_freeState(h);
  return d;
}

typedef struct golden_fixture {
  char *root, *src;
} golden_fixture;

static int setup(void **state) {
  golden_fixture *f = calloc(1, sizeof *f);
  f->root = pvt_mkdtemp("golden");
  f->src = pvt_join(f->root, "src");
  /* JPEGs of varied sizes (some above 256 on the shorter side: resized and
   * re-encoded; some below: kept byte for byte), plus PNGs. */
  if (pvt_write_jpeg_tree(f->src, 30, 3, 60, 420, 50, 380, 90) != 0) return -1;
  char *p = pvt_join(f->src, "class1/extra.png");
  if (pvt_write_png(p, 300, 200, 77) != 0) return -1;
  free(p);
  p = pvt_join(f->src, "class2/small.png");
  if (pvt_write_png(p, 40, 30, 78) != 0) return -1;
  free(p);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  golden_fixture *f = *state;
  pvt_rmrf(f->root);
  free(f->root);
  free(f->src);
  free(f);
  return 0;
}

static char *build(golden_fixture *f, const char *name, int codec, uint64_t shard_bytes) {
  char *out = pvt_join(f->root, name);
  assert_int_equal(pvt_build_quiet(f->src, out, codec, shard_bytes), PV_OK);
  return out;
}

static void test_build_bytes(void **state) {
  golden_fixture *f = *state;
  static const struct {
    const char *name;
    int codec;
    uint64_t shard;
    uint64_t want;
  } cases[] = {
      /* jpeg, jpeg-shards and auto re-recorded in issue 13 (previously
       * 0x1956e4360c75023b, 0xba5e88e7769d3a29, 0xb3c7be4e5872b10b): the
       * encoder's restart interval is now at most a sixteenth of the MCU row
       * (pv__jpeg_restart_interval), so these narrow test images carry a
       * restart marker after every MCU. Only the entropy-coded bytes
       * changed: the coefficients, hence every decoded pixel, are the same,
       * which test_loader_batches checks (its hashes, of batches decoded
       * from these builds, are unchanged). The format is unchanged. */
      {"jpeg", PV_PACK_CODEC_JPEG, 0, 0x1fa39409863410adull},
      {"jpeg-shards", PV_PACK_CODEC_JPEG, 64 << 10, 0x35d26ae870cf87d7ull},
      {"raw", PV_PACK_CODEC_RAW, 0, 0x732c62f67cf9018aull},
      {"zstd", PV_PACK_CODEC_ZSTD, 256 << 10, 0xb6d37b77d5fc36d3ull},
      {"auto", PV_PACK_CODEC_AUTO, 0, 0x6830ef156ec2c65full},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *out = build(f, cases[i].name, cases[i].codec, cases[i].shard);
    char what[64];
    snprintf(what, sizeof what, "build %s", cases[i].name);
    check(what, dataset_hash(out), cases[i].want);
    pvt_rmrf(out);
    free(out);
  }
}

/* Hash of every batch of two epochs: images of the valid samples, labels,
 * record numbers. */
static uint64_t loader_hash(pv_dataset *ds, const pv_loader_options *o) {
  pv_loader *l;
  char err[256];
  assert_int_equal(pv_loader_create(ds, o, &l, err, sizeof err), PV_OK);
  XXH3_state_t *h = XXH3_createState();
  XXH3_64bits_reset(h);
  for (uint64_t e = 0; e < 2; e++) {
    assert_int_equal(pv_loader_set_epoch(l, e, 0), PV_OK);
    pv_batch *b;
    while (pv_loader_next(l, &b) == PV_OK && b) {
      size_t per = b->images_bytes / b->batch_size;
      /* Each sample is contiguous in both layouts (NCHW is per-sample
       * CHW), so the first count samples are the first per*count bytes. */
      XXH3_64bits_update(h, b->images, per * b->count);
      for (uint32_t i = 0; i < b->count; i++) {
        upd64(h, (uint64_t)b->labels[i]);
        upd64(h, b->records[i]);
      }
      pv_loader_release(l, b);
    }
  }
  pv_loader_destroy(l);
  uint64_t d = XXH3_64bits_digest(h);
  XXH3_freeState(h);
  return d;
}

enum { ACCURATE = 0, FAST = 1, AUTO = 2 };

static void test_loader_batches(void **state) {
  golden_fixture *f = *state;
  char *out = build(f, "loader", PV_PACK_CODEC_JPEG, 64 << 10);
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(out, NULL, &ds, NULL, 0), PV_OK);
  static const struct {
    const char *name;
    pv_pipeline pipe;
    pv_dtype dtype;
    pv_layout layout;
    int threads;
    uint64_t want;
    uint32_t w, h; /* 0: 80 x 96 */
    int filter;    /* 0: the default (bilinear) */
    int jpeg;      /* 0: jpeg_decode=accurate (every hash recorded before
                      issue 13's fast mode, pinned unchanged); FAST, AUTO */
  } cases[] = {
      {"loader train u8", PV_PIPELINE_TRAIN, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0x04daeefebe85ba40ull, 0, 0, 0, ACCURATE},
      {"loader train u8 1 thread", PV_PIPELINE_TRAIN, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 1, 0x04daeefebe85ba40ull, 0, 0, 0, ACCURATE},
      {"loader train f32 nchw", PV_PIPELINE_TRAIN, PV_DTYPE_FLOAT32, PV_LAYOUT_NCHW, 2, 0x2513961edbd98858ull, 0, 0, 0, ACCURATE},
      {"loader eval u8", PV_PIPELINE_EVAL, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0xd38b74f855fe95acull, 0, 0, 0, ACCURATE},
      {"loader none u8", PV_PIPELINE_NONE, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0x8da8253e244d7521ull, 0, 0, 0, ACCURATE},
      /* Issue 13 (batches written in their final dtype and layout by the
       * resampler): every dtype/layout of every pipeline, odd sizes (the
       * vector loops' tails) and each filter, recorded on main at f85748d
       * before that change. */
      {"loader train u8 nchw", PV_PIPELINE_TRAIN, PV_DTYPE_UINT8, PV_LAYOUT_NCHW, 2, 0xbed20ab14239e28dull, 0, 0, 0, ACCURATE},
      {"loader train f32 nhwc", PV_PIPELINE_TRAIN, PV_DTYPE_FLOAT32, PV_LAYOUT_NHWC, 2, 0x408a20c6c04dde93ull, 0, 0, 0, ACCURATE},
      {"loader train f32 nchw 1 thread", PV_PIPELINE_TRAIN, PV_DTYPE_FLOAT32, PV_LAYOUT_NCHW, 1, 0x2513961edbd98858ull, 0, 0, 0, ACCURATE},
      {"loader train f32 nchw 83x61 bicubic", PV_PIPELINE_TRAIN, PV_DTYPE_FLOAT32, PV_LAYOUT_NCHW, 2, 0x8770b3933a49e40dull, 83, 61, PV_FILTER_BICUBIC, ACCURATE},
      {"loader train f32 nchw 83x61 lanczos", PV_PIPELINE_TRAIN, PV_DTYPE_FLOAT32, PV_LAYOUT_NCHW, 2, 0xde2a05a5e2ff07fcull, 83, 61, PV_FILTER_LANCZOS, ACCURATE},
      {"loader train f32 nhwc 83x61", PV_PIPELINE_TRAIN, PV_DTYPE_FLOAT32, PV_LAYOUT_NHWC, 2, 0x6c8e9e6e67848660ull, 83, 61, 0, ACCURATE},
      {"loader train u8 nchw 83x61", PV_PIPELINE_TRAIN, PV_DTYPE_UINT8, PV_LAYOUT_NCHW, 2, 0x8f8b5ec86d01ed42ull, 83, 61, 0, ACCURATE},
      {"loader train u8 83x61", PV_PIPELINE_TRAIN, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0x2a34220a93ed250dull, 83, 61, 0, ACCURATE},
      {"loader eval f32 nchw", PV_PIPELINE_EVAL, PV_DTYPE_FLOAT32, PV_LAYOUT_NCHW, 2, 0xd8dbed49e46a2977ull, 0, 0, 0, ACCURATE},
      {"loader eval f32 nhwc", PV_PIPELINE_EVAL, PV_DTYPE_FLOAT32, PV_LAYOUT_NHWC, 2, 0xa90fb16fad042bcdull, 0, 0, 0, ACCURATE},
      {"loader eval u8 nchw", PV_PIPELINE_EVAL, PV_DTYPE_UINT8, PV_LAYOUT_NCHW, 2, 0xa55acb2b1b1e7f9eull, 0, 0, 0, ACCURATE},
      {"loader none f32 nchw", PV_PIPELINE_NONE, PV_DTYPE_FLOAT32, PV_LAYOUT_NCHW, 2, 0x3ed69404a5f3dc21ull, 0, 0, 0, ACCURATE},
      {"loader none u8 nchw", PV_PIPELINE_NONE, PV_DTYPE_UINT8, PV_LAYOUT_NCHW, 2, 0x1501f99005a438ddull, 0, 0, 0, ACCURATE},
      /* Issue 13's jpeg_decode=fast (libjpeg's fast IDCT and plain
       * upsampling), recorded when it was added: its own bytes, the same at
       * any thread count; auto is fast for train (the default) and
       * accurate for eval and none (the hashes above). */
      {"loader train u8 fast", PV_PIPELINE_TRAIN, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0xf6336a3f31ffabb5ull, 0, 0, 0, FAST},
      {"loader train u8 fast 1 thread", PV_PIPELINE_TRAIN, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 1, 0xf6336a3f31ffabb5ull, 0, 0, 0, FAST},
      {"loader train u8 auto", PV_PIPELINE_TRAIN, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0xf6336a3f31ffabb5ull, 0, 0, 0, AUTO},
      {"loader train f32 nchw fast", PV_PIPELINE_TRAIN, PV_DTYPE_FLOAT32, PV_LAYOUT_NCHW, 2, 0xb4750798b7d0c774ull, 0, 0, 0, FAST},
      {"loader train f32 nchw 83x61 fast", PV_PIPELINE_TRAIN, PV_DTYPE_FLOAT32, PV_LAYOUT_NCHW, 2, 0xb9525339e35fd186ull, 83, 61, 0, FAST},
      {"loader eval u8 fast", PV_PIPELINE_EVAL, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0x85093f2da6487f03ull, 0, 0, 0, FAST},
      {"loader eval u8 auto", PV_PIPELINE_EVAL, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0xd38b74f855fe95acull, 0, 0, 0, AUTO},
      {"loader none u8 fast", PV_PIPELINE_NONE, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0x0316b67c7c0da600ull, 0, 0, 0, FAST},
      {"loader none u8 auto", PV_PIPELINE_NONE, PV_DTYPE_UINT8, PV_LAYOUT_NHWC, 2, 0x8da8253e244d7521ull, 0, 0, 0, AUTO},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    pv_loader_options o;
    pv_loader_options_init(&o);
    o.batch_size = 7;
    o.height = cases[i].h ? cases[i].h : 96;
    o.width = cases[i].w ? cases[i].w : 80;
    if (cases[i].filter) o.filter = cases[i].filter;
    o.eval_resize = 112;
    o.pipeline = cases[i].pipe;
    o.dtype = cases[i].dtype;
    o.layout = cases[i].layout;
    o.threads = cases[i].threads;
    o.seed = 1234;
    o.rank = 0;
    o.world_size = 1;
    o.jpeg_decode = cases[i].jpeg == FAST   ? PV_JPEG_DECODE_FAST
                    : cases[i].jpeg == AUTO ? PV_JPEG_DECODE_AUTO
                                            : PV_JPEG_DECODE_ACCURATE;
    check(cases[i].name, loader_hash(ds, &o), cases[i].want);
  }
  pv_dataset_close(ds);
  pvt_rmrf(out);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_bytes),
      cmocka_unit_test(test_loader_batches),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
