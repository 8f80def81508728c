/* build_options.c - pv_build_options from its table (build_options.h): the
 * defaults, the range checks, the descriptors, the options text. */
#include "build_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "pv_format.h"
#include "resample.h"

static const pv_option_choice pv__resize_choices[] = {{"shorter", PV_RESIZE_SHORTER},
                                                      {"longer", PV_RESIZE_LONGER},
                                                      {"none", PV_RESIZE_NONE},
                                                      {NULL, 0}};
/* The format's codecs (PV_CODEC_LIST, pv_format.h) and auto. */
#define CODEC_CHOICE(sym, id, name) {name, id},
static const pv_option_choice pv__pack_codec_choices[] = {
    PV_CODEC_LIST(CODEC_CHOICE){"auto", PV_PACK_CODEC_AUTO}, {NULL, 0}};
#undef CODEC_CHOICE
static const pv_option_choice pv__progress_choices[] = {
    {"auto", -1}, {"bar", 1}, {"lines", 2}, {"none", 0}, {NULL, 0}};

#define ROW(name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help, key) \
  PV__OPTION_ROW(pv_build_options, name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help)
static const pv_option_info k_options[] = {PV__BUILD_OPTIONS(ROW)};
#undef ROW
#define KEY(name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help, key) key,
static const char *const k_keys[] = {PV__BUILD_OPTIONS(KEY)};
#undef KEY
#define N_OPTIONS (sizeof k_options / sizeof *k_options)

PV__OPTION_ACCESSORS(pv_build, k_options)

void pv_build_options_init(pv_build_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  pv__options_init(k_options, N_OPTIONS, o);
}

pv_status pv_build_options_check(const pv_build_options *o, char *err, size_t errcap) {
  char ebuf[256];
  if (!err || !errcap) err = ebuf, errcap = sizeof ebuf;
  err[0] = 0;
  if (!o) return PV_ERR_INVALID_ARG;
  pv_status st = pv__options_check(k_options, N_OPTIONS, o, err, errcap);
  if (st != PV_OK) return st;
  if (o->zstd_level > ZSTD_maxCLevel()) { /* 22 in every libzstd so far */
    snprintf(err, errcap, "zstd_level must be 1..%d", ZSTD_maxCLevel());
    return PV_ERR_INVALID_ARG;
  }
  return PV_OK;
}

/* "key=value" for every row with a key, in table order, after the lines
 * that name the tool, the format and the source. auto_threshold is written
 * only with codec auto (the only codec it changes). */
char *pv__build_options_text(const pv_build_options *o, const char *src_abs) {
  char *t = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&t, &n);
  if (!f) return NULL;
  fprintf(f, "tool=pvpack %s\n", PV_VERSION_STRING);
  fprintf(f, "format=%u.%u\n", PV_FORMAT_VERSION_MAJOR, PV_FORMAT_VERSION_MINOR);
  fprintf(f, "source=%s\n", src_abs);
  for (size_t i = 0; i < N_OPTIONS; i++) {
    const pv_option_info *d = &k_options[i];
    if (!k_keys[i]) continue;
    if (!strcmp(d->name, "auto_threshold") && o->codec != PV_PACK_CODEC_AUTO) continue;
    int64_t s = 0;
    uint64_t u = 0;
    pv_option_get(d, o, &s, &u, NULL);
    if (d->kind == PV_OPTION_CHOICE) {
      const char *name = pv_option_choice_name(d, (int)s);
      fprintf(f, "%s=%s\n", k_keys[i], name ? name : "unknown");
    } else if (d->is_signed) {
      fprintf(f, "%s=%lld\n", k_keys[i], (long long)s);
    } else {
      fprintf(f, "%s=%llu\n", k_keys[i], (unsigned long long)u);
    }
  }
  if (fclose(f) != 0) {
    free(t);
    return NULL;
  }
  return t;
}
