/* option_table.h - how a module writes the table of an options struct
 * (internal to the library; the public side is pv_option.h).
 *
 * A table is an X-macro listing one row per field, in --help order:
 *
 *   X(name, field, group, ctype, kind, def, min, max, choices, flags, arg, help)
 *
 *   name     the Python keyword, bare (jpeg_restart); the CLI flag follows
 *            from it (pv_option.h)
 *   field    the struct field, bare
 *   group    NULL or "size": the keyword shared by consecutive rows
 *   ctype    the field's C type (int, uint32_t, uint64_t, double, float for
 *            a float[3], the enum type): says whether it is signed
 *   kind     BOOL, INT, BYTES, FLOAT, FLOAT3 or CHOICE (PV_OPTION_ + it)
 *   def      the default: a number, a constant, for FLOAT3 a parenthesized
 *            list "(PV_IMAGENET_MEAN)"
 *   min, max the range, inclusive (integers; doubles for FLOAT/FLOAT3;
 *            ignored for BOOL and CHOICE)
 *   choices  CHOICE: a pv_option_choice array ending in {NULL, 0}; else NULL
 *   flags    PV_OPTION_CLI or 0
 *   arg      the value's name in --help ("N"); NULL for BOOL
 *   help     one sentence: what it does; --help adds the choices and the
 *            default
 *
 * and its module instantiates it with PV__OPTION_ROW (one pv_option_info per
 * row) into a static array, from which pv__options_init fills the defaults
 * of *_init and pv__options_check makes the range checks of the module's
 * validate function. See pack/build_options.h for an example. A new option
 * is one row (and its field): the CLI flag, --help line and Python keyword
 * follow; only a check across fields needs code (the module's *_check).
 */
#ifndef PV_OPTION_TABLE_H
#define PV_OPTION_TABLE_H

#include <stddef.h>

#include "pv_option.h"

#define PV__OPT_ID(...) __VA_ARGS__
/* (Macro parameters end in _: they must not be the names of the members.) */
#define PV__OPT_VAL_BOOL(d_, lo_, hi_) .min = 0, .max = 1, .def = (d_)
#define PV__OPT_VAL_INT(d_, lo_, hi_) .min = (lo_), .max = (hi_), .def = (d_)
#define PV__OPT_VAL_BYTES(d_, lo_, hi_) .min = (lo_), .max = (hi_), .def = (d_)
#define PV__OPT_VAL_CHOICE(d_, lo_, hi_) .min = 0, .max = 0, .def = (d_)
#define PV__OPT_VAL_FLOAT(d_, lo_, hi_) .fmin = (lo_), .fmax = (hi_), .fdef = {(d_), 0, 0}
#define PV__OPT_VAL_FLOAT3(d_, lo_, hi_) .fmin = (lo_), .fmax = (hi_), .fdef = {PV__OPT_ID d_}

/* One pv_option_info for a row of a table over struct type STRUCT. */
#define PV__OPTION_ROW(STRUCT, name_, field_, group_, ctype_, kind_, d_, lo_, hi_, choices_,     \
                       flags_, arg_, help_)                                                      \
  {.name = #name_,                                                                              \
   .field = #field_,                                                                            \
   .group = (group_),                                                                           \
   .arg = (arg_),                                                                               \
   .help = (help_),                                                                             \
   .kind = PV_OPTION_##kind_,                                                                   \
   .flags = (flags_),                                                                           \
   .offset = offsetof(STRUCT, field_),                                                          \
   .size = sizeof(((STRUCT *)0)->field_),                                                       \
   .is_signed = ((ctype_)-1 < 1),                                                               \
   PV__OPT_VAL_##kind_(d_, lo_, hi_),                                                           \
   .choices = (choices_)},

/* The public descriptors of one table: defines PREFIX_option_count() and
 * PREFIX_option_info(i) (declared PV_API in the module's public header) over
 * the static array T, so each options module states them in one line. */
#define PV__OPTION_ACCESSORS(PREFIX, T)                                                         \
  size_t PREFIX##_option_count(void) { return sizeof T / sizeof *T; }                          \
  const pv_option_info *PREFIX##_option_info(size_t i) {                                       \
    return i < sizeof T / sizeof *T ? &T[i] : NULL;                                            \
  }

/* Stores every default of the n rows of t into opts (which the caller has
 * zeroed and whose size field it sets). */
void pv__options_init(const pv_option_info *t, size_t n, void *opts);
/* pv_option_check of every row, in order: the first failure. */
pv_status pv__options_check(const pv_option_info *t, size_t n, const void *opts, char *err,
                            size_t errcap);
/* The row named name (the keyword or, with a group, the field), or NULL. */
const pv_option_info *pv__options_find(const pv_option_info *t, size_t n, const char *name);

#endif /* PV_OPTION_TABLE_H */
