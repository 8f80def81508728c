/* pv_filter.h - the resampling filters of the packer's pre-resize and the
 * loader's crop-and-resize (public).
 *
 * pv_build_options.filter and pv_loader_options.filter hold one of these
 * values. Depends on: pv_api.h only. Thread-safety: the functions are pure.
 */
#ifndef PV_FILTER_H
#define PV_FILTER_H

#include "pv_api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pv_filter {
  PV_FILTER_BILINEAR = 0, /* triangle, support 1 (PIL BILINEAR)  */
  PV_FILTER_BICUBIC = 1,  /* a = -0.5, support 2 (PIL BICUBIC)   */
  PV_FILTER_LANCZOS = 2   /* Lanczos-3, support 3 (PIL LANCZOS)  */
} pv_filter;

/* Parses "bilinear" / "bicubic" / "lanczos" (the spellings of `pvpack build
 * --filter` and of the Python keyword); returns the pv_filter value, or -1
 * when name is unknown or NULL. */
PV_API int pv_filter_from_name(const char *name);

/* The name of f as pv_filter_from_name spells it; "unknown" for a value
 * that is not a pv_filter. Never NULL; a static string. */
PV_API const char *pv_filter_name(pv_filter f);

#ifdef __cplusplus
}
#endif
#endif /* PV_FILTER_H */
