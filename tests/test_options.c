/* test_options.c - the options tables (issue 10, item 4): pv_build_options,
 * pv_loader_options, pv_limits and pv_verify_options each have one table (pv_option.h) from
 * which *_init, the range checks of pv_build / pv_loader_create / pv_verify, the CLI's
 * flags and --help, and the Python keywords come. Here: every default
 * passes its own check, a value out of a row's range is refused by the
 * setters and by the validate function the library calls, the command's
 * --help lists every row with its default, and the text parser follows the
 * command line's syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pv_option.h"
#include "pv_pack.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "testutil.h"

typedef const pv_option_info *(*table_fn)(size_t);

typedef struct table {
  const char *what;
  table_fn info;
  size_t (*count)(void);
  size_t struct_size;
  void (*init)(void *);
  pv_status (*check)(const void *); /* the library's validate function, or NULL */
} table;

static void init_build(void *p) { pv_build_options_init(p); }
static void init_loader(void *p) { pv_loader_options_init(p); }
static void init_limits(void *p) { pv_limits_init(p); }
static pv_status check_build(const void *p) { return pv_build_options_check(p, NULL, 0); }
static pv_status check_loader(const void *p) { return pv_loader_options_check(p, NULL, 0); }
static void init_verify(void *p) { pv_verify_options_init(p); }
/* pv_verify has no separate validate function: it checks the options before
 * it looks at the directory, so a missing one gives PV_ERR_NOT_FOUND for
 * valid options and PV_ERR_INVALID_ARG (the option named in summary.error)
 * for others. */
static pv_status check_verify(const void *p) {
  pv_verify_summary sum;
  pv_status st = pv_verify("/nonexistent-pvpack-verify-dir", p, &sum);
  if (st == PV_ERR_NOT_FOUND) return PV_OK;
  if (st == PV_ERR_INVALID_ARG) assert_true(sum.error[0] != 0);
  return st;
}

static const table k_tables[] = {
    {"build", pv_build_option_info, pv_build_option_count, sizeof(pv_build_options), init_build,
     check_build},
    {"loader", pv_loader_option_info, pv_loader_option_count, sizeof(pv_loader_options),
     init_loader, check_loader},
    {"limits", pv_limits_option_info, pv_limits_option_count, sizeof(pv_limits), init_limits,
     NULL},
    {"verify", pv_verify_option_info, pv_verify_option_count, sizeof(pv_verify_options),
     init_verify, check_verify},
};
#define N_TABLES (sizeof k_tables / sizeof *k_tables)

/* Every row's default is what *_init stores, and passes the row's check and
 * the library's check of the whole struct; every CHOICE default is one of its
 * choices; the table covers its struct (rows inside it, no two rows on the
 * same field or with the same name). */
static void test_defaults_pass_their_checks(void **state) {
  (void)state;
  for (size_t t = 0; t < N_TABLES; t++) {
    const table *T = &k_tables[t];
    unsigned char s[4096];
    assert_true(T->struct_size <= sizeof s);
    T->init(s);
    assert_true(T->count() > 0);
    assert_null(T->info(T->count()));
    for (size_t i = 0; i < T->count(); i++) {
      const pv_option_info *o = T->info(i);
      char err[256] = "";
      assert_non_null(o);
      assert_true(o->offset >= sizeof(size_t)); /* never the size field */
      assert_true(o->offset + o->size <= T->struct_size);
      if (pv_option_check(o, s, err, sizeof err) != PV_OK)
        fail_msg("%s option %s: default refused: %s", T->what, o->name, err);
      int64_t iv = 0;
      uint64_t uv = 0;
      double f[3] = {0, 0, 0};
      pv_option_get(o, s, &iv, &uv, f);
      if (o->kind == PV_OPTION_FLOAT || o->kind == PV_OPTION_FLOAT3) {
        for (int c = 0; c < (o->kind == PV_OPTION_FLOAT ? 1 : 3); c++)
          assert_true((float)f[c] == (float)o->fdef[c]);
      } else if (o->def < 0) {
        assert_int_equal(iv, o->def);
      } else {
        assert_int_equal(uv, (uint64_t)o->def);
      }
      if (o->kind == PV_OPTION_CHOICE) assert_non_null(pv_option_choice_name(o, (int)o->def));
      char def[64];
      assert_true(pv_option_default_text(o, def, sizeof def) > 0);
      if (o->kind != PV_OPTION_BOOL && !o->arg)
        fail_msg("%s option %s: no value name for --help", T->what, o->name);
      assert_non_null(o->help);
      for (size_t j = 0; j < i; j++) {
        if (!strcmp(T->info(j)->name, o->name)) fail_msg("%s: %s twice", T->what, o->name);
        if (T->info(j)->offset == o->offset) fail_msg("%s: field %s twice", T->what, o->field);
      }
    }
    if (T->check) assert_int_equal(T->check(s), PV_OK);
  }
  /* ImageNet's statistics are the loader's default (PV_IMAGENET_*). */
  pv_loader_options lo;
  pv_loader_options_init(&lo);
  const float m[3] = {PV_IMAGENET_MEAN}, sd[3] = {PV_IMAGENET_STD};
  assert_memory_equal(lo.mean, m, sizeof m);
  assert_memory_equal(lo.std, sd, sizeof sd);
  assert_true(lo.mean[0] == 0.485f && lo.std[2] == 0.225f);
}

/* Writes v into the integer field of o directly (as a C caller would). */
static void poke(const pv_option_info *o, void *s, uint64_t v) {
  unsigned char *p = (unsigned char *)s + o->offset;
  if (o->size == 4) {
    uint32_t x = (uint32_t)v;
    memcpy(p, &x, 4);
  } else {
    memcpy(p, &v, 8);
  }
}

/* One past either end of an integer row's range is refused by the setters
 * (the struct unchanged) and, written into the struct directly, by the
 * library's validate function (pv_build / pv_loader_create return
 * PV_ERR_INVALID_ARG for it). jpeg_restart 65536, for one, was accepted by
 * pv_build before the table (only the CLI bounded it). */
static void test_out_of_range_is_refused(void **state) {
  (void)state;
  int tried = 0;
  for (size_t t = 0; t < N_TABLES; t++) {
    const table *T = &k_tables[t];
    for (size_t i = 0; i < T->count(); i++) {
      const pv_option_info *o = T->info(i);
      if (o->kind != PV_OPTION_INT && o->kind != PV_OPTION_BYTES) continue;
      const uint64_t type_max = o->size == 4 ? (o->is_signed ? INT32_MAX : UINT32_MAX)
                                             : (o->is_signed ? INT64_MAX : UINT64_MAX);
      unsigned char s[4096], before[4096];
      char err[256];
      if (o->max < type_max) {
        T->init(s);
        memcpy(before, s, T->struct_size);
        assert_int_equal(pv_option_set_uint(o, s, o->max + 1, err, sizeof err),
                         PV_ERR_INVALID_ARG);
        assert_non_null(strstr(err, o->name));
        assert_memory_equal(s, before, T->struct_size);
        assert_int_equal(pv_option_set_uint(o, s, o->max, err, sizeof err), PV_OK);
        if (T->check) {
          poke(o, s, o->max + 1);
          if (T->check(s) != PV_ERR_INVALID_ARG)
            fail_msg("%s option %s = max + 1 passes the check", T->what, o->name);
        }
        tried++;
      }
      if (o->min > 0) {
        T->init(s);
        assert_int_equal(pv_option_set_uint(o, s, (uint64_t)o->min - 1, err, sizeof err),
                         PV_ERR_INVALID_ARG);
        if (T->check) {
          poke(o, s, (uint64_t)o->min - 1);
          assert_int_equal(T->check(s), PV_ERR_INVALID_ARG);
        }
        tried++;
      }
    }
  }
  assert_true(tried > 10);
  /* Through pv_build itself: the options are checked before anything else. */
  pv_build_options o;
  pv_build_options_init(&o);
  o.jpeg_restart = 65536;
  char err[256] = "";
  assert_int_equal(pv_build("/nonexistent-src", "/nonexistent-out", &o, NULL, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "jpeg_restart"));
  pv_build_options_init(&o);
  o.progress = 7; /* not one of auto, bar, lines, none */
  assert_int_equal(pv_build("/nonexistent-src", NULL, &o, NULL, NULL, 0), PV_ERR_INVALID_ARG);
  /* BOOL fields keep C's "non-zero is true". */
  pv_build_options_init(&o);
  o.strict = 5;
  assert_int_equal(pv_build_options_check(&o, NULL, 0), PV_OK);
}

/* pv_verify checks its options before it reads anything: a negative count
 * (which it took as "all" / "the CPUs" before the table) is refused, the
 * option named in summary.error, the summary zeroed. */
static void test_verify_checks_its_options(void **state) {
  (void)state;
  const char *names[] = {"threads", "max_problems"};
  for (size_t k = 0; k < 2; k++) {
    pv_verify_options o;
    pv_verify_options_init(&o);
    if (k == 0) o.threads = -1;
    else o.max_problems = -1;
    pv_verify_summary sum;
    memset(&sum, 0xab, sizeof sum);
    assert_int_equal(pv_verify("/nonexistent-pvpack-verify-dir", &o, &sum), PV_ERR_INVALID_ARG);
    assert_non_null(strstr(sum.error, names[k]));
    assert_int_equal(sum.problems, 0);
    assert_int_equal(sum.records_checked, 0);
  }
}

/* The command line's value syntax, as the setters parse it. */
static void test_text_values(void **state) {
  (void)state;
  pv_build_options b;
  pv_loader_options l;
  pv_build_options_init(&b);
  pv_loader_options_init(&l);
  const pv_option_info *shard = NULL, *filter = NULL, *keep = NULL, *rank = NULL, *mean = NULL,
                       *flip = NULL, *threads = NULL;
  for (size_t i = 0; pv_build_option_info(i); i++) {
    const pv_option_info *o = pv_build_option_info(i);
    if (!strcmp(o->name, "shard_size")) shard = o;
    if (!strcmp(o->name, "filter")) filter = o;
    if (!strcmp(o->name, "keep_original")) keep = o;
    if (!strcmp(o->name, "threads")) threads = o;
  }
  for (size_t i = 0; pv_loader_option_info(i); i++) {
    const pv_option_info *o = pv_loader_option_info(i);
    if (!strcmp(o->name, "rank")) rank = o;
    if (!strcmp(o->name, "mean")) mean = o;
    if (!strcmp(o->name, "flip_prob")) flip = o;
  }
  assert_non_null(shard && filter && keep && rank && mean && flip && threads);
  assert_int_equal(pv_option_set_text(shard, &b, "32M", NULL, 0), PV_OK);
  assert_int_equal(b.shard_bytes, 32ull << 20);
  assert_int_equal(pv_option_set_text(shard, &b, "5KiB", NULL, 0), PV_OK);
  assert_int_equal(b.shard_bytes, 5120);
  const char *bad[] = {" 5M", "5M ", "", "5X", "-5", "18446744073709551616", "1G1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(pv_option_set_text(shard, &b, bad[i], NULL, 0), PV_ERR_INVALID_ARG);
  assert_int_equal(b.shard_bytes, 5120);
  assert_int_equal(pv_option_set_text(threads, &b, "-3", NULL, 0), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_option_set_text(filter, &b, "BICUBIC", NULL, 0), PV_OK);
  assert_int_equal(b.filter, PV_FILTER_BICUBIC);
  assert_int_equal(pv_option_set_text(filter, &b, "box", NULL, 0), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_option_set_text(keep, &b, "no", NULL, 0), PV_OK);
  assert_int_equal(b.keep_original, 0);
  assert_int_equal(pv_option_set_text(rank, &l, "-1", NULL, 0), PV_OK);
  assert_int_equal(pv_option_set_text(rank, &l, "3", NULL, 0), PV_OK);
  assert_int_equal(l.rank, 3);
  assert_int_equal(pv_option_set_text(rank, &l, "-2", NULL, 0), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_option_set_text(mean, &l, "0.5,0.25,0", NULL, 0), PV_OK);
  assert_true(l.mean[0] == 0.5f && l.mean[1] == 0.25f && l.mean[2] == 0.0f);
  assert_int_equal(pv_option_set_text(mean, &l, "0.5,0.25", NULL, 0), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_option_set_text(flip, &l, "1.5", NULL, 0), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_option_set_text(flip, &l, "nan", NULL, 0), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_option_set_text(flip, &l, "0.25", NULL, 0), PV_OK);
  assert_true(l.flip_prob == 0.25);
  char flag[64];
  pv_option_flag(keep, flag, sizeof flag);
  assert_string_equal(flag, "--no-keep-original");
  pv_option_flag(shard, flag, sizeof flag);
  assert_string_equal(flag, "--shard-size");
}

/* The --help of each command lists the flag of every row flagged
 * PV_OPTION_CLI, with the default the table gives; every build row is a
 * flag of `pvpack build`, every verify row one of `pvpack verify`. */
static void test_cli_help_lists_every_entry(void **state) {
  (void)state;
  struct {
    const char *cmd;
    table_fn info;
  } cases[] = {{"build", pv_build_option_info},  {"bench", pv_loader_option_info},
               {"bench", pv_limits_option_info}, {"verify", pv_limits_option_info},
               {"get", pv_limits_option_info},   {"verify", pv_verify_option_info}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char *out = NULL;
    const char *argv[] = {cases[c].cmd, "--help", NULL};
    assert_int_equal(pvt_run_cli(&out, argv), 0);
    assert_non_null(out);
    int listed = 0;
    for (size_t i = 0; cases[c].info(i); i++) {
      const pv_option_info *o = cases[c].info(i);
      if ((cases[c].info == pv_build_option_info || cases[c].info == pv_verify_option_info) &&
          !(o->flags & PV_OPTION_CLI))
        fail_msg("%s option %s has no flag", cases[c].cmd, o->name);
      if (!(o->flags & PV_OPTION_CLI)) continue;
      char flag[96], line[128], def[64];
      pv_option_flag(o, flag, sizeof flag);
      snprintf(line, sizeof line, "\n  %s%s", flag, o->kind == PV_OPTION_BOOL ? " " : " ");
      const char *at = strstr(out, line);
      if (!at) fail_msg("pvpack %s --help does not list %s:\n%s", cases[c].cmd, flag, out);
      if (o->kind != PV_OPTION_BOOL) {
        /* the default, before the next flag's line */
        pv_option_default_text(o, def, sizeof def);
        char want[96];
        snprintf(want, sizeof want, "(default %s", def);
        const char *next = strstr(at + 1, "\n  -");
        const char *d = strstr(at, want);
        if (!d || (next && d > next))
          fail_msg("pvpack %s --help: %s without '%s'", cases[c].cmd, flag, want);
      }
      listed++;
    }
    assert_true(listed > 0);
    free(out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_pass_their_checks),
      cmocka_unit_test(test_out_of_range_is_refused),
      cmocka_unit_test(test_verify_checks_its_options),
      cmocka_unit_test(test_text_values),
      cmocka_unit_test(test_cli_help_lists_every_entry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
