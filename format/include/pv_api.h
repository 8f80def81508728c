/* pv_api.h - the export macro of every public pvpack declaration.
 *
 * libpvpack is compiled with hidden visibility by default, so only the
 * declarations marked PV_API are exported from the shared library (zstd's
 * ZSTDLIB_API habit); every internal pv__ symbol stays private, and a
 * program cannot come to depend on one by accident.
 *
 * Depends on: nothing. */
#ifndef PV_API_H
#define PV_API_H

#if defined(__GNUC__) || defined(__clang__)
#define PV_API __attribute__((visibility("default")))
#else
#define PV_API
#endif

#endif /* PV_API_H */
