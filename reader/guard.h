/* guard.h - reading a mapped dataset file that another process may shrink
 * (internal to reader/).
 *
 * A shard is mapped MAP_SHARED: when its file is truncated, or rewritten
 * through the same inode (`cp other shard-00003.pvs` opens it O_TRUNC),
 * touching a page past the new end raises SIGBUS, which by default kills
 * the process. Every read of mapped bytes after open therefore runs under a
 * guard: a SIGBUS or SIGSEGV whose fault address lies inside the range the
 * calling thread armed is turned into PV_ERR_CHANGED for that call, and
 * every other fault goes on to whatever handler was installed before ours
 * (or the default action, so a real crash still crashes with its signal).
 *
 * Mechanism: one process-wide handler (installed once, SA_SIGINFO |
 * SA_NODEFER | SA_ONSTACK, chaining to the previous one), a per-thread
 * stack of armed ranges, sigsetjmp(..., 0) / siglongjmp (no mask
 * save/restore, so arming costs no system call: SA_NODEFER keeps the signal
 * unblocked in the handler). Jumping out of a decoder is safe because the
 * fault can only happen in code that reads the mapping (memcpy, XXH3,
 * libjpeg's and zstd's input readers), never inside malloc or with a lock
 * held; the decoder object itself is left mid-call and must be reset by the
 * caller before reuse (pv__decoder_reset, pv__sampler_reset).
 *
 * Limits: a handler installed later by someone else (Python's faulthandler
 * enabled after a dataset was opened, a test framework) displaces ours
 * until the next pv_dataset_open puts it back in front; in between such a
 * fault is theirs (the process dies as before). pytest enables
 * faulthandler at start-up, before any dataset is opened, so ours comes
 * first and chains to it.
 *
 * Depends on: libc (POSIX signals). Thread-safety: everything here may be
 * called from any thread; the armed ranges are per thread.
 */
#ifndef PV_GUARD_H
#define PV_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "pv_status.h"

/* Puts the handler in front for SIGBUS and SIGSEGV unless it is there
 * already; whatever was there (also a handler installed after ours, which
 * displaced it) becomes the one faults that are not ours go to. Called by
 * every pv_dataset_open (two sigaction(2) calls each), and by the first
 * pv__guard_call. Thread-safe. */
void pv__guard_install(void);

/* Runs fn(arg) with faults on the pages covering [base, base + len) turned
 * into PV_ERR_CHANGED. Returns fn's status, or PV_ERR_CHANGED when a fault
 * in that range interrupted it (fn did not finish: whatever it was
 * modifying is in an unknown state). Nests: an inner guard's range is
 * checked first, then the outer ones. Cost: one sigsetjmp without a mask
 * save and two thread-local stores. */
pv_status pv__guard_call(const void *base, size_t len, pv_status (*fn)(void *), void *arg);

/* memcpy(dst, src, n) under a guard on the source range. PV_OK or
 * PV_ERR_CHANGED (dst then holds unspecified bytes). */
pv_status pv__guard_copy(void *dst, const void *src, size_t n);

/* ---- mapping dataset files (shared by reader/dataset.c and pack/verify.c) */

/* What a file was when it was mapped, to tell after a fault how it changed. */
typedef struct pv__file_id {
  uint64_t dev, ino, size;
  int64_t mtime_s, mtime_ns;
} pv__file_id;

/* Maps path (its name in messages: name) read-only and shared, whole.
 * Opened O_NONBLOCK, so a FIFO or device by that name cannot block open(2),
 * then refused unless it is a regular file (symbolic links are followed).
 * An empty file maps to a non-NULL dummy with *size 0 (mmap refuses length
 * 0), so validators report it as truncated; pv__unmap_file knows it.
 * err receives "PATH: reason". Returns PV_OK, PV_ERR_NOT_FOUND, PV_ERR_IO
 * (cannot open, not a regular file), PV_ERR_LIMIT (too large for size_t;
 * mmap ENOMEM: out of mappings, vm.max_map_count, or of address space,
 * RLIMIT_AS). */
pv_status pv__map_file(const char *path, uint8_t **addr, uint64_t *size, pv__file_id *id,
                       char *err, size_t cap);
void pv__unmap_file(uint8_t *addr, uint64_t size); /* accepts NULL and the empty dummy */

/* After a fault on a mapping of path: stat(2)s it and compares with was.
 * err receives "NAME changed size while mapped (was N, now M)" (or: was
 * rewritten, is gone, the name holds another file). Returns PV_ERR_CHANGED,
 * or PV_ERR_IO when the file looks unchanged (a storage error). */
pv_status pv__explain_change(const char *path, const char *name, const pv__file_id *was,
                             char *err, size_t cap);

#endif /* PV_GUARD_H */
