/* pv_api.h - the export macro of every public pvpack declaration.
 *
 * libpvpack is compiled with hidden visibility by default, so only the
 * declarations marked PV_API are exported from the shared library (zstd's
 * ZSTDLIB_API habit); every internal pv__ symbol stays private, and a
 * program cannot come to depend on one by accident.
 *
 * Options structs (pv_open_options, pv_loader_options, pv_build_options,
 * pv_verify_options, pv_limits, pv_cuda_loader_options) start with
 * `size_t size`, which their _init sets to the sizeof the program was
 * compiled with; later versions add fields at the end only. A call that
 * takes one accepts
 *   - a smaller size (a program built against an older pvpack): it uses
 *     the fields that fit and the defaults of its own _init for the rest;
 *   - a larger size (a program built against a newer pvpack) only when
 *     every byte past the fields this library knows is zero, i.e. the
 *     program left the newer fields at zero; otherwise PV_ERR_INVALID_ARG,
 *     rather than silently ignore a setting it cannot honour;
 * and refuses a size below sizeof(size_t) or above 4096 (a struct that did
 * not go through _init) with PV_ERR_INVALID_ARG. Always call the _init
 * function first: a size that is not the sizeof of some version's struct
 * gives a field cut in two.
 *
 * Opt-in: PV_STATIC_LINKING_ONLY, defined before including a pvpack
 * header, exposes fields that are not part of the stable API (the ring
 * slot of a batch, for the Python binding); they may change in any
 * release (zstd's ZSTD_STATIC_LINKING_ONLY habit).
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
