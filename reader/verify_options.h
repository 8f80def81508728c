/* verify_options.h - the table of pv_verify_options (internal to reader/).
 *
 * One row per option a person sets (not size, problem, ctx; the nested
 * limits have their own table, codec/limits_options.h), columns as in
 * format/option_table.h. From it come pv_verify_options_init, the range
 * checks pv_verify makes before it reads anything (PV_ERR_INVALID_ARG), and
 * the `pvpack verify` flags and --help (programs/verify.c).
 */
#ifndef PV_VERIFY_OPTIONS_H
#define PV_VERIFY_OPTIONS_H

#include "option_table.h"
#include "pv_verify.h"

/* X(name, field, group, ctype, kind, def, min, max, choices, flags, arg, help)
 * threads: at most 256, the most verify runs (and what `pvpack verify`
 * accepted before the table). */
#define PV__VERIFY_OPTIONS(X)                                                                     \
  X(decode, decode, NULL, int, BOOL, 0, 0, 1, NULL, PV_OPTION_CLI, NULL,                          \
    "also decode every record, within the limits below (a record over one is a problem, "        \
    "PV_ERR_LIMIT, as the loader refuses it)")                                                    \
  X(threads, threads, NULL, int, INT, 0, 0, 256, NULL, PV_OPTION_CLI, "N",                        \
    "worker threads; 0 = the CPUs this process may use (affinity mask and cgroup CPU quota)")    \
  X(max_problems, max_problems, NULL, int, INT, 100, 0, 1 << 30, NULL, PV_OPTION_CLI, "N",        \
    "list at most N problems (0 = all); all are counted")

/* The range checks of the rows: PV_OK or PV_ERR_INVALID_ARG with err naming
 * the option ("threads must be 0..256, not 300"). */
pv_status pv__verify_options_check(const pv_verify_options *o, char *err, size_t cap);

#endif /* PV_VERIFY_OPTIONS_H */
