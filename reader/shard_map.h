/* shard_map.h - shard k of a dataset directory: mapped, then checked
 * against the index (internal to reader/). The one implementation that
 * pv_dataset_open (dataset.c) and pv_verify (verify.c) share: the path and
 * the mapping (pv__map_file), the index's reference copied under a guard,
 * the structure validated under a guard, and the agreement with the index
 * (format/'s pv_shard_matches_ref: spec/FORMAT.md 9.2 checks 20-22).
 *
 * Depends on: format/, guard.h. Thread-safety: reentrant.
 */
#ifndef PV_SHARD_MAP_H
#define PV_SHARD_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "guard.h"
#include "pv_format.h"

/* Maps dir/shard-NNNNN.pvs (PV_SHARD_NAME_FMT) with pv__map_file; path
 * (pathcap bytes) receives the file's path. err: "PATH: reason". Returns
 * pv__map_file's statuses, or PV_ERR_IO when the path does not fit. */
pv_status pv__map_shard(const char *dir, uint32_t k, char *path, size_t pathcap, uint8_t **addr,
                        uint64_t *size, pv__file_id *id, char *err, size_t cap);

/* Shard k's reference (k < shard_count) in a validated index, copied under
 * a guard on the index mapping. PV_OK or PV_ERR_CHANGED. */
pv_status pv__shard_ref(const pv_index_view *ix, uint32_t k, pv_shard_ref *ref);

/* Validates the shard mapped at addr (size bytes) into *view, under a guard
 * on the mapping, then checks it is shard k of the index with header ix
 * and reference ref (pv_shard_matches_ref). Returns PV_OK;
 * pv_shard_validate's and pv_shard_matches_ref's statuses (err says why);
 * PV_ERR_CHANGED when reading the mapping faulted (the file shrank). */
pv_status pv__shard_check(const uint8_t *addr, uint64_t size, const pv_shard_ref *ref,
                          const pv_index_header *ix, uint32_t k, pv_shard_view *view, char *err,
                          size_t cap);

#endif /* PV_SHARD_MAP_H */
