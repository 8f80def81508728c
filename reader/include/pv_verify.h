/* pv_verify.h - public API of the verifier: the check of every byte of a
 * dataset directory (`pvpack verify`).
 *
 * A reader-side tool: it maps the files as pv_dataset_open does and checks
 * them against spec/FORMAT.md, with the read-side limits of pvpack.h.
 * (Declared in pv_pack.h before; the names and struct layouts are the same.)
 *
 * Depends on: pvpack.h (format/, pv_limits). Thread-safety: each call is
 * independent and may run concurrently with others; internally each uses its
 * own thread pool.
 */
#ifndef PV_VERIFY_H
#define PV_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "pv_option.h"
#include "pv_status.h"
#include "pvpack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pv_verify_options {
  size_t size;
  int decode;      /* also decode every record */
  int threads;     /* 0 = the CPUs this process may use, as pv_build; 0..256 */
  int max_problems; /* stop listing after this many (still counts); default
                       100; 0 = list all; 0..2^30 */
  /* Called once per problem found, from one thread at a time. NULL = stderr. */
  void (*problem)(void *ctx, const char *file, int64_t record, const char *source_path,
                  pv_status status, const char *what);
  void *ctx;
  /* decode: the read-side limits records are decoded within, those of
   * pv_decoder_decode and the loader (default pv_limits_init). A record
   * over one is a problem with status PV_ERR_LIMIT, as the loader would
   * refuse it. */
  pv_limits limits;
} pv_verify_options;

PV_API void pv_verify_options_init(pv_verify_options *o);

/* The options table of pv_verify_options (pv_option.h): entry i or NULL
 * when i >= pv_verify_option_count(). decode, threads and max_problems (the
 * limits are pv_limits_option_info's). pv_verify_options_init stores the
 * entries' defaults; pv_verify refuses a value out of an entry's range with
 * PV_ERR_INVALID_ARG (summary->error names the option). */
PV_API size_t pv_verify_option_count(void);
PV_API const pv_option_info *pv_verify_option_info(size_t i);

typedef struct pv_verify_summary {
  uint64_t records_checked;
  uint64_t records_decoded;
  uint64_t bytes_checked;
  uint32_t shards_checked;
  uint64_t problems;     /* all problems found, listed or not */
  double seconds;
  int threads;           /* threads that checked records (0: none ran) */
  /* Why verify stopped before checking everything, for a reason that is
   * not damage ("" otherwise): a resource limit (a shard it could not map:
   * out of mappings or address space; counts over this reader's limits). */
  char error[512];
} pv_verify_summary;

/* Checks the index, each shard's header, table and footer and their
 * agreement with the index, every byte of padding, and every record's
 * checksum (and with decode, that it decodes at the recorded size).
 * Returns PV_OK when clean. When damage was found (summary->problems > 0;
 * a missing index or shard counts as damage), returns the first problem's
 * status (PV_ERR_CHECKSUM, PV_ERR_TRUNCATED, PV_ERR_CORRUPT, ...). When it
 * could not run at all summary->problems is 0 and the status says why:
 * PV_ERR_NOT_FOUND (dir missing), PV_ERR_NOT_PVPACK (dir is not a pvpack
 * dataset: not a directory, or a directory with neither an index.pvi that
 * starts with the index magic nor any shard-NNNNN.pvs, such as an
 * ImageFolder or an empty folder), PV_ERR_IO, PV_ERR_NOMEM or
 * PV_ERR_INVALID_ARG (an option out of its table's range: summary->error
 * names it). Problems beyond max_problems are counted in
 * summary->problems but not passed to the callback.
 * When it hit a resource limit (the index counts more than PV_MAX_SHARDS
 * shards, or a shard could not be mapped: mmap ENOMEM, vm.max_map_count or
 * RLIMIT_AS) it stops and returns PV_ERR_LIMIT with summary->error saying
 * why; problems found before still count (summary->problems). At most 64
 * shards are mapped at any time. A file that changes while verify reads it
 * is a problem (PV_ERR_CHANGED), never a signal. */
PV_API pv_status pv_verify(const char *dir, const pv_verify_options *opts,
                           pv_verify_summary *summary);

#ifdef __cplusplus
}
#endif
#endif /* PV_VERIFY_H */
