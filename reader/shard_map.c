/* shard_map.c - see shard_map.h. */
#include "shard_map.h"

#include <stdio.h>

pv_status pv__map_shard(const char *dir, uint32_t k, char *path, size_t pathcap, uint8_t **addr,
                        uint64_t *size, pv__file_id *id, char *err, size_t cap) {
  int n = snprintf(path, pathcap, "%s/", dir);
  if (n < 0 || (size_t)n >= pathcap ||
      (size_t)snprintf(path + n, pathcap - (size_t)n, PV_SHARD_NAME_FMT, k) >= pathcap - (size_t)n) {
    *addr = NULL;
    *size = 0;
    if (err && cap) snprintf(err, cap, "%s/" PV_SHARD_NAME_FMT ": path too long", dir, k);
    return PV_ERR_IO;
  }
  return pv__map_file(path, addr, size, id, err, cap);
}

typedef struct ref_job {
  const pv_index_view *ix;
  uint32_t k;
  pv_shard_ref *ref;
} ref_job;

static pv_status ref_run(void *arg) {
  ref_job *j = arg;
  pv_index_shard(j->ix, j->k, j->ref);
  return PV_OK;
}

pv_status pv__shard_ref(const pv_index_view *ix, uint32_t k, pv_shard_ref *ref) {
  ref_job j = {ix, k, ref};
  return pv__guard_call(ix->file, (size_t)ix->file_size, ref_run, &j);
}

typedef struct validate_job {
  const uint8_t *addr;
  uint64_t size;
  pv_shard_view *view;
  char *err;
  size_t cap;
} validate_job;

static pv_status validate_run(void *arg) {
  validate_job *j = arg;
  return pv_shard_validate(j->addr, j->size, j->view, j->err, j->cap);
}

pv_status pv__shard_check(const uint8_t *addr, uint64_t size, const pv_shard_ref *ref,
                          const pv_index_header *ix, uint32_t k, pv_shard_view *view, char *err,
                          size_t cap) {
  validate_job j = {addr, size, view, err, cap};
  pv_status st = pv__guard_call(addr, (size_t)size, validate_run, &j);
  if (st != PV_OK) return st;
  return pv_shard_matches_ref(view, ref, ix, k, err, cap);
}
