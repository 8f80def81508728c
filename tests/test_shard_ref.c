/* test_shard_ref.c - a shard against the index's reference to it
 * (spec/FORMAT.md 9.3: size, footer checksum, header shard index, first
 * record, record count, dataset id), the one check that pv_dataset_open and
 * pv_verify share (pv_shard_matches_ref, format/).
 *
 * Each case takes a consistent dataset written with tests/hostile.h, alters
 * one field of one shard or of the index, and recomputes every checksum the
 * edit touches (the shard's header, footer and, where the footer changed,
 * the footer checksum the index keeps for it; the index's sections and
 * header), so that the disagreement itself is all that is left for a
 * reader to find. Then open must refuse the dataset and verify must report
 * the disagreement, naming the shard and the field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"
#include "pv_format.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "testutil.h"

#define NREC 6u
#define PER 2u
#define MSGCAP 4096

static char g_msg[MSGCAP];

/* Byte offset of shard k's reference in the index. */
static size_t ref_offset(const uint8_t *ix, uint32_t k) {
  return (size_t)pv_load64(ix + 64 + 24 * PV_SEC_SHARDS) + (size_t)k * PV_SHARD_REF_SIZE;
}

/* ---- the dataset ---------------------------------------------------------- */

typedef struct fixture {
  char *dir;
  char *index_path, *shard_path;  /* index.pvi, shard-00001.pvs */
  uint8_t *index, *shard;
  size_t index_size, shard_size;
} fixture;

static int setup(void **state) {
  static uint8_t payloads[NREC][3];
  pvh_record r[NREC];
  memset(r, 0, sizeof r);
  for (uint32_t i = 0; i < NREC; i++) {
    payloads[i][0] = (uint8_t)(i * 40);
    r[i].codec = PV_CODEC_RAW;
    r[i].width = r[i].height = 1;
    r[i].label = r[i].index_label = i % 2;
    r[i].payload = payloads[i];
    r[i].length = 3;
  }
  pvh_spec spec = {0};
  spec.class_count = 2;
  spec.records = r;
  spec.record_count = NREC;
  spec.records_per_shard = PER;
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char *root = pvt_mkdtemp("shardref");
  assert_non_null(root);
  f->dir = pvt_join(root, "ds");
  free(root);
  assert_int_equal(pvh_write_dataset(f->dir, &spec), 0);
  f->index_path = pvt_join(f->dir, PV_INDEX_FILENAME);
  f->shard_path = pvt_join(f->dir, "shard-00001.pvs");
  assert_non_null(f->index = pvt_read_file(f->index_path, &f->index_size));
  assert_non_null(f->shard = pvt_read_file(f->shard_path, &f->shard_size));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  char *root = strdup(f->dir);
  char *slash = strrchr(root, '/');
  *slash = 0;
  pvt_rmrf(root);
  free(root);
  free(f->index);
  free(f->shard);
  free(f->index_path);
  free(f->shard_path);
  free(f->dir);
  free(f);
  return 0;
}

/* Writes the altered copies (the fixture keeps the originals). */
static void write_files(fixture *f, const uint8_t *ix, const uint8_t *sh) {
  assert_int_equal(pvt_write_file(f->index_path, ix, f->index_size), 0);
  assert_int_equal(pvt_write_file(f->shard_path, sh, f->shard_size), 0);
}

static void restore(fixture *f) { write_files(f, f->index, f->shard); }

/* ---- what the readers say ------------------------------------------------- */

static void collect(void *ctx, const char *file, int64_t record, const char *source,
                    pv_status st, const char *what) {
  (void)ctx;
  (void)source;
  size_t n = strlen(g_msg);
  if (n + 1 < MSGCAP)
    snprintf(g_msg + n, MSGCAP - n, "[%s rec %lld %s: %s]", file, (long long)record,
             pv_status_name(st), what);
}

/* Open refuses with want, err names shard 1 and holds needle; verify
 * returns want and reports, against shard-00001.pvs, a problem holding
 * needle. */
static void expect_refused(const fixture *f, pv_status want, const char *needle) {
  char err[512] = "";
  pv_dataset *ds = NULL;
  pv_status st = pv_dataset_open(f->dir, NULL, &ds, err, sizeof err);
  pv_dataset_close(ds);
  if (st != want || !strstr(err, "shard-00001.pvs") || !strstr(err, needle))
    fail_msg("open: %s \"%s\" (want %s, \"%s\")", pv_status_name(st), err, pv_status_name(want),
             needle);

  pv_verify_options o;
  pv_verify_options_init(&o);
  o.threads = 1;
  o.problem = collect;
  pv_verify_summary s;
  g_msg[0] = 0;
  st = pv_verify(f->dir, &o, &s);
  char want_problem[256];
  snprintf(want_problem, sizeof want_problem, "[shard-00001.pvs rec -1 %s: ",
           pv_status_name(want));
  const char *p = strstr(g_msg, want_problem);
  if (st != want || s.problems == 0 || !p || !strstr(p, needle))
    fail_msg("verify: %s, %llu problems: %s (want %s, \"%s\")", pv_status_name(st),
             (unsigned long long)s.problems, g_msg, pv_status_name(want), needle);
}

/* The fixture is consistent: open and verify accept it. */
static void test_consistent(void **state) {
  fixture *f = *state;
  restore(f);
  char err[512] = "";
  pv_dataset *ds = NULL;
  assert_int_equal(pv_dataset_open(f->dir, NULL, &ds, err, sizeof err), PV_OK);
  assert_int_equal(pv_dataset_shard_count(ds), NREC / PER);
  pv_dataset_close(ds);
  pv_verify_summary s;
  assert_int_equal(pv_verify(f->dir, NULL, &s), PV_OK);
  assert_int_equal(s.problems, 0);
}

/* Copies of the fixture's index and shard 1, to edit. */
typedef struct edit {
  uint8_t *ix, *sh;
  uint8_t *footer; /* shard 1's footer in sh */
} edit;

static edit edit_begin(const fixture *f) {
  edit e;
  e.ix = malloc(f->index_size);
  e.sh = malloc(f->shard_size);
  assert_true(e.ix && e.sh);
  memcpy(e.ix, f->index, f->index_size);
  memcpy(e.sh, f->shard, f->shard_size);
  e.footer = e.sh + f->shard_size - PV_SHARD_FOOTER_SIZE;
  return e;
}

/* Reseals the edited shard (when shard_edited) and stores its new footer
 * checksum in the index, reseals the index, writes both, and expects open
 * and verify to refuse the dataset; then puts the fixture back. */
static void edit_expect(fixture *f, edit *e, int shard_edited, pv_status want,
                        const char *needle) {
  if (shard_edited)
    pv_store64(e->ix + ref_offset(e->ix, 1) + 24, pvh_reseal_shard(e->sh, f->shard_size));
  pvh_reseal_index(e->ix, f->index_size);
  write_files(f, e->ix, e->sh);
  expect_refused(f, want, needle);
  restore(f);
  free(e->ix);
  free(e->sh);
}

/* Shard 1's header and footer say another dataset id. */
static void test_dataset_id(void **state) {
  fixture *f = *state;
  edit e = edit_begin(f);
  const uint64_t id = pv_load64(e.sh + 24), other = id ^ 0x5a5a;
  pv_store64(e.sh + 24, other);
  pv_store64(e.footer + 16, other);
  char needle[256];
  snprintf(needle, sizeof needle,
           "header says shard 1, records [2, +2), dataset %016llx; the index expects shard 1, "
           "[2, +2), dataset %016llx",
           (unsigned long long)other, (unsigned long long)id);
  edit_expect(f, &e, 1, PV_ERR_CORRUPT, needle);
}

/* Shard 1's header starts one record later (the footer does not carry
 * first_record). */
static void test_first_record(void **state) {
  fixture *f = *state;
  edit e = edit_begin(f);
  pv_store64(e.sh + 40, pv_load64(e.sh + 40) + 1);
  edit_expect(f, &e, 1, PV_ERR_CORRUPT, "header says shard 1, records [3, +2)");
}

/* Shard 1 says it is shard 2 (header and footer). */
static void test_shard_index(void **state) {
  fixture *f = *state;
  edit e = edit_begin(f);
  pv_store32(e.sh + 32, 2);
  pv_store32(e.footer + 12, 2);
  edit_expect(f, &e, 1, PV_ERR_CORRUPT, "header says shard 2, records [2, +2)");
}

/* The index's footer checksum for shard 1 is another one. */
static void test_footer_checksum(void **state) {
  fixture *f = *state;
  edit e = edit_begin(f);
  size_t r = ref_offset(e.ix, 1);
  pv_store64(e.ix + r + 24, pv_load64(e.ix + r + 24) ^ 1);
  edit_expect(f, &e, 0, PV_ERR_CHECKSUM, "footer checksum differs from the one the index records");
}

/* The index says shard 1 is 64 bytes longer than it is. */
static void test_file_size(void **state) {
  fixture *f = *state;
  edit e = edit_begin(f);
  size_t r = ref_offset(e.ix, 1);
  pv_store64(e.ix + r, pv_load64(e.ix + r) + 64);
  edit_expect(f, &e, 0, PV_ERR_TRUNCATED, "file is 336 bytes, the index says 400");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_consistent),      cmocka_unit_test(test_dataset_id),
      cmocka_unit_test(test_first_record),    cmocka_unit_test(test_shard_index),
      cmocka_unit_test(test_footer_checksum), cmocka_unit_test(test_file_size),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
