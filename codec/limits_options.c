/* limits_options.c - pv_limits from its table (limits_options.h). */
#include "limits_options.h"

#include <string.h>

#define ROW(name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help) \
  PV__OPTION_ROW(pv_limits, name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help)
static const pv_option_info k_options[] = {PV__LIMITS_OPTIONS(ROW)};
#undef ROW
#define N_OPTIONS (sizeof k_options / sizeof *k_options)

PV__OPTION_ACCESSORS(pv_limits, k_options)

void pv_limits_init(pv_limits *l) {
  if (!l) return;
  memset(l, 0, sizeof *l);
  l->size = sizeof *l;
  pv__options_init(k_options, N_OPTIONS, l);
}
