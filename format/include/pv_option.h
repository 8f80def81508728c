/* pv_option.h - descriptions of the fields of pvpack's options structs.
 *
 * Every options struct whose fields a person sets (pv_build_options in
 * pv_pack.h, pv_loader_options in pvpack.h, pv_limits in pv_limits.h,
 * pv_verify_options in pv_verify.h) has one table, kept inside the library
 * as an X-macro next to the code that uses the struct
 * (pack/build_options.h, reader/loader_options.h, codec/limits_options.h,
 * reader/verify_options.h). The library's *_init, its range checks, the
 * `pvpack` command's flags and --help text, and the Python keywords are all
 * made from that table, so an option is spelled once. The table is exposed
 * through accessors (pv_build_option_info(i), pv_loader_option_info(i),
 * pv_limits_option_info(i), pv_verify_option_info(i): NULL past the end) that return the descriptor
 * below, and it is read and written through the generic functions of this
 * header. A caller compiled against an older header sees newer options too:
 * the descriptors, not the caller's code, carry the field's offset and size.
 *
 * Naming rule: `name` is the Python keyword; the command-line flag is
 * "--" + name with '_' replaced by '-', and for a BOOL whose default is 1,
 * "--no-" + that ("keep_original" -> --no-keep-original). Options that
 * share a `group` ("size" for height and width) are one Python keyword
 * taking a value per field, and one flag taking "V" (every field) or
 * "V1,V2".
 *
 * Depends on: pv_status.h. Thread-safety: the tables are immutable; the
 * functions only touch the struct they are given.
 */
#ifndef PV_OPTION_H
#define PV_OPTION_H

#include <stddef.h>
#include <stdint.h>

#include "pv_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pv_option_kind {
  PV_OPTION_BOOL = 0,   /* int; 0 or 1 when set through this API (the
                           library treats any non-zero value as 1) */
  PV_OPTION_INT = 1,    /* an integer field (int, uint32_t, uint64_t) in
                           [min, max]; text may carry K/M/G (x 1024^n) */
  PV_OPTION_BYTES = 2,  /* as INT, a byte count (help shows "256M") */
  PV_OPTION_FLOAT = 3,  /* double in [fmin, fmax] (NaN refused) */
  PV_OPTION_FLOAT3 = 4, /* float[3], each in [fmin, fmax]; text "a,b,c" */
  PV_OPTION_CHOICE = 5  /* an enum or int field holding one of choices[].value */
} pv_option_kind;

/* One named value of a CHOICE option. */
typedef struct pv_option_choice {
  const char *name; /* "shorter" */
  int value;        /* PV_RESIZE_SHORTER */
} pv_option_choice;

/* flags */
#define PV_OPTION_CLI 0x1u /* the `pvpack` command has a flag for it (build:
                              every build option; verify: every verify
                              option; bench: the loader options a benchmark
                              varies; verify, get and bench: every limit) */

typedef struct pv_option_info {
  const char *name;  /* "jpeg_restart": the Python keyword (see above) */
  const char *field; /* the struct field: "jpeg_restart" */
  const char *group; /* NULL, or the keyword shared with the neighbouring
                        entries of the same group ("size": height, width) */
  const char *arg;   /* the value's name in --help: "N", "BYTES", "POLICY" */
  const char *help;  /* one sentence, without the default or the choices */
  pv_option_kind kind;
  unsigned flags;   /* PV_OPTION_* */
  size_t offset;    /* of the field in its struct */
  size_t size;      /* of the field (of one element for FLOAT3) */
  int is_signed;    /* integer kinds: the field is a signed type */
  int64_t min;      /* BOOL, INT, BYTES, CHOICE: the range, inclusive */
  uint64_t max;
  int64_t def;      /* ... and the default */
  double fmin, fmax; /* FLOAT, FLOAT3: the range, inclusive */
  double fdef[3];    /* ... and the default (fdef[0] for FLOAT) */
  const pv_option_choice *choices; /* CHOICE: terminated by {NULL, 0} */
} pv_option_info;

/* Stores v into o's field of opts after checking it against o's range (for
 * CHOICE: v must be one of the values). BOOL stores v != 0. Returns PV_OK or
 * PV_ERR_INVALID_ARG with err naming the option and its range; opts is
 * unchanged then. _float takes 1 value (FLOAT) or 3 (FLOAT3). Each kind
 * takes the setters that make sense for it: _int and _uint for BOOL, INT,
 * BYTES and CHOICE; _float for FLOAT and FLOAT3 (and INT given a whole
 * number is not accepted: PV_ERR_INVALID_ARG). */
PV_API pv_status pv_option_set_int(const pv_option_info *o, void *opts, int64_t v, char *err,
                                   size_t errcap);
PV_API pv_status pv_option_set_uint(const pv_option_info *o, void *opts, uint64_t v, char *err,
                                    size_t errcap);
PV_API pv_status pv_option_set_float(const pv_option_info *o, void *opts, const double *v,
                                     size_t count, char *err, size_t errcap);
/* Parses text as the command line does and stores it: BOOL "1"/"0"/"true"/
 * "false"/"yes"/"no"; INT and BYTES decimal digits (a leading '-' only when
 * min < 0) with an optional K, M or G (KiB, MiB, GiB; "K", "KB", "KiB"), no
 * spaces, no overflow; FLOAT a finite decimal number; FLOAT3 three of them
 * separated by commas; CHOICE one of the names (ASCII letters in either
 * case). Range as above. */
PV_API pv_status pv_option_set_text(const pv_option_info *o, void *opts, const char *text,
                                    char *err, size_t errcap);
/* Reads o's field of opts: integer kinds into *i (signed fields) or *u
 * (unsigned; both are set when the value fits both), FLOAT/FLOAT3 into
 * f[0..2]. Any pointer may be NULL. */
PV_API void pv_option_get(const pv_option_info *o, const void *opts, int64_t *i, uint64_t *u,
                          double f[3]);
/* Checks o's field of opts against its range. PV_OK or PV_ERR_INVALID_ARG
 * (err: "quality must be 1..100, not 0"). BOOL fields are not checked. */
PV_API pv_status pv_option_check(const pv_option_info *o, const void *opts, char *err,
                                 size_t errcap);
/* Writes o's default as the command line spells it ("256", "256M",
 * "shorter", "0.485,0.456,0.406") into buf (always NUL-terminated when
 * cap > 0); returns what snprintf returns. */
PV_API int pv_option_default_text(const pv_option_info *o, char *buf, size_t cap);
/* The command-line flag of o by the naming rule above ("--jpeg-restart",
 * "--no-keep-original", "--size" for the group of height and width) into
 * buf (NUL-terminated when cap > 0); returns its length. */
PV_API size_t pv_option_flag(const pv_option_info *o, char *buf, size_t cap);
/* The name of CHOICE value v, or NULL. */
PV_API const char *pv_option_choice_name(const pv_option_info *o, int v);

#ifdef __cplusplus
}
#endif
#endif /* PV_OPTION_H */
