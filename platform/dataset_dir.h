/* dataset_dir.h - what a dataset directory holds, by name and by listing
 * (internal to platform/, used by pack/'s output rule and reader/'s verify).
 *
 * The names are format/'s (PV_INDEX_FILENAME, PV_SHARD_NAME_FMT,
 * PV_REPORT_FILENAME, PV_INDEX_MAGIC); the listing reads the directory and
 * the first bytes of index.pvi. Every failure is a status plus a one-line
 * reason. Depends on: format/ (names and magic only), libc (POSIX).
 * Thread-safety: reentrant.
 */
#ifndef PV_DATASET_DIR_H
#define PV_DATASET_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "pv_status.h"

/* Is name one a build writes into a dataset directory: index.pvi,
 * report.txt, or shard-NNNNN.pvs exactly as PV_SHARD_NAME_FMT spells it? */
int pv__is_dataset_file_name(const char *name);

/* What a directory holds, for the dataset rules. */
typedef struct pv__dir_scan {
  uint64_t entries;  /* entries other than . and .. */
  uint32_t shards;   /* entries named like shard files (any type) */
  int has_index;     /* an entry named index.pvi exists */
  int index_ok;      /* ... and is a regular file that starts with PV_INDEX_MAGIC */
  int index_magic;   /* ... or, symbolic links followed, leads to one (what a
                        reader opens: a dataset of links is a dataset) */
  char other[160];   /* the first entry a build does not write, or one of
                        its names that is not a regular file; "" = none */
} pv__dir_scan;
/* Lists dir (a symlink at dir is followed; entries are not). Returns PV_OK, or
 * PV_ERR_NOT_FOUND / PV_ERR_IO with why set. Never blocks on a FIFO. */
pv_status pv__scan_dir(const char *dir, pv__dir_scan *s, char *why, size_t cap);

#endif /* PV_DATASET_DIR_H */
