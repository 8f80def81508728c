/* gen_dataset.c - writes a synthetic, valid pvpack dataset of many tiny raw
 * RGB records, for the open-time and resident-memory benchmark (open_bench).
 *
 * Shards are laid out by format/'s shard writer (pv_shard_writer: payload 0
 * at offset 64, payload j+1 at align64(end of payload j), the record table
 * at align64(end of the last payload), the footer right after the table,
 * the header rewritten last), which also gives each shard's reference for
 * the index (pv_index_encode).
 *
 * Records: global record i has label i % CLASSES and SIDE x SIDE pixels of
 * pseudo-random RGB (codec raw), path "cNNNNN/NNNNNNNNN.raw". Shards hold
 * contiguous, near-equal record ranges.
 *
 * Memory: payloads are streamed; the writer keeps the record table of the
 * open shard (40 bytes per record of that shard, its buffer reused for the
 * next). The index is encoded in memory by pv_index_encode, which needs
 * every record path: 44 bytes per record for the path strings (32-byte
 * slots), their pointers and labels, plus the encoded index (16 bytes per
 * record + strings), which comes after the shards and the writer are gone:
 * peak RSS ~80 MB for a million records in 4 shards (measured 80.5 MB with
 * /usr/bin/time; the table of a 250,000-record shard is 10 MB).
 *
 * usage: gen_dataset OUT_DIR [--records N] [--classes C] [--shards S]
 *                            [--side PX] [--seed X]
 *   defaults: 1000000 records, 1000 classes, 4 shards, 8 px, seed 1.
 *   OUT_DIR is created (it must not exist). Verify with `pvpack verify OUT_DIR`.
 * Built by bench/CMakeLists.txt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "pv_format.h"

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void die(const char *what, const char *path) {
  fprintf(stderr, "gen_dataset: %s %s: %s\n", what, path, strerror(errno));
  exit(2);
}

static void put(FILE *f, const void *p, size_t n, const char *path) {
  if (n && fwrite(p, 1, n, f) != n) die("writing", path);
}

static uint64_t arg_u64(const char *s, const char *name) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || !*s) {
    fprintf(stderr, "gen_dataset: bad %s: %s\n", name, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  const char *out = NULL;
  uint64_t n = 1000000, classes = 1000, shards = 4, side = 8, seed = 1;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && !strcmp(argv[i], "--records")) n = arg_u64(argv[++i], "--records");
    else if (i + 1 < argc && !strcmp(argv[i], "--classes")) classes = arg_u64(argv[++i], "--classes");
    else if (i + 1 < argc && !strcmp(argv[i], "--shards")) shards = arg_u64(argv[++i], "--shards");
    else if (i + 1 < argc && !strcmp(argv[i], "--side")) side = arg_u64(argv[++i], "--side");
    else if (i + 1 < argc && !strcmp(argv[i], "--seed")) seed = arg_u64(argv[++i], "--seed");
    else if (argv[i][0] != '-' && !out) out = argv[i];
    else {
      fprintf(stderr, "usage: gen_dataset OUT_DIR [--records N] [--classes C] [--shards S] "
                      "[--side PX] [--seed X]\n");
      return 2;
    }
  }
  if (!out || n == 0 || n > PV_MAX_RECORDS || classes == 0 || classes > PV_MAX_CLASSES ||
      shards == 0 || shards > PV_MAX_SHARDS || shards > n || side == 0 || side > 4096 ||
      n / shards >= UINT32_MAX) {
    fprintf(stderr, "gen_dataset: bad arguments (see the usage in the source)\n");
    return 2;
  }
  if (mkdir(out, 0777) != 0) die("creating", out);

  const uint32_t len = (uint32_t)(side * side * 3);
  const uint64_t dataset_id = XXH3_64bits_withSeed(&n, sizeof n, seed ^ (classes << 20) ^ shards);
  pv_shard_ref *refs = calloc(shards, sizeof *refs);
  uint8_t *payload = malloc(len);
  char path[4096];
  if (!refs || !payload) die("allocating", "memory");
  uint64_t rng = seed;

  pv_shard_writer *w = NULL;
  if (pv_shard_writer_create(&w) != PV_OK) die("allocating", "memory");
  static const uint8_t zero[PV_RECORD_ALIGN];
  for (uint64_t k = 0; k < shards; k++) {
    uint64_t first = n * k / shards, count = n * (k + 1) / shards - first;
    snprintf(path, sizeof path, "%s/" PV_SHARD_NAME_FMT, out, (unsigned)k);
    FILE *f = fopen(path, "wb");
    if (!f) die("creating", path);
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    uint8_t hb[PV_SHARD_HEADER_SIZE];
    pv_shard_writer_begin(w, dataset_id, (uint32_t)k, first, hb);
    put(f, hb, sizeof hb, path);
    for (uint64_t j = 0; j < count; j++) {
      uint64_t i = first + j;
      for (uint32_t b = 0; b < len; b += 8) {
        uint64_t r = splitmix(&rng);
        memcpy(payload + b, &r, len - b < 8 ? len - b : 8);
      }
      pv_record_entry e = {0, len, (uint32_t)(i % classes), (uint32_t)side, (uint32_t)side,
                           PV_CODEC_RAW, 3, 0, 0};
      uint32_t pad;
      pv_status st = pv_shard_writer_append(w, &e, payload, &pad);
      if (st != PV_OK) {
        fprintf(stderr, "gen_dataset: %s: %s\n", path, pv_strerror(st));
        return 2;
      }
      put(f, zero, pad, path);
      put(f, payload, len, path);
    }
    pv_shard_tail t;
    pv_shard_writer_finish(w, &t);
    put(f, zero, t.pad, path);
    put(f, t.table, t.table_size, path);
    put(f, t.footer, sizeof t.footer, path);
    if (fseeko(f, 0, SEEK_SET) != 0) die("seeking", path);
    put(f, t.header, sizeof t.header, path);
    if (fclose(f) != 0) die("closing", path);
    refs[k] = t.ref;
  }
  pv_shard_writer_destroy(w);

  /* The index: class names, counts, one path and label per record. */
  char **cnames = malloc(classes * sizeof *cnames);
  char *cstr = malloc(classes * 16);
  uint64_t *ccounts = calloc(classes, sizeof *ccounts);
  const char **paths = malloc(n * sizeof *paths);
  uint32_t *labels = malloc(n * sizeof *labels);
  char *pstr = malloc(n * 32); /* "cNNNNN/NNNNNNNNN.raw\0", 21 bytes up to 10^9 */
  if (!cnames || !cstr || !ccounts || !paths || !labels || !pstr) die("allocating", "memory");
  for (uint64_t c = 0; c < classes; c++) {
    cnames[c] = cstr + c * 16;
    snprintf(cnames[c], 16, "c%05u", (unsigned)c);
  }
  for (uint64_t i = 0; i < n; i++) {
    labels[i] = (uint32_t)(i % classes);
    ccounts[labels[i]]++;
    paths[i] = pstr + i * 32;
    snprintf(pstr + i * 32, 32, "c%05u/%09llu.raw", labels[i], (unsigned long long)i);
  }
  char opts[512];
  snprintf(opts, sizeof opts,
           "tool=gen_dataset (pvpack bench)\nformat=%d.%d\nrecords=%llu\nclasses=%llu\n"
           "shards=%llu\nside=%llu\ncodec=raw\nseed=%llu\n",
           PV_FORMAT_VERSION_MAJOR, PV_FORMAT_VERSION_MINOR, (unsigned long long)n,
           (unsigned long long)classes, (unsigned long long)shards, (unsigned long long)side,
           (unsigned long long)seed);
  pv_index_input in = {0};
  in.dataset_id = dataset_id;
  in.shard_count = (uint32_t)shards;
  in.shards = refs;
  in.class_count = (uint32_t)classes;
  in.class_names = (const char *const *)cnames;
  in.class_record_counts = ccounts;
  in.record_count = n;
  in.record_paths = paths;
  in.record_labels = labels;
  in.options = opts;
  in.skipped = "";
  in.skipped_count = 0;
  uint64_t isz = pv_index_encoded_size(&in);
  uint8_t *ib = isz ? malloc((size_t)isz) : NULL;
  if (!ib) die("allocating", "index");
  pv_status st = pv_index_encode(&in, ib, isz);
  if (st != PV_OK) {
    fprintf(stderr, "gen_dataset: pv_index_encode: %s\n", pv_strerror(st));
    return 2;
  }
  snprintf(path, sizeof path, "%s/%s", out, PV_INDEX_FILENAME);
  FILE *f = fopen(path, "wb");
  if (!f) die("creating", path);
  put(f, ib, (size_t)isz, path);
  if (fclose(f) != 0) die("closing", path);
  uint64_t total = isz;
  for (uint64_t k = 0; k < shards; k++) total += refs[k].file_size;
  printf("gen_dataset: %s: %llu records, %llu classes, %llu shards, %llux%llu raw, "
         "%.1f MB (index %.1f MB)\n",
         out, (unsigned long long)n, (unsigned long long)classes, (unsigned long long)shards,
         (unsigned long long)side, (unsigned long long)side, total / 1e6, isz / 1e6);
  free(ib);
  free(pstr);
  free(labels);
  free(paths);
  free(ccounts);
  free(cstr);
  free(cnames);
  free(refs);
  free(payload);
  return 0;
}
