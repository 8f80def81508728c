/* test_format.c - the on-disk format v1 (format/), tied to spec/FORMAT.md.
 *
 * 1. The worked example: a fixed two-record shard and its index are built
 *    with the format/ encoders, dumped in `hexdump -Cv` form and compared
 *    byte for byte with the blocks between the marker lines in
 *    spec/FORMAT.md. Run with PV_REGEN_SPEC=1 to print fresh blocks instead
 *    of comparing (paste them over the old ones).
 * 2. Round trips of every encoder/decoder pair.
 * 3. Golden negative cases, each mapped to its exact status.
 * 4. Every single-bit flip and every truncation of the example files is
 *    rejected (every byte the format defines is covered by something).
 * 5. Reserved bytes (non-zero: rejected) against unused bytes and the
 *    index's extension area (ignored: what a later minor version may fill),
 *    and the incompatible flag bit of a new codec (spec/FORMAT.md 1, 4.1,
 *    3.6).
 *
 * The spec is found through $PV_SOURCE_DIR, else the compile-time macro
 * PV_SOURCE_DIR (tests/CMakeLists.txt defines it as the source root).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"
#include "pv_format.h"
#include "testutil.h"

#ifndef PV_SOURCE_DIR
#define PV_SOURCE_DIR "."
#endif

#define EXAMPLE_DATASET_ID 0x0123456789abcdefull

/* ---- builders --------------------------------------------------------------- */

typedef struct ex_record {
  uint8_t codec;
  uint16_t flags;
  uint32_t width, height, label;
  const uint8_t *payload;
  uint32_t length;
} ex_record;

/* A shard of records r[0..n), laid out by format/'s shard writer
 * (pv_shard_writer, through tests/hostile.c's pvh_encode_shard): payload 0
 * at 64, each next one at align64(previous end), zero padding, the table at
 * align64(last end), the footer right after it (spec/FORMAT.md 3.2; the
 * worked-example test below ties these bytes to the spec). Returns a
 * malloc'ed file. */
static uint8_t *build_shard(const ex_record *r, uint32_t n, uint64_t dataset_id,
                            uint32_t shard_index, uint64_t first_record, size_t *size_out,
                            uint64_t *footer_checksum_out) {
  pvh_record *hr = calloc(n ? n : 1, sizeof *hr);
  assert_non_null(hr);
  for (uint32_t i = 0; i < n; i++) {
    hr[i].codec = r[i].codec;
    hr[i].flags = r[i].flags;
    hr[i].width = r[i].width;
    hr[i].height = r[i].height;
    hr[i].label = r[i].label;
    hr[i].payload = r[i].payload;
    hr[i].length = r[i].length;
  }
  pv_shard_ref ref;
  uint8_t *f = pvh_encode_shard(hr, n, dataset_id, shard_index, first_record, size_out, &ref);
  free(hr);
  assert_non_null(f);
  assert_int_equal(ref.file_size, *size_out);
  if (footer_checksum_out) *footer_checksum_out = ref.footer_checksum;
  return f;
}

static const uint8_t ex_red_green[6] = {0xff, 0x00, 0x00, 0x00, 0xff, 0x00};
static const uint8_t ex_blue[3] = {0x00, 0x00, 0xff};

/* The worked example's shard: shard-00000.pvs of a two-record dataset. */
static uint8_t *example_shard(size_t *size, uint64_t *footer_checksum) {
  const ex_record r[2] = {
      {PV_CODEC_RAW, 0, 2, 1, 1, ex_red_green, sizeof ex_red_green},
      {PV_CODEC_RAW, 0, 1, 1, 0, ex_blue, sizeof ex_blue},
  };
  return build_shard(r, 2, EXAMPLE_DATASET_ID, 0, 0, size, footer_checksum);
}

/* The worked example's index.pvi. */
static uint8_t *example_index(size_t *size) {
  size_t shard_size;
  uint64_t fsum;
  free(example_shard(&shard_size, &fsum));
  const pv_shard_ref ref = {shard_size, 0, 2, fsum};
  static const char *const classes[2] = {"a", "b"};
  static const uint64_t class_counts[2] = {1, 1};
  static const char *const paths[2] = {"b/x.png", "a/y.png"};
  static const uint32_t labels[2] = {1, 0};
  const pv_index_input in = {EXAMPLE_DATASET_ID, 1, &ref, 2, classes, class_counts, 2, paths,
                             labels, "k=v\n", "", 0};
  uint64_t n = pv_index_encoded_size(&in);
  assert_true(n > 0);
  uint8_t *f = malloc((size_t)n);
  assert_non_null(f);
  assert_int_equal(pv_index_encode(&in, f, n), PV_OK);
  *size = (size_t)n;
  return f;
}

/* ---- resealing: recompute checksums after a deliberate edit, so that the
 *      edit itself (not a checksum) is what a validator trips over ---------- */

static void reseal_shard(uint8_t *f, size_t n) {
  assert_true(n >= PV_SHARD_HEADER_SIZE + PV_SHARD_FOOTER_SIZE);
  pvh_reseal_shard(f, n);
}

/* Everything a full verification does with a shard: the structure, every
 * payload checksum and every padding byte (what `pvpack verify` does). */
static pv_status shard_check_all(const uint8_t *f, size_t n) {
  pv_shard_view v;
  pv_status st = pv_shard_validate(f, n, &v, NULL, 0);
  if (st != PV_OK) return st;
  for (uint32_t i = 0; i < v.header.record_count; i++) {
    pv_record_entry e;
    pv_shard_entry(&v, i, &e);
    if ((st = pv_shard_check_record(&v, &e)) != PV_OK) return st;
    uint64_t next = v.footer.table_offset;
    if (i + 1 < v.header.record_count) {
      pv_record_entry ne;
      pv_shard_entry(&v, i + 1, &ne);
      next = ne.offset;
    }
    for (uint64_t b = e.offset + e.length; b < next; b++)
      if (f[b]) return PV_ERR_CORRUPT;
  }
  return PV_OK;
}

/* ---- canonical hex dump: byte-identical to `hexdump -Cv FILE` ------------- */

static char *hex_dump(const uint8_t *p, size_t n) {
  size_t cap = (n / 16 + 2) * 80, len = 0;
  char *s = malloc(cap);
  assert_non_null(s);
  for (size_t o = 0; o < n; o += 16) {
    len += (size_t)sprintf(s + len, "%08zx ", o);
    for (size_t j = 0; j < 16; j++) {
      if (j == 8) s[len++] = ' ';
      if (o + j < n)
        len += (size_t)sprintf(s + len, " %02x", p[o + j]);
      else
        len += (size_t)sprintf(s + len, "   ");
    }
    len += (size_t)sprintf(s + len, "  |");
    for (size_t j = 0; j < 16 && o + j < n; j++)
      s[len++] = p[o + j] >= 0x20 && p[o + j] < 0x7f ? (char)p[o + j] : '.';
    len += (size_t)sprintf(s + len, "|\n");
  }
  len += (size_t)sprintf(s + len, "%08zx\n", n);
  assert_true(len < cap);
  return s;
}

/* Returns the text of the fenced code block between "<!-- example:NAME
 * begin -->" and "<!-- example:NAME end -->" in spec (malloc'ed), or NULL. */
static char *spec_block(const char *spec, const char *name) {
  char begin[96], end[96];
  snprintf(begin, sizeof begin, "<!-- example:%s begin -->\n", name);
  snprintf(end, sizeof end, "<!-- example:%s end -->", name);
  const char *b = strstr(spec, begin), *e = strstr(spec, end);
  if (!b || !e || e < b) return NULL;
  const char *fence = strstr(b, "```");
  if (!fence || fence > e) return NULL;
  const char *start = strchr(fence, '\n');
  if (!start) return NULL;
  start++;
  const char *stop = strstr(start, "```");
  if (!stop || stop > e) return NULL;
  char *out = malloc((size_t)(stop - start) + 1);
  assert_non_null(out);
  memcpy(out, start, (size_t)(stop - start));
  out[stop - start] = 0;
  return out;
}

static char *read_spec(void) {
  const char *dir = getenv("PV_SOURCE_DIR");
  if (!dir || !*dir) dir = PV_SOURCE_DIR;
  char *path = pvt_join(dir, "spec/FORMAT.md");
  size_t n = 0;
  uint8_t *b = pvt_read_file(path, &n);
  if (!b) fail_msg("cannot read %s (set PV_SOURCE_DIR to the source tree)", path);
  free(path);
  char *s = malloc(n + 1);
  assert_non_null(s);
  memcpy(s, b, n);
  s[n] = 0;
  free(b);
  return s;
}

static void check_example_block(const char *name, const uint8_t *file, size_t size) {
  char *dump = hex_dump(file, size);
  const char *regen = getenv("PV_REGEN_SPEC");
  if (regen && strcmp(regen, "1") == 0) {
    printf("<!-- example:%s begin -->\n```text\n%s```\n<!-- example:%s end -->\n", name, dump,
           name);
    free(dump);
    return;
  }
  char *spec = read_spec();
  char *block = spec_block(spec, name);
  if (!block) fail_msg("spec/FORMAT.md has no '%s' example block", name);
  if (strcmp(block, dump) != 0) {
    printf("spec/FORMAT.md example '%s' differs from the encoder's bytes; expected:\n%s", name,
           dump);
    printf("(regenerate with PV_REGEN_SPEC=1 ./test_format and paste)\n");
  }
  assert_string_equal(block, dump);
  free(block);
  free(spec);
  free(dump);
}

/* ---- 1. the worked example ------------------------------------------------- */

static void test_example_shard_matches_spec(void **state) {
  (void)state;
  size_t n;
  uint8_t *f = example_shard(&n, NULL);
  assert_int_equal(n, 336);
  assert_int_equal(shard_check_all(f, n), PV_OK);
  check_example_block("shard", f, n);
  free(f);
}

static void test_example_index_matches_spec(void **state) {
  (void)state;
  size_t n;
  uint8_t *f = example_index(&n);
  assert_int_equal(n, 408);
  pv_index_view v;
  assert_int_equal(pv_index_validate(f, n, &v, NULL, 0), PV_OK);
  check_example_block("index", f, n);
  free(f);
}

/* ---- 2. round trips ----------------------------------------------------------- */

static void test_load_store(void **state) {
  (void)state;
  uint8_t b[8];
  pv_store16(b, 0x1234);
  assert_int_equal(b[0], 0x34);
  assert_int_equal(b[1], 0x12);
  assert_int_equal(pv_load16(b), 0x1234);
  pv_store32(b, 0xdeadbeefu);
  assert_int_equal(b[0], 0xef);
  assert_int_equal(b[3], 0xde);
  assert_int_equal(pv_load32(b), 0xdeadbeefu);
  pv_store64(b, 0x0123456789abcdefull);
  assert_int_equal(b[0], 0xef);
  assert_int_equal(b[7], 0x01);
  assert_true(pv_load64(b) == 0x0123456789abcdefull);
  assert_string_equal(pv_codec_name(PV_CODEC_RAW), "raw");
  assert_string_equal(pv_codec_name(PV_CODEC_JPEG), "jpeg");
  assert_string_equal(pv_codec_name(PV_CODEC_ZSTD), "zstd");
  assert_string_equal(pv_codec_name(3), "unknown");
  assert_string_equal(pv_codec_name(-1), "unknown");
  /* XXH3-64, seed 0: the published value for the empty input. */
  assert_true(pv_checksum("", 0) == 0x2d06800538d394c2ull);
}

static void test_shard_header_roundtrip(void **state) {
  (void)state;
  const pv_shard_header h = {1, 7, 0, 0xa5a5a5a5u, 0xfeedfacecafebeefull, 12345, 678, 999999};
  uint8_t b[PV_SHARD_HEADER_SIZE];
  pv_shard_header_encode(&h, b);
  assert_memory_equal(b, PV_SHARD_MAGIC, 8);
  assert_int_equal(pv_load32(b + 12), PV_SHARD_HEADER_SIZE);
  pv_shard_header d;
  uint64_t sum = 0;
  assert_int_equal(pv_shard_header_decode(b, sizeof b, &d, &sum, NULL, 0), PV_OK);
  assert_true(sum == pv_load64(b + 56) && sum == pv_checksum(b, 56));
  assert_int_equal(d.version_major, 1);
  assert_int_equal(d.version_minor, 7); /* a newer minor is accepted */
  assert_int_equal(d.incompat_flags, 0);
  assert_int_equal(d.compat_flags, 0xa5a5a5a5u); /* unknown compat bits are ignored */
  assert_true(d.dataset_id == h.dataset_id);
  assert_int_equal(d.shard_index, 12345);
  assert_int_equal(d.record_count, 678);
  assert_true(d.first_record == 999999);
  /* Short buffers: truncated if what is there is (a prefix of) the magic,
   * else not pvpack. */
  assert_int_equal(pv_shard_header_decode(b, 63, &d, NULL, NULL, 0), PV_ERR_TRUNCATED);
  assert_int_equal(pv_shard_header_decode(b, 8, &d, NULL, NULL, 0), PV_ERR_TRUNCATED);
  assert_int_equal(pv_shard_header_decode(b, 3, &d, NULL, NULL, 0), PV_ERR_TRUNCATED);
  b[2] = 'x';
  assert_int_equal(pv_shard_header_decode(b, 3, &d, NULL, NULL, 0), PV_ERR_NOT_PVPACK);
  assert_int_equal(pv_shard_header_decode(b, 63, &d, NULL, NULL, 0), PV_ERR_NOT_PVPACK);
}

static void test_shard_footer_roundtrip(void **state) {
  (void)state;
  uint8_t file[PV_SHARD_HEADER_SIZE + PV_SHARD_FOOTER_SIZE] = {0};
  pv_shard_footer f = {64, 0, 3, 42, 0x1111222233334444ull, 0x5555666677778888ull, 0};
  pv_shard_footer_encode(&f, file + PV_SHARD_HEADER_SIZE);
  assert_true(f.footer_checksum == pv_checksum(file + PV_SHARD_HEADER_SIZE, 48));
  assert_memory_equal(file + sizeof file - 8, PV_SHARD_END_MAGIC, 8);
  pv_shard_footer d;
  assert_int_equal(pv_shard_footer_decode(file, sizeof file, &d, NULL, 0), PV_OK);
  assert_true(d.table_offset == 64 && d.record_count == 0 && d.shard_index == 3 &&
              d.dataset_id == 42 && d.header_checksum == f.header_checksum &&
              d.table_checksum == f.table_checksum && d.footer_checksum == f.footer_checksum);
  assert_int_equal(pv_shard_footer_decode(file, sizeof file - 1, &d, NULL, 0), PV_ERR_TRUNCATED);
}

static void test_record_entry_roundtrip(void **state) {
  (void)state;
  const pv_record_entry e = {128,           1000, 77, 640, 480, PV_CODEC_JPEG, 3,
                             PV_RECORD_FLAG_ORIGINAL, 0x0102030405060708ull};
  uint8_t b[PV_RECORD_ENTRY_SIZE];
  pv_record_entry_encode(&e, b);
  pv_record_entry d;
  char err[160];
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, err, sizeof err), PV_OK);
  assert_true(d.offset == 128 && d.length == 1000 && d.label == 77 && d.width == 640 &&
              d.height == 480 && d.codec == PV_CODEC_JPEG && d.channels == 3 &&
              d.flags == PV_RECORD_FLAG_ORIGINAL && d.checksum == e.checksum);
  /* Rules checked in isolation. */
  pv_record_entry x = e;
  x.codec = PV_CODEC_ZSTD;
  x.flags = 0;
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_OK);
  x.flags = PV_RECORD_FLAG_ORIGINAL; /* ORIGINAL only on JPEG */
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_CORRUPT);
  x = e;
  x.flags = 0x8000; /* unknown flag */
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_VERSION);
  x = e;
  x.channels = 1;
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_CORRUPT);
  x = e;
  x.width = PV_MAX_DIM + 1;
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_LIMIT);
  x = e;
  x.height = 0;
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_LIMIT);
  x = e;
  x.codec = PV_CODEC_RAW;
  x.flags = 0;
  x.length = 640 * 480 * 3 - 1; /* raw length must be exactly w*h*3 */
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 1u << 30, &d, NULL, 0), PV_ERR_CORRUPT);
  x = e;
  x.length = 0; /* empty JPEG */
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_CORRUPT);
  x = e;
  x.offset = 96; /* unaligned */
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_CORRUPT);
  x = e;
  x.offset = 0; /* inside the header */
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_CORRUPT);
  x = e; /* [128, 1128) must end at or before the table */
  pv_record_entry_encode(&x, b);
  assert_int_equal(pv_record_entry_decode(b, 1127, &d, NULL, 0), PV_ERR_CORRUPT);
  assert_int_equal(pv_record_entry_decode(b, 1128, &d, NULL, 0), PV_OK);
  b[28] = 1; /* reserved */
  assert_int_equal(pv_record_entry_decode(b, 4096, &d, NULL, 0), PV_ERR_CORRUPT);
}

static void test_shard_roundtrip(void **state) {
  (void)state;
  size_t n;
  uint8_t *f = example_shard(&n, NULL);
  pv_shard_view v;
  char err[256] = "";
  assert_int_equal(pv_shard_validate(f, n, &v, err, sizeof err), PV_OK);
  assert_true(v.file == f && v.file_size == n);
  assert_int_equal(v.header.record_count, 2);
  assert_true(v.header.dataset_id == EXAMPLE_DATASET_ID);
  assert_true(v.footer.table_offset == 192);
  assert_ptr_equal(v.table, f + 192);
  pv_record_entry e;
  pv_shard_entry(&v, 0, &e);
  assert_true(e.offset == 64 && e.length == 6 && e.width == 2 && e.height == 1 && e.label == 1);
  assert_memory_equal(f + e.offset, ex_red_green, 6);
  assert_int_equal(pv_shard_check_record(&v, &e), PV_OK);
  pv_shard_entry(&v, 1, &e);
  assert_true(e.offset == 128 && e.length == 3 && e.width == 1 && e.height == 1 && e.label == 0);
  assert_int_equal(pv_shard_check_record(&v, &e), PV_OK);
  e.checksum ^= 1;
  assert_int_equal(pv_shard_check_record(&v, &e), PV_ERR_CHECKSUM);
  free(f);

  /* An empty shard is 128 bytes: header, empty table at 64, footer. */
  f = build_shard(NULL, 0, 5, 9, 100, &n, NULL);
  assert_int_equal(n, 128);
  assert_int_equal(pv_shard_validate(f, n, &v, NULL, 0), PV_OK);
  assert_int_equal(v.header.shard_index, 9);
  free(f);

  /* Every codec, the ORIGINAL flag, a payload that is already a multiple of
   * 64 bytes (no padding) and one that needs 63 bytes of padding. */
  static uint8_t big[64 * 3];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
  const ex_record r[4] = {
      {PV_CODEC_RAW, 0, 8, 8, 0, big, 192},
      {PV_CODEC_JPEG, PV_RECORD_FLAG_ORIGINAL, 300, 200, 1, big, 65},
      {PV_CODEC_ZSTD, 0, 16, 16, 2, big, 1},
      {PV_CODEC_JPEG, 0, 65500, 65500, 3, big, 64},
  };
  f = build_shard(r, 4, 7, 1, 2, &n, NULL);
  assert_int_equal(shard_check_all(f, n), PV_OK);
  assert_int_equal(pv_shard_validate(f, n, &v, NULL, 0), PV_OK);
  const uint64_t offs[4] = {64, 256, 384, 448};
  for (uint32_t i = 0; i < 4; i++) {
    pv_shard_entry(&v, i, &e);
    assert_true(e.offset == offs[i]);
    assert_int_equal(e.codec, r[i].codec);
    assert_int_equal(e.flags, r[i].flags);
  }
  assert_true(v.footer.table_offset == 512);
  free(f);
}

/* The writer's calls one by one: the padding and offsets it hands out,
 * its bound, the tail, reuse for a second shard, and what it refuses. */
static void test_shard_writer(void **state) {
  (void)state;
  static uint8_t big[200];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 3);
  const uint32_t len[4] = {6, 64, 1, 130};
  const uint64_t want_off[4] = {64, 128, 192, 256};
  const uint32_t want_pad[4] = {0, 58, 0, 63};
  pv_shard_writer *w = NULL;
  assert_int_equal(pv_shard_writer_create(NULL), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_shard_writer_create(&w), PV_OK);
  pv_record_entry e = {0, 3, 0, 1, 1, PV_CODEC_RAW, 3, 0, 0};
  uint32_t pad = 99;
  pv_shard_tail t;
  /* Nothing open yet. */
  assert_int_equal(pv_shard_writer_append(w, &e, big, &pad), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_shard_writer_finish(w, &t), PV_ERR_INVALID_ARG);
  for (int round = 0; round < 2; round++) {
    uint8_t hb[PV_SHARD_HEADER_SIZE];
    memset(hb, 0xee, sizeof hb);
    assert_int_equal(pv_shard_writer_begin(w, 77, 3 + round, 10, hb), PV_OK);
    for (size_t i = 0; i < sizeof hb; i++) assert_int_equal(hb[i], 0); /* no magic yet */
    assert_true(pv_shard_writer_offset(w) == PV_SHARD_HEADER_SIZE);
    assert_int_equal(pv_shard_writer_count(w), 0);
    e.length = 5;
    assert_int_equal(pv_shard_writer_append(w, &e, NULL, &pad), PV_ERR_INVALID_ARG);
    uint8_t *f = calloc(1, 1024);
    assert_non_null(f);
    uint64_t at = PV_SHARD_HEADER_SIZE, bound = 0;
    for (uint32_t i = 0; i < 4; i++) {
      uint64_t before = pv_shard_writer_offset(w);
      bound = pv_shard_writer_bound(w, len[i]);
      assert_true(bound == before + want_pad[i] + len[i] + PV_RECORD_ALIGN +
                               (uint64_t)(i + 1) * PV_RECORD_ENTRY_SIZE + PV_SHARD_FOOTER_SIZE);
      pv_record_entry x = {12345, len[i], i, 9, 9, PV_CODEC_JPEG, 3, 0, 6789};
      assert_int_equal(pv_shard_writer_append(w, &x, big, &pad), PV_OK);
      assert_int_equal(pad, want_pad[i]);
      assert_true(x.offset == want_off[i] && x.offset == before + pad);
      assert_true(x.checksum == pv_checksum(big, len[i]));
      at = x.offset;
      memcpy(f + at, big, len[i]);
      at += len[i];
      assert_true(pv_shard_writer_offset(w) == at);
      assert_int_equal(pv_shard_writer_count(w), i + 1);
    }
    assert_int_equal(pv_shard_writer_finish(w, &t), PV_OK);
    assert_int_equal(t.pad, 64 - at % 64);
    const uint64_t toff = at + t.pad;
    assert_int_equal(t.table_size, 4 * PV_RECORD_ENTRY_SIZE);
    assert_true(t.ref.file_size == toff + t.table_size + PV_SHARD_FOOTER_SIZE);
    assert_true(t.ref.first_record == 10 && t.ref.record_count == 4);
    /* The bound given before the last append holds. */
    assert_true(t.ref.file_size <= bound);
    memcpy(f, t.header, sizeof t.header);
    memcpy(f + toff, t.table, t.table_size);
    memcpy(f + toff + t.table_size, t.footer, sizeof t.footer);
    pv_shard_view v;
    char err[200] = "";
    assert_int_equal(pv_shard_validate(f, t.ref.file_size, &v, err, sizeof err), PV_OK);
    assert_true(v.header.dataset_id == 77 && v.header.shard_index == 3u + (unsigned)round &&
                v.header.first_record == 10 && v.header.record_count == 4);
    assert_true(v.footer.table_offset == toff && v.footer.footer_checksum == t.ref.footer_checksum);
    for (uint32_t i = 0; i < 4; i++) {
      pv_record_entry d;
      pv_shard_entry(&v, i, &d);
      assert_true(d.offset == want_off[i] && d.length == len[i] && d.label == i);
      assert_int_equal(pv_shard_check_record(&v, &d), PV_OK);
    }
    /* Finished: no shard open. */
    assert_int_equal(pv_shard_writer_append(w, &e, big, &pad), PV_ERR_INVALID_ARG);
    free(f);
  }
  pv_shard_writer_destroy(w);
  pv_shard_writer_destroy(NULL);
}

/* spec/FORMAT.md 9.2 checks 20-22, each disagreement alone. */
static void test_shard_matches_ref(void **state) {
  (void)state;
  size_t n;
  uint64_t fsum;
  uint8_t *f = example_shard(&n, &fsum);
  pv_shard_view v;
  assert_int_equal(pv_shard_validate(f, n, &v, NULL, 0), PV_OK);
  const pv_shard_ref good = {n, 0, 2, fsum};
  pv_index_header ix;
  memset(&ix, 0, sizeof ix);
  ix.dataset_id = EXAMPLE_DATASET_ID;
  char err[256] = "";
  assert_int_equal(pv_shard_matches_ref(&v, &good, &ix, 0, err, sizeof err), PV_OK);
  assert_int_equal(pv_shard_matches_ref_size(n, &good, err, sizeof err), PV_OK);

  pv_shard_ref r = good;
  r.file_size = n + 1;
  assert_int_equal(pv_shard_matches_ref(&v, &r, &ix, 0, err, sizeof err), PV_ERR_TRUNCATED);
  assert_string_equal(err, "file is 336 bytes, the index says 337");
  r.file_size = n - 64;
  assert_int_equal(pv_shard_matches_ref_size(n, &r, err, sizeof err), PV_ERR_CORRUPT);
  assert_string_equal(err, "file is 336 bytes, the index says 272");

  r = good;
  r.footer_checksum ^= 1;
  assert_int_equal(pv_shard_matches_ref(&v, &r, &ix, 0, err, sizeof err), PV_ERR_CHECKSUM);
  assert_non_null(strstr(err, "footer checksum"));

  struct {
    uint32_t k;
    uint64_t first;
    uint32_t count;
    uint64_t id;
    const char *expects;
  } cases[] = {
      {1, 0, 2, EXAMPLE_DATASET_ID, "the index expects shard 1, [0, +2), dataset 0123456789abcdef"},
      {0, 5, 2, EXAMPLE_DATASET_ID, "the index expects shard 0, [5, +2), dataset 0123456789abcdef"},
      {0, 0, 3, EXAMPLE_DATASET_ID, "the index expects shard 0, [0, +3), dataset 0123456789abcdef"},
      {0, 0, 2, 42, "the index expects shard 0, [0, +2), dataset 000000000000002a"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    r = good;
    r.first_record = cases[i].first;
    r.record_count = cases[i].count;
    ix.dataset_id = cases[i].id;
    err[0] = 0;
    assert_int_equal(pv_shard_matches_ref(&v, &r, &ix, cases[i].k, err, sizeof err),
                     PV_ERR_CORRUPT);
    assert_non_null(strstr(err, "header says shard 0, records [0, +2), dataset 0123456789abcdef"));
    if (!strstr(err, cases[i].expects)) fail_msg("case %zu: %s", i, err);
  }
  free(f);
}

static void test_index_roundtrip(void **state) {
  (void)state;
  size_t n;
  uint8_t *f = example_index(&n);
  pv_index_view v;
  char err[256] = "";
  assert_int_equal(pv_index_validate(f, n, &v, err, sizeof err), PV_OK);
  assert_true(v.header.dataset_id == EXAMPLE_DATASET_ID);
  assert_true(v.header.file_size == n);
  assert_true(v.header.record_count == 2);
  assert_int_equal(v.header.shard_count, 1);
  assert_int_equal(v.header.class_count, 2);
  assert_true(v.header.skipped_count == 0);
  assert_true(v.header_checksum == pv_load64(f + n - 16));
  const uint64_t offs[PV_SEC_COUNT] = {256, 288, 336, 368, 384, 392};
  const uint64_t sizes[PV_SEC_COUNT] = {32, 48, 32, 16, 4, 0};
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    assert_true(v.header.sections[s].offset == offs[s]);
    assert_true(v.header.sections[s].size == sizes[s]);
    assert_ptr_equal(v.sec[s], f + offs[s]);
  }
  pv_shard_ref r;
  pv_index_shard(&v, 0, &r);
  size_t sn;
  uint64_t fsum;
  free(example_shard(&sn, &fsum));
  assert_true(r.file_size == sn && r.first_record == 0 && r.record_count == 2 &&
              r.footer_checksum == fsum);
  uint32_t len, label;
  const char *s = pv_index_class_name(&v, 0, &len);
  assert_int_equal(len, 1);
  assert_memory_equal(s, "a", 1);
  s = pv_index_class_name(&v, 1, &len);
  assert_memory_equal(s, "b", 1);
  assert_true(pv_index_class_records(&v, 0) == 1 && pv_index_class_records(&v, 1) == 1);
  s = pv_index_record_path(&v, 0, &len, &label);
  assert_int_equal(len, 7);
  assert_memory_equal(s, "b/x.png", 7);
  assert_int_equal(label, 1);
  s = pv_index_record_path(&v, 1, NULL, &label);
  assert_memory_equal(s, "a/y.png", 7);
  assert_int_equal(label, 0);
  uint64_t tl;
  s = pv_index_section_text(&v, PV_SEC_OPTIONS, &tl);
  assert_true(tl == 4);
  assert_memory_equal(s, "k=v\n", 4);
  pv_index_section_text(&v, PV_SEC_SKIPPED, &tl);
  assert_true(tl == 0);
  assert_int_equal(pv_index_find_shard(&v, 0), 0);
  assert_int_equal(pv_index_find_shard(&v, 1), 0);
  free(f);

  /* Encoder argument and limit errors. */
  const char *long_name = NULL;
  char *buf = malloc(PV_MAX_PATH_BYTES + 2);
  assert_non_null(buf);
  memset(buf, 'x', PV_MAX_PATH_BYTES + 1);
  buf[PV_MAX_PATH_BYTES + 1] = 0;
  long_name = buf;
  const uint64_t one = 0;
  pv_index_input in = {1, 0, NULL, 1, &long_name, &one, 0, NULL, NULL, NULL, NULL, 0};
  assert_true(pv_index_encoded_size(&in) == 0);
  uint8_t tmp[512];
  assert_int_equal(pv_index_encode(&in, tmp, sizeof tmp), PV_ERR_LIMIT);
  buf[PV_MAX_PATH_BYTES] = 0; /* exactly at the limit is fine */
  uint64_t need = pv_index_encoded_size(&in);
  assert_true(need > 0);
  assert_int_equal(pv_index_encode(&in, tmp, sizeof tmp), PV_ERR_INVALID_ARG); /* wrong size */
  assert_int_equal(pv_index_encode(NULL, tmp, sizeof tmp), PV_ERR_INVALID_ARG);
  in.shard_count = PV_MAX_SHARDS + 1;
  assert_true(pv_index_encoded_size(&in) == 0);
  free(buf);
}

/* The checks record access and open add on top of pv_index_validate:
 * per-class counts against the records' labels, and an index entry
 * decoded from a private copy (issue 9). */
static void test_index_class_counts_and_record_decode(void **state) {
  (void)state;
  size_t n;
  uint8_t *f = example_index(&n);
  pv_index_view v;
  uint64_t counts[2];
  char err[256] = "";
  assert_int_equal(pv_index_validate(f, n, &v, err, sizeof err), PV_OK);
  assert_int_equal(pv_index_check_class_counts(&v, counts, err, sizeof err), PV_OK);
  assert_true(counts[0] == 1 && counts[1] == 1);
  uint8_t copy[PV_INDEX_RECORD_SIZE];
  memcpy(copy, pv_index_record_bytes(&v, 0), sizeof copy);
  pv_index_record ir;
  assert_int_equal(pv_index_record_decode(&v, copy, &ir), PV_OK);
  assert_true(ir.label == 1 && ir.path_length == 7 && ir.path_offset == 2);
  pv_store32(copy + 12, 2); /* label = class_count */
  assert_int_equal(pv_index_record_decode(&v, copy, &ir), PV_ERR_CORRUPT);
  memcpy(copy, pv_index_record_bytes(&v, 0), sizeof copy);
  pv_store64(copy, v.header.sections[PV_SEC_STRINGS].size - 6); /* path runs past the end */
  assert_int_equal(pv_index_record_decode(&v, copy, &ir), PV_ERR_CORRUPT);
  pv_store64(copy, UINT64_MAX - 3); /* offset + length wraps */
  assert_int_equal(pv_index_record_decode(&v, copy, &ir), PV_ERR_CORRUPT);
  /* Counts 2 and 0: the sum is right (validation passes), the labels say 1
   * and 1. */
  uint8_t *c0 = (uint8_t *)v.sec[PV_SEC_CLASSES];
  pv_store64(c0 + 16, 2);
  pv_store64(c0 + 24 + 16, 0);
  pvh_reseal_index(f, n);
  assert_int_equal(pv_index_validate(f, n, &v, err, sizeof err), PV_OK);
  assert_int_equal(pv_index_check_class_counts(&v, counts, err, sizeof err), PV_ERR_CORRUPT);
  assert_non_null(strstr(err, "class 0: the index counts 2 records, its records section has 1"));
  free(f);
}

/* Encodes an index over shards of the given record counts (one class). */
static uint8_t *index_over(const uint32_t *counts, uint32_t nshards, size_t *size) {
  pv_shard_ref refs[16];
  const char *paths[64];
  uint32_t labels[64];
  uint64_t total = 0;
  assert_true(nshards <= 16);
  for (uint32_t k = 0; k < nshards; k++) {
    refs[k] = (pv_shard_ref){128 + 104 * (uint64_t)counts[k], total, counts[k], k};
    total += counts[k];
  }
  assert_true(total <= 64);
  for (uint64_t i = 0; i < total; i++) {
    paths[i] = "p";
    labels[i] = 0;
  }
  static const char *const classes[1] = {"c"};
  const uint64_t class_counts[1] = {total};
  const pv_index_input in = {9, nshards, refs, 1, classes, class_counts, total, paths, labels,
                             "", "x.png\tnot an image\n", 1};
  uint64_t n = pv_index_encoded_size(&in);
  uint8_t *f = malloc((size_t)n);
  assert_non_null(f);
  assert_int_equal(pv_index_encode(&in, f, n), PV_OK);
  *size = (size_t)n;
  return f;
}

static void test_index_find_shard(void **state) {
  (void)state;
  const uint32_t counts[] = {0, 3, 0, 2, 0, 0, 4, 1, 0};
  const uint32_t nshards = sizeof counts / sizeof counts[0];
  size_t n;
  uint8_t *f = index_over(counts, nshards, &n);
  pv_index_view v;
  char err[256] = "";
  assert_int_equal(pv_index_validate(f, n, &v, err, sizeof err), PV_OK);
  assert_true(v.header.record_count == 10);
  for (uint64_t i = 0; i < v.header.record_count; i++) {
    uint32_t k = pv_index_find_shard(&v, i);
    pv_shard_ref r;
    assert_true(k < nshards);
    pv_index_shard(&v, k, &r);
    assert_true(r.record_count > 0); /* never an empty shard */
    assert_true(r.first_record <= i && i < r.first_record + r.record_count);
  }
  free(f);
  /* One shard, many shards, all non-empty. */
  const uint32_t c1[] = {5};
  f = index_over(c1, 1, &n);
  assert_int_equal(pv_index_validate(f, n, &v, NULL, 0), PV_OK);
  for (uint64_t i = 0; i < 5; i++) assert_int_equal(pv_index_find_shard(&v, i), 0);
  free(f);
  const uint32_t c2[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  f = index_over(c2, 16, &n);
  assert_int_equal(pv_index_validate(f, n, &v, NULL, 0), PV_OK);
  for (uint64_t i = 0; i < 16; i++) assert_int_equal(pv_index_find_shard(&v, i), i);
  free(f);
  /* An index with no shard and no record is valid. */
  f = index_over(NULL, 0, &n);
  assert_int_equal(pv_index_validate(f, n, &v, NULL, 0), PV_OK);
  free(f);
}

/* ---- 3. golden negative cases -------------------------------------------------- */

static pv_status shard_status(const uint8_t *f, size_t n) {
  pv_shard_view v;
  char err[256] = "";
  pv_status st = pv_shard_validate(f, n, &v, err, sizeof err);
  if (st != PV_OK) assert_true(err[0] != 0); /* every failure says why */
  return st;
}

static pv_status index_status(const uint8_t *f, size_t n) {
  pv_index_view v;
  char err[256] = "";
  pv_status st = pv_index_validate(f, n, &v, err, sizeof err);
  if (st != PV_OK) assert_true(err[0] != 0);
  return st;
}

static void test_shard_golden_negatives(void **state) {
  (void)state;
  size_t n;
  uint8_t *orig = example_shard(&n, NULL);
  uint8_t *f = malloc(n);
  assert_non_null(f);
  const size_t T = 192, F = 272; /* table and footer offsets */
#define RESET() memcpy(f, orig, n)

  /* Truncated footer: the end magic is not at the end. */
  RESET();
  assert_int_equal(shard_status(f, n - 10), PV_ERR_TRUNCATED);
  assert_int_equal(shard_status(f, F), PV_ERR_TRUNCATED);
  assert_int_equal(shard_status(f, 100), PV_ERR_TRUNCATED);
  assert_int_equal(shard_status(f, 20), PV_ERR_TRUNCATED);
  /* Flipped checksum bytes. */
  RESET();
  f[56] ^= 0x01; /* header checksum */
  assert_int_equal(shard_status(f, n), PV_ERR_CHECKSUM);
  RESET();
  f[F + 48] ^= 0x80; /* footer checksum */
  assert_int_equal(shard_status(f, n), PV_ERR_CHECKSUM);
  RESET();
  f[T + 32] ^= 0x10; /* record 0's checksum: caught by the table checksum */
  assert_int_equal(shard_status(f, n), PV_ERR_CHECKSUM);
  RESET();
  f[64] ^= 0x01; /* payload: the structure is fine, the record is not */
  assert_int_equal(shard_status(f, n), PV_OK);
  assert_int_equal(shard_check_all(f, n), PV_ERR_CHECKSUM);
  /* Unknown incompatible flag, checksums recomputed: the flag is what fails. */
  RESET();
  pv_store32(f + 16, 0x1);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_VERSION);
  /* Unknown compatible flag: ignored. */
  RESET();
  pv_store32(f + 20, 0x80000000u);
  reseal_shard(f, n);
  assert_int_equal(shard_check_all(f, n), PV_OK);
  /* Unknown major version. */
  RESET();
  pv_store16(f + 8, 2);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_VERSION);
  /* Bad magic, at either end. */
  RESET();
  f[0] = 'X';
  assert_int_equal(shard_status(f, n), PV_ERR_NOT_PVPACK);
  RESET();
  f[n - 1] = 0x02;
  assert_int_equal(shard_status(f, n), PV_ERR_TRUNCATED);
  /* A payload offset past the end of the file. */
  RESET();
  pv_store64(f + T + 40, 4096);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  /* The table offset past the end of the file. */
  RESET();
  pv_store64(f + F, 1ull << 40);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  /* Unknown codec. */
  RESET();
  f[T + 24] = 3;
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_VERSION);
  /* Non-zero reserved bytes: header, record entry, footer. */
  RESET();
  f[48] = 1;
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  RESET();
  f[T + 40 + 28] = 1;
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  RESET();
  f[F + 40] = 1;
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  /* Wrong header_size. */
  RESET();
  pv_store32(f + 12, 128);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  /* first_record over the limit. */
  RESET();
  pv_store64(f + 40, PV_MAX_RECORDS + 1);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_LIMIT);
  /* Footer disagrees with header (shard index, dataset id, record count). */
  RESET();
  pv_store32(f + F + 12, 1);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  RESET();
  f[F + 16] ^= 1;
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  RESET();
  pv_store32(f + F + 8, 1);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  /* Footer names the header checksum of another header. */
  RESET();
  f[F + 24] ^= 1;
  pv_store64(f + F + 48, pv_checksum(f + F, 48));
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  /* Payloads out of order / not packed: record 1 at 192 leaves a gap. */
  RESET();
  pv_store64(f + T + 40, 64);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  /* Raw length that does not match the size. */
  RESET();
  pv_store32(f + T + 16, 3);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_CORRUPT);
  /* Non-zero padding between payloads: caught by full verification. */
  RESET();
  f[100] = 1;
  assert_int_equal(shard_status(f, n), PV_OK);
  assert_int_equal(shard_check_all(f, n), PV_ERR_CORRUPT);
  /* A byte appended or removed between table and footer. */
  uint8_t *g = calloc(1, n + 64);
  assert_non_null(g);
  memcpy(g, orig, n);
  memmove(g + F + 64, g + F, 64);
  memset(g + F, 0, 64);
  reseal_shard(g, n + 64);
  assert_int_equal(shard_status(g, n + 64), PV_ERR_CORRUPT);
  free(g);
#undef RESET
  free(f);
  free(orig);
}

static void test_index_golden_negatives(void **state) {
  (void)state;
  size_t n;
  uint8_t *orig = example_index(&n);
  uint8_t *f = malloc(n);
  assert_non_null(f);
#define RESET() memcpy(f, orig, n)
  /* Bad magic. */
  RESET();
  f[3] ^= 0x20;
  assert_int_equal(index_status(f, n), PV_ERR_NOT_PVPACK);
  assert_int_equal(index_status(f, 4), PV_ERR_NOT_PVPACK);
  /* Truncated. */
  RESET();
  assert_int_equal(index_status(f, n - 1), PV_ERR_TRUNCATED);
  assert_int_equal(index_status(f, 271), PV_ERR_TRUNCATED);
  assert_int_equal(index_status(f, 8), PV_ERR_TRUNCATED);
  assert_int_equal(index_status(f, 5), PV_ERR_TRUNCATED); /* a prefix of the magic */
  /* Header checksum flip. */
  RESET();
  f[250] ^= 0x04;
  assert_int_equal(index_status(f, n), PV_ERR_CHECKSUM);
  /* Trailer's copy of the header checksum. */
  RESET();
  f[n - 16] ^= 0x04;
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* Section checksum: a flipped byte in the strings section. */
  RESET();
  f[370] ^= 0x01;
  assert_int_equal(index_status(f, n), PV_ERR_CHECKSUM);
  /* Unknown incompatible flag (checksums recomputed) and major version. */
  RESET();
  pv_store32(f + 16, 0x4);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_VERSION);
  RESET();
  pv_store16(f + 8, 0);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_VERSION);
  /* Unknown compatible flag: ignored. */
  RESET();
  pv_store32(f + 20, 0xffffffffu);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_OK);
  /* Non-zero reserved bytes (header, shard ref, class entry). */
  RESET();
  f[208] = 1;
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  RESET();
  f[256 + 20] = 1;
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  RESET();
  f[288 + 12] = 1;
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* Non-zero padding after the options section. */
  RESET();
  f[389] = 1;
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* file_size field disagrees with the file. */
  RESET();
  pv_store64(f + 24, n + 8);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_TRUNCATED);
  RESET();
  pv_store64(f + 24, n - 8);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* A section offset past the end of the file. */
  RESET();
  pv_store64(f + 64 + 24 * PV_SEC_SKIPPED, 1u << 20);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* A section size past the end of the file. */
  RESET();
  pv_store64(f + 64 + 24 * PV_SEC_OPTIONS + 8, 1000);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* A section not where the layout puts it (unaligned). */
  RESET();
  pv_store64(f + 64 + 24 * PV_SEC_SKIPPED, 388);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* Counts over the limits. */
  RESET();
  pv_store32(f + 48, PV_MAX_SHARDS + 1);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_LIMIT);
  /* A count that disagrees with its section's size. */
  RESET();
  pv_store32(f + 52, 3);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* Label >= class_count. */
  RESET();
  pv_store32(f + 336 + 12, 2);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* A record path outside the strings section. */
  RESET();
  pv_store64(f + 336 + 16, 10);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* A class name outside the strings section, and an empty one. */
  RESET();
  pv_store32(f + 288 + 8, 17);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  RESET();
  pv_store32(f + 288 + 8, 0);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* Per-class counts that do not sum to record_count. */
  RESET();
  pv_store64(f + 288 + 16, 2);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* Shard ranges that do not sum to record_count. */
  RESET();
  pv_store32(f + 256 + 16, 3);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  /* A shard smaller than a header plus a footer. */
  RESET();
  pv_store64(f + 256, 127);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
#undef RESET
  free(f);
  free(orig);

  /* Shard references that are not contiguous: 0..1 then 2..3. */
  const pv_shard_ref refs[2] = {{336, 0, 1, 1}, {336, 2, 1, 2}};
  static const char *const classes[1] = {"a"};
  static const uint64_t counts[1] = {2};
  static const char *const paths[2] = {"x", "y"};
  static const uint32_t labels[2] = {0, 0};
  const pv_index_input in = {1, 2, refs, 1, classes, counts, 2, paths, labels, "", "", 0};
  uint64_t sz = pv_index_encoded_size(&in);
  uint8_t *g = malloc((size_t)sz);
  assert_non_null(g);
  assert_int_equal(pv_index_encode(&in, g, sz), PV_OK);
  assert_int_equal(index_status(g, (size_t)sz), PV_ERR_CORRUPT);
  free(g);
}

/* An index whose size minus the trailer is not a multiple of 8: align8 of a
 * section's end can then step past the trailer, and the offset of the next
 * section must be bounded before any size is checked against it (found by
 * fuzz_index; before the fix, an unchecked size wrapped the following
 * section's pointer past the end of the address space). */
static void test_index_section_past_trailer(void **state) {
  (void)state;
  const size_t n = 276;
  uint8_t *f = calloc(1, n);
  assert_non_null(f);
  memcpy(f, PV_INDEX_MAGIC, 8);
  pv_store16(f + 8, 1);
  pv_store32(f + 12, PV_INDEX_HEADER_SIZE);
  pv_store64(f + 24, n);
  const uint64_t secs[PV_SEC_COUNT][2] = {{256, 0}, {256, 0}, {256, 0}, {256, 4},
                                          {264, UINT64_MAX - 7 - 264}, {UINT64_MAX - 7, 0}};
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    pv_store64(f + 64 + 24 * s, secs[s][0]);
    pv_store64(f + 64 + 24 * s + 8, secs[s][1]);
  }
  memcpy(f + n - 8, PV_INDEX_END_MAGIC, 8);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  free(f);
}

/* ---- 4. every bit, every length ------------------------------------------------ */

static void test_every_bit_flip_is_caught(void **state) {
  (void)state;
  size_t n;
  uint8_t *f = example_shard(&n, NULL);
  for (size_t i = 0; i < n; i++)
    for (int bit = 0; bit < 8; bit++) {
      f[i] ^= (uint8_t)(1u << bit);
      if (shard_check_all(f, n) == PV_OK) fail_msg("shard: flipping bit %d of byte %zu went unseen", bit, i);
      f[i] ^= (uint8_t)(1u << bit);
    }
  assert_int_equal(shard_check_all(f, n), PV_OK);
  free(f);
  f = example_index(&n);
  pv_index_view v;
  for (size_t i = 0; i < n; i++)
    for (int bit = 0; bit < 8; bit++) {
      f[i] ^= (uint8_t)(1u << bit);
      if (pv_index_validate(f, n, &v, NULL, 0) == PV_OK)
        fail_msg("index: flipping bit %d of byte %zu went unseen", bit, i);
      f[i] ^= (uint8_t)(1u << bit);
    }
  assert_int_equal(pv_index_validate(f, n, &v, NULL, 0), PV_OK);
  free(f);
}

static void test_every_truncation_is_caught(void **state) {
  (void)state;
  size_t n;
  uint8_t *f = example_shard(&n, NULL);
  for (size_t len = 0; len < n; len++) {
    /* A fresh allocation of exactly len bytes, so ASan sees any overread. */
    uint8_t *t = malloc(len ? len : 1);
    assert_non_null(t);
    memcpy(t, f, len);
    pv_status st = shard_check_all(t, len);
    if (st == PV_OK) fail_msg("shard cut to %zu bytes accepted", len);
    free(t);
  }
  free(f);
  f = example_index(&n);
  pv_index_view v;
  for (size_t len = 0; len < n; len++) {
    uint8_t *t = malloc(len ? len : 1);
    assert_non_null(t);
    memcpy(t, f, len);
    if (pv_index_validate(t, len, &v, NULL, 0) == PV_OK) fail_msg("index cut to %zu bytes accepted", len);
    free(t);
  }
  free(f);
}

/* ---- 5. reserved and unused bytes, the extension area, a new codec ---------- */

/* Every byte of [from, to) of the example shard, set non-zero with the
 * checksums recomputed, gives status want. */
static void shard_bytes_give(size_t from, size_t to, pv_status want) {
  size_t n;
  uint8_t *f = example_shard(&n, NULL);
  for (size_t i = from; i < to; i++) {
    uint8_t keep = f[i];
    f[i] = 0xa5;
    reseal_shard(f, n);
    pv_status st = shard_check_all(f, n);
    if (st != want)
      fail_msg("shard byte %zu non-zero: %s, expected %s", i, pv_status_name(st),
               pv_status_name(want));
    f[i] = keep;
    reseal_shard(f, n);
  }
  free(f);
}

static void index_bytes_give(size_t from, size_t to, pv_status want) {
  size_t n;
  uint8_t *f = example_index(&n);
  pv_index_view v, ref;
  assert_int_equal(pv_index_validate(f, n, &ref, NULL, 0), PV_OK);
  const pv_index_header orig = ref.header;
  for (size_t i = from; i < to; i++) {
    uint8_t keep = f[i];
    f[i] = 0x5a;
    pvh_reseal_index(f, n);
    pv_status st = index_status(f, n);
    if (st != want)
      fail_msg("index byte %zu non-zero: %s, expected %s", i, pv_status_name(st),
               pv_status_name(want));
    if (st == PV_OK) {
      /* Ignored means ignored: the view is the one of the original file. */
      assert_int_equal(pv_index_validate(f, n, &v, NULL, 0), PV_OK);
      assert_memory_equal(&v.header, &orig, sizeof orig);
    }
    f[i] = keep;
    pvh_reseal_index(f, n);
  }
  free(f);
}

static void test_unused_bytes_are_ignored(void **state) {
  (void)state;
  const size_t T = 192, F = 272; /* the example shard's table and footer */
  /* Unused: shard header [52, 56), index header [216, 248). */
  shard_bytes_give(52, 56, PV_OK);
  index_bytes_give(216, 248, PV_OK);
  /* Reserved, every byte: shard header [48, 52), record entry [28, 32),
   * shard footer [40, 48); index header [208, 216), shard reference
   * [20, 24), class entry [12, 16). */
  shard_bytes_give(48, 52, PV_ERR_CORRUPT);
  shard_bytes_give(T + 28, T + 32, PV_ERR_CORRUPT);
  shard_bytes_give(T + 40 + 28, T + 40 + 32, PV_ERR_CORRUPT);
  shard_bytes_give(F + 40, F + 48, PV_ERR_CORRUPT);
  index_bytes_give(208, 216, PV_ERR_CORRUPT);
  index_bytes_give(256 + 20, 256 + 24, PV_ERR_CORRUPT);
  index_bytes_give(288 + 12, 288 + 16, PV_ERR_CORRUPT);
  index_bytes_give(288 + 24 + 12, 288 + 24 + 16, PV_ERR_CORRUPT);
  /* The header decoder alone says the same. */
  size_t n;
  uint8_t *f = example_shard(&n, NULL);
  pv_shard_header h;
  f[53] = 7;
  reseal_shard(f, n);
  assert_int_equal(pv_shard_header_decode(f, n, &h, NULL, NULL, 0), PV_OK);
  assert_int_equal(h.dataset_id, EXAMPLE_DATASET_ID);
  f[49] = 7;
  reseal_shard(f, n);
  assert_int_equal(pv_shard_header_decode(f, n, &h, NULL, NULL, 0), PV_ERR_CORRUPT);
  free(f);
}

/* The example index with `extra` bytes of a later minor version's section 6
 * between the end of section 5 and the trailer, described at header offset
 * 216 (an unused field to a 1.0 reader), all checksums right. */
static uint8_t *index_with_extension(size_t extra, size_t *size) {
  size_t n;
  uint8_t *f = example_index(&n);
  const size_t body = n - PV_INDEX_TRAILER_SIZE; /* 392: align8(end of section 5) */
  uint8_t *g = calloc(1, n + extra);
  assert_non_null(g);
  memcpy(g, f, body);
  for (size_t i = 0; i < extra; i++) g[body + i] = (uint8_t)(0x80 + i);
  memcpy(g + body + extra, f + body, PV_INDEX_TRAILER_SIZE);
  pv_store64(g + 24, n + extra);
  pv_store64(g + 216, body);
  pv_store64(g + 224, extra);
  pv_store64(g + 232, pv_checksum(g + body, extra));
  pvh_reseal_index(g, n + extra);
  free(f);
  *size = n + extra;
  return g;
}

static void test_index_extension_area(void **state) {
  (void)state;
  size_t n0, n;
  uint8_t *f0 = example_index(&n0);
  pv_index_view v0, v;
  assert_int_equal(pv_index_validate(f0, n0, &v0, NULL, 0), PV_OK);
  /* A 1.1 index with a section 6 of 24 bytes: a 1.0 reader reads the six
   * sections it knows, exactly as in the 1.0 file. */
  uint8_t *f = index_with_extension(24, &n);
  assert_int_equal(index_status(f, n), PV_OK);
  assert_int_equal(pv_index_validate(f, n, &v, NULL, 0), PV_OK);
  assert_int_equal(v.header.file_size, n0 + 24);
  assert_memory_equal(v.header.sections, v0.header.sections, sizeof v0.header.sections);
  assert_int_equal(pv_index_check_class_counts(&v, (uint64_t[2]){0}, NULL, 0), PV_OK);
  /* The area's bytes are not checked by a 1.0 reader (a 1.1 reader checks
   * them against the descriptor): a changed byte there, resealed or not,
   * still opens. */
  f[n0 - PV_INDEX_TRAILER_SIZE + 3] ^= 0xff;
  assert_int_equal(index_status(f, n), PV_OK);
  free(f);
  /* The trailer must stay 8-aligned (file size a multiple of 8). */
  f = index_with_extension(20, &n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  free(f);
  /* The header's file_size still has to match. */
  f = index_with_extension(16, &n);
  pv_store64(f + 24, n0);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_CORRUPT);
  free(f);
  free(f0);
}

/* A codec beyond 1.0's announces itself with PV_INCOMPAT_CODECS in every
 * header of the dataset; a 1.0 reader refuses the files at once (and, flag
 * or not, any record whose codec it does not know). */
static void test_new_codec_flag(void **state) {
  (void)state;
  assert_int_equal(PV_INCOMPAT_KNOWN & PV_INCOMPAT_CODECS, 0);
  size_t n;
  uint8_t *f = example_index(&n);
  pv_store32(f + 16, PV_INCOMPAT_CODECS);
  pvh_reseal_index(f, n);
  assert_int_equal(index_status(f, n), PV_ERR_VERSION);
  free(f);
  f = example_shard(&n, NULL);
  pv_store32(f + 16, PV_INCOMPAT_CODECS);
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_VERSION);
  free(f);
  f = example_shard(&n, NULL);
  f[192 + 24] = PV_CODEC_COUNT; /* the first codec id 1.0 does not define */
  reseal_shard(f, n);
  assert_int_equal(shard_status(f, n), PV_ERR_VERSION);
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_example_shard_matches_spec),
      cmocka_unit_test(test_example_index_matches_spec),
      cmocka_unit_test(test_load_store),
      cmocka_unit_test(test_shard_header_roundtrip),
      cmocka_unit_test(test_shard_footer_roundtrip),
      cmocka_unit_test(test_record_entry_roundtrip),
      cmocka_unit_test(test_shard_roundtrip),
      cmocka_unit_test(test_shard_writer),
      cmocka_unit_test(test_shard_matches_ref),
      cmocka_unit_test(test_index_roundtrip),
      cmocka_unit_test(test_index_find_shard),
      cmocka_unit_test(test_index_class_counts_and_record_decode),
      cmocka_unit_test(test_shard_golden_negatives),
      cmocka_unit_test(test_index_golden_negatives),
      cmocka_unit_test(test_index_section_past_trailer),
      cmocka_unit_test(test_every_bit_flip_is_caught),
      cmocka_unit_test(test_every_truncation_is_caught),
      cmocka_unit_test(test_unused_bytes_are_ignored),
      cmocka_unit_test(test_index_extension_area),
      cmocka_unit_test(test_new_codec_flag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
