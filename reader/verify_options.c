/* verify_options.c - pv_verify_options from its table (verify_options.h):
 * the defaults, the checks of pv_verify, the descriptors. */
#include "verify_options.h"

#include <string.h>

#define ROW(name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help) \
  PV__OPTION_ROW(pv_verify_options, name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help)
static const pv_option_info k_options[] = {PV__VERIFY_OPTIONS(ROW)};
#undef ROW
#define N_OPTIONS (sizeof k_options / sizeof *k_options)

PV__OPTION_ACCESSORS(pv_verify, k_options)

void pv_verify_options_init(pv_verify_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  pv__options_init(k_options, N_OPTIONS, o);
  pv_limits_init(&o->limits);
}

pv_status pv__verify_options_check(const pv_verify_options *o, char *err, size_t cap) {
  char ebuf[256];
  if (!err || !cap) err = ebuf, cap = sizeof ebuf;
  err[0] = 0;
  if (!o) return PV_ERR_INVALID_ARG;
  return pv__options_check(k_options, N_OPTIONS, o, err, cap);
}
