/* pv_status.h - status codes shared by every pvpack module.
 *
 * Contract: 0 is success, every error is negative, and a value never changes
 * meaning once released (users store and compare them). The enum and
 * pv_strerror() are generated from the single X-macro list below, so a code
 * can never lack its message (libuv's UV_ERRNO_MAP habit).
 *
 * Context (which file, shard, record, byte offset, errno) is never encoded in
 * the status: each handle keeps a "last error" string for that.
 *
 * Depends on: nothing. Thread-safety: everything here is pure.
 */
#ifndef PV_STATUS_H
#define PV_STATUS_H

#include "pv_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) */
#define PV_STATUS_MAP(X)                                                         \
  X(PV_OK, 0, "success")                                                         \
  X(PV_ERR_INVALID_ARG, -1, "invalid argument")                                  \
  X(PV_ERR_NOMEM, -2, "out of memory")                                           \
  X(PV_ERR_IO, -3, "I/O error")                                                  \
  X(PV_ERR_NOT_PVPACK, -4, "not a pvpack file (bad magic)")                      \
  X(PV_ERR_VERSION, -5, "unsupported format version or incompatible feature")    \
  X(PV_ERR_CORRUPT, -6, "corrupt structure")                                     \
  X(PV_ERR_CHECKSUM, -7, "checksum mismatch")                                    \
  X(PV_ERR_LIMIT, -8, "limit exceeded")                                          \
  X(PV_ERR_TRUNCATED, -9, "file truncated")                                      \
  X(PV_ERR_DECODE, -10, "image could not be decoded")                            \
  X(PV_ERR_UNSUPPORTED, -11, "unsupported image format")                         \
  X(PV_ERR_EXISTS, -12, "output already exists")                                 \
  X(PV_ERR_NOT_FOUND, -13, "not found")                                          \
  X(PV_ERR_CANCELLED, -14, "cancelled")                                          \
  X(PV_ERR_SKIPPED, -15, "input files were skipped (strict mode)")               \
  X(PV_ERR_CUDA, -16, "CUDA error")                                              \
  X(PV_ERR_EMPTY, -17, "nothing to do: no input images")                        \
  X(PV_ERR_CHANGED, -18, "a dataset file changed while in use")

typedef enum pv_status {
#define PV__STATUS_ENUM(name, value, msg) name = (value),
  PV_STATUS_MAP(PV__STATUS_ENUM)
#undef PV__STATUS_ENUM
} pv_status;

/* Returns a static, never-NULL English message for any status value,
 * including values this version does not know ("unknown status"). */
PV_API const char *pv_strerror(int status);

/* Returns the symbolic name ("PV_ERR_CHECKSUM") or "PV_UNKNOWN". */
PV_API const char *pv_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif /* PV_STATUS_H */
