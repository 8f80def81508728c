/* opts_copy.h - how every options struct of the public API crosses the ABI
 * (internal: the modules of libpvpack include it, nothing installed does).
 *
 * A public options struct (pv_open_options, pv_loader_options,
 * pv_build_options, pv_verify_options, pv_limits, pv_cuda_loader_options)
 * starts with `size_t size`, which its _init sets to the sizeof the caller
 * was compiled with. Fields are only ever added at the end, so a struct of
 * an older pvpack is a prefix of today's. A call that takes one copies it
 * with PV__OPTS_COPY:
 *   - size < sizeof(size_t): not filled by _init: PV_ERR_INVALID_ARG;
 *   - size <= sizeof (an older or the same caller): the first `size` bytes
 *     are the caller's, every later field keeps the default of today's
 *     _init;
 *   - size > sizeof (a caller compiled against a newer pvpack): accepted
 *     only when every byte past what this version knows is zero, i.e. the
 *     caller left the newer fields at zero; otherwise PV_ERR_INVALID_ARG
 *     rather than silently ignoring a setting (a stricter limit, say) this
 *     library cannot honour. Sizes above PV__OPTS_MAX_SIZE are refused
 *     without reading past the struct (an uninitialised size field).
 * So a field added later must be placed after the old sizeof (after any
 * tail padding) and should mean "as before" at zero where it can
 * (CONTRIBUTING.md, "A new option").
 *
 * Depends on: pv_status.h. Thread-safety: pure. */
#ifndef PV_OPTS_COPY_H
#define PV_OPTS_COPY_H

#include <stddef.h>

#include "pv_status.h"

/* No options struct comes near this; a larger size is a garbage field. */
#define PV__OPTS_MAX_SIZE 4096u

/* Copies src_size bytes of the caller's struct at src into dst (dst_size
 * bytes, already holding the defaults) by the rules above, then sets dst's
 * leading size field to dst_size. Reads exactly min(src_size,
 * PV__OPTS_MAX_SIZE) bytes of src when src_size passes the first checks.
 * Returns PV_OK or PV_ERR_INVALID_ARG (dst unchanged then, but for
 * nothing). */
pv_status pv__opts_copy(void *dst, size_t dst_size, const void *src, size_t src_size);

/* dst (a struct, not NULL) := init's defaults, then the caller's src (may be
 * NULL: the defaults) by the rules above. Evaluates to a pv_status. */
#define PV__OPTS_COPY(dst, init, src) \
  (init(dst), (src) ? pv__opts_copy((dst), sizeof *(dst), (src), (src)->size) : PV_OK)

#endif /* PV_OPTS_COPY_H */
