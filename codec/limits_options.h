/* limits_options.h - the table of pv_limits (internal to codec/).
 *
 * One row per limit, columns as in format/option_table.h. From it come
 * pv_limits_init, the limit flags of `pvpack verify`, `get` and `bench`
 * (programs/cli.c) and the limit keywords of Python's Dataset and Loader.
 * The defaults are the PV_LIMITS_DEFAULT_* constants of pv_limits.h. A
 * limit has no invalid value (0 = no limit), so there is no check beyond
 * the field's type.
 */
#ifndef PV_LIMITS_OPTIONS_H
#define PV_LIMITS_OPTIONS_H

#include "option_table.h"
#include "pv_limits.h"

/* X(name, field, group, ctype, kind, def, min, max, choices, flags, arg, help) */
#define PV__LIMITS_OPTIONS(X)                                                                    \
  X(max_record_pixels, max_record_pixels, NULL, uint64_t, INT, PV_LIMITS_DEFAULT_RECORD_PIXELS, \
    0, UINT64_MAX, NULL, PV_OPTION_CLI, "N",                                                     \
    "refuse records of more pixels (the packer's --max-pixels); 0 = none")                      \
  X(max_record_bytes, max_record_bytes, NULL, uint64_t, BYTES, PV_LIMITS_DEFAULT_RECORD_BYTES,  \
    0, UINT64_MAX, NULL, PV_OPTION_CLI, "B",                                                     \
    "refuse larger payloads (the packer's --max-file-size); 0 = none")                          \
  X(max_decoder_memory, max_decoder_memory, NULL, uint64_t, BYTES,                               \
    PV_LIMITS_DEFAULT_DECODER_MEMORY, 0, UINT64_MAX, NULL, PV_OPTION_CLI, "B",                   \
    "refuse records whose decoder needs more working memory (the default: 8 per allowed "       \
    "pixel + 64M); 0 = none")                                                                    \
  X(max_scans, max_scans, NULL, uint32_t, INT, PV_LIMITS_DEFAULT_SCANS, 0, UINT32_MAX, NULL,     \
    PV_OPTION_CLI, "N", "refuse JPEGs of more scans; 0 = none")

#endif /* PV_LIMITS_OPTIONS_H */
