/* cuda_stub.c - pvpack_cuda.h in a library built without the CUDA path
 * (PV_CUDA=OFF or no toolkit): every call that needs CUDA returns
 * PV_ERR_CUDA with the reason, so callers need no #ifdef and can fall back
 * to the CPU loader at run time. */
#include <stdio.h>

#include "pvpack_cuda.h"

static const char no_cuda[] = "built without CUDA (configure with -DPV_CUDA=ON and a CUDA toolkit)";

static pv_status fail(char *err, size_t errcap) {
  if (err && errcap) snprintf(err, errcap, "%s", no_cuda);
  return PV_ERR_CUDA;
}

int pv_cuda_built(void) { return 0; }

pv_status pv_cuda_probe(int *count, char *err, size_t errcap) {
  if (count) *count = 0;
  return fail(err, errcap);
}

pv_status pv_cuda_pinned_allocator(pv_allocator *out, char *err, size_t errcap) {
  if (!out) return PV_ERR_INVALID_ARG;
  out->alloc = NULL;
  out->free = NULL;
  out->ctx = NULL;
  return fail(err, errcap);
}

pv_status pv_cuda_loader_create(const pv_dataset *ds, const pv_cuda_loader_options *opts,
                                pv_cuda_loader **out, char *err, size_t errcap) {
  if (!ds || !out) return PV_ERR_INVALID_ARG; /* as the real one: arguments first */
  *out = NULL;
  return fail(err, errcap);
}

pv_status pv_cuda_loader_next(pv_cuda_loader *l, void *stream, pv_cuda_batch **out) {
  if (out) *out = NULL;
  return l ? PV_ERR_CUDA : PV_ERR_INVALID_ARG;
}

pv_status pv_cuda_loader_next_sync(pv_cuda_loader *l, pv_cuda_batch **out) {
  return pv_cuda_loader_next(l, NULL, out);
}

pv_status pv_cuda_loader_release(pv_cuda_loader *l, pv_cuda_batch *b, void *stream) {
  return PV_ERR_INVALID_ARG; /* no loader can exist */
}

pv_status pv_cuda_loader_release_sync(pv_cuda_loader *l, pv_cuda_batch *b) {
  return PV_ERR_INVALID_ARG;
}

pv_status pv_cuda_loader_set_epoch(pv_cuda_loader *l, uint64_t epoch, uint64_t start_batch) {
  return PV_ERR_INVALID_ARG;
}

int pv_cuda_loader_wait(pv_cuda_loader *l, unsigned timeout_ms) { return 1; }

pv_status pv_cuda_stream_wait(pv_cuda_loader *l, void *waiter, void *waited) {
  return PV_ERR_INVALID_ARG;
}

pv_status pv_cuda_stream_synchronize(pv_cuda_loader *l, void *stream) {
  return PV_ERR_INVALID_ARG;
}

pv_status pv_cuda_loader_detach(pv_cuda_loader *l, pv_cuda_batch *b, void **images,
                                int64_t **labels) {
  return PV_ERR_INVALID_ARG;
}

void pv_cuda_loader_free_detached(pv_cuda_loader *l, void *images, int64_t *labels,
                                  void *stream) {}

uint64_t pv_cuda_loader_batches_per_epoch(const pv_cuda_loader *l) { return 0; }
uint64_t pv_cuda_loader_samples_per_epoch(const pv_cuda_loader *l) { return 0; }
int pv_cuda_loader_device(const pv_cuda_loader *l) { return -1; }
const char *pv_cuda_loader_last_error(const pv_cuda_loader *l) { return no_cuda; }

void pv_cuda_loader_get_stats(const pv_cuda_loader *l, pv_cuda_loader_stats *s) {
  if (s) *s = (pv_cuda_loader_stats){0};
}

void pv_cuda_loader_destroy(pv_cuda_loader *l) {}

pv_status pv_cuda_normalize(const void *src, void *dst, uint32_t n, uint32_t h, uint32_t w,
                            pv_cuda_dtype dtype, pv_layout layout, const float mean[3],
                            const float std[3], void *stream) {
  return PV_ERR_CUDA;
}
