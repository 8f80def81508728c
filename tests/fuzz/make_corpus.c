/* make_corpus.c - writes the seed corpora in tests/fuzz/corpus/ (valid
 * files built with the format/ encoders, the worked example of
 * spec/FORMAT.md among them, plus a few damaged ones).
 *
 *   make_corpus tests/fuzz/corpus      # from the source root
 *
 * The output is deterministic; rerun it when the format changes. Crash
 * inputs found by libFuzzer are added to the corpus by hand (crash-*).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"
#include "pv_format.h"

typedef struct rec {
  uint8_t codec;
  uint16_t flags;
  uint32_t width, height, label, length;
} rec;

static uint8_t *xcalloc(size_t n) {
  uint8_t *p = calloc(1, n ? n : 1);
  if (!p) {
    fprintf(stderr, "make_corpus: out of memory\n");
    exit(1);
  }
  return p;
}

/* A shard laid out by format/'s shard writer (through tests/hostile.c's
 * pvh_encode_shard, as tests/test_format.c's build_shard); payload bytes
 * are a simple pattern. */
static uint8_t *shard(const rec *r, uint32_t n, uint64_t dataset_id, uint32_t index,
                      uint64_t first, size_t *size, uint64_t *fsum) {
  pvh_record *hr = (pvh_record *)xcalloc((size_t)n * sizeof *hr);
  uint8_t **pay = (uint8_t **)xcalloc((size_t)n * sizeof *pay);
  for (uint32_t i = 0; i < n; i++) {
    pay[i] = xcalloc(r[i].length);
    for (uint32_t j = 0; j < r[i].length; j++) pay[i][j] = (uint8_t)(j * 7 + i);
    hr[i] = (pvh_record){r[i].codec, r[i].flags, 3, r[i].width, r[i].height, r[i].label,
                         r[i].label, pay[i], r[i].length, NULL};
  }
  pv_shard_ref ref;
  uint8_t *f = pvh_encode_shard(hr, n, dataset_id, index, first, size, &ref);
  if (!f) exit(1);
  if (fsum) *fsum = ref.footer_checksum;
  for (uint32_t i = 0; i < n; i++) free(pay[i]);
  free(pay);
  free(hr);
  return f;
}

static const char *outdir;

static void put(const char *sub, const char *name, const uint8_t *p, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "make_corpus: cannot write %s\n", path);
    exit(1);
  }
}

static uint8_t *index_of(const pv_index_input *in, size_t *n) {
  uint64_t sz = pv_index_encoded_size(in);
  uint8_t *f = xcalloc((size_t)sz);
  if (sz == 0 || pv_index_encode(in, f, sz) != PV_OK) {
    fprintf(stderr, "make_corpus: index encode failed\n");
    exit(1);
  }
  *n = (size_t)sz;
  return f;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_corpus CORPUS_DIR (holding index/ and shard/)\n");
    return 2;
  }
  outdir = argv[1];
  size_t n;
  uint64_t fsum;

  /* ---- shards ---- */
  const rec ex[2] = {{PV_CODEC_RAW, 0, 2, 1, 1, 6}, {PV_CODEC_RAW, 0, 1, 1, 0, 3}};
  uint8_t *s = shard(ex, 2, 0x0123456789abcdefull, 0, 0, &n, &fsum);
  /* The worked example's payloads exactly. */
  static const uint8_t rg[6] = {0xff, 0, 0, 0, 0xff, 0}, b[3] = {0, 0, 0xff};
  memcpy(s + 64, rg, 6);
  memcpy(s + 128, b, 3);
  pv_store64(s + 192 + 32, pv_checksum(rg, 6));
  pv_store64(s + 232 + 32, pv_checksum(b, 3));
  pvh_reseal_shard(s, n);
  const size_t ex_size = n;
  const uint64_t ex_fsum = pv_load64(s + n - 16);
  put("shard", "example.pvs", s, n);
  put("shard", "trunc-footer.pvs", s, n - 10);
  s[200] ^= 0x04;
  put("shard", "flipped-table.pvs", s, n);
  s[200] ^= 0x04;
  pv_store32(s + 16, 1);
  pvh_reseal_shard(s, n);
  put("shard", "incompat.pvs", s, n);
  free(s);

  s = shard(NULL, 0, 1, 3, 10, &n, NULL);
  put("shard", "empty.pvs", s, n);
  free(s);

  const rec codecs[5] = {{PV_CODEC_RAW, 0, 8, 8, 0, 192},
                         {PV_CODEC_JPEG, PV_RECORD_FLAG_ORIGINAL, 300, 200, 1, 65},
                         {PV_CODEC_ZSTD, 0, 16, 16, 2, 1},
                         {PV_CODEC_JPEG, 0, PV_MAX_DIM, PV_MAX_DIM, 3, 64},
                         {PV_CODEC_RAW, 0, 1, 1, 4, 3}};
  s = shard(codecs, 5, 42, 1, 7, &n, NULL);
  put("shard", "codecs.pvs", s, n);
  free(s);

  /* A label no index can match (the reader compares shard and index labels
   * at open and on every access). */
  const rec maxlabel[2] = {{PV_CODEC_RAW, 0, 1, 1, 0, 3}, {PV_CODEC_RAW, 0, 1, 1, 0xFFFFFFFFu, 3}};
  s = shard(maxlabel, 2, 9, 0, 0, &n, NULL);
  put("shard", "label-max.pvs", s, n);
  free(s);

  /* ---- indexes ---- */
  const pv_shard_ref ref = {ex_size, 0, 2, ex_fsum};
  static const char *const classes[2] = {"a", "b"};
  static const uint64_t class_counts[2] = {1, 1};
  static const char *const paths[2] = {"b/x.png", "a/y.png"};
  static const uint32_t labels[2] = {1, 0};
  pv_index_input in = {0x0123456789abcdefull, 1, &ref, 2, classes, class_counts, 2, paths, labels,
                       "k=v\n", "", 0};
  uint8_t *x = index_of(&in, &n);
  put("index", "example.pvi", x, n);
  put("index", "trunc.pvi", x, n - 3);
  pv_store32(x + 336 + 12, 2); /* label 2 of 2 classes */
  pvh_reseal_index(x, n);
  put("index", "bad-label.pvi", x, n);
  free(x);

  pv_index_input empty = {5, 0, NULL, 0, NULL, NULL, 0, NULL, NULL, "", "", 0};
  x = index_of(&empty, &n);
  put("index", "empty.pvi", x, n);
  free(x);

  /* Nine shards, some empty, three classes, skipped inputs. */
  const uint32_t counts[9] = {0, 3, 0, 2, 0, 0, 4, 1, 0};
  pv_shard_ref refs[9];
  const char *rp[10];
  uint32_t rl[10];
  uint64_t first = 0;
  for (int k = 0; k < 9; k++) {
    refs[k] = (pv_shard_ref){128 + 104 * (uint64_t)counts[k], first, counts[k], 0x1000u + (unsigned)k};
    first += counts[k];
  }
  static const char *const names[10] = {"cat/1.jpg", "cat/2.jpg", "dog/a.png", "dog/b.png",
                                        "dog/c.png", "eel/x.webp", "eel/y.tif", "eel/z.jpg",
                                        "eel/w.jpg", "cat/3.jpeg"};
  for (int i = 0; i < 10; i++) {
    rp[i] = names[i];
    rl[i] = names[i][0] == 'c' ? 0u : names[i][0] == 'd' ? 1u : 2u;
  }
  static const char *const cls[3] = {"cat", "dog", "eel"};
  static const uint64_t cc[3] = {3, 3, 4};
  pv_index_input many = {77, 9, refs, 3, cls, cc, 10, rp, rl,
                         "tool=pvpack 0.1.0\nformat=1.0\ncodec=raw\n",
                         "bad/1.jpg\tnot an image\nbig/2.png\ttoo many pixels\n", 2};
  x = index_of(&many, &n);
  put("index", "shards.pvi", x, n);
  free(x);

  /* Per-class counts that sum right but disagree with the records' labels
   * (pv_index_check_class_counts). */
  static const uint64_t cc_wrong[3] = {4, 3, 3};
  many.class_record_counts = cc_wrong;
  x = index_of(&many, &n);
  put("index", "wrong-class-counts.pvi", x, n);
  /* More shards than PV_MAX_SHARDS claimed in the header (resealed):
   * refused from the header alone. */
  pv_store32(x + 48, PV_MAX_SHARDS + 1);
  pvh_reseal_index(x, n);
  put("index", "too-many-shards.pvi", x, n);
  free(x);
  many.class_record_counts = cc;

  refs[3].first_record += 1; /* a gap between shard 2 and 3 */
  x = index_of(&many, &n);
  put("index", "noncontiguous.pvi", x, n);
  free(x);
  return 0;
}
