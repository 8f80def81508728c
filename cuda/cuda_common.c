/* cuda_common.c - the parts of pvpack_cuda.h that need no CUDA: option
 * defaults, device choice from LOCAL_RANK, dtype sizes. Built with and
 * without the CUDA path. */
#include <stdlib.h>
#include <string.h>

#include "pvpack_cuda.h"

void pv_cuda_loader_options_init(pv_cuda_loader_options *o) {
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  pv_loader_options_init(&o->loader);
  o->device = -1;
  o->dtype = PV_CUDA_FLOAT32;
  o->layout = PV_LAYOUT_NCHW;
  /* ImageNet's mean/std: the CPU loader's defaults, one source of truth. */
  memcpy(o->mean, o->loader.mean, sizeof o->mean);
  memcpy(o->std, o->loader.std, sizeof o->std);
  o->depth = 3;
  o->host_memory = PV_CUDA_HOST_PINNED;
}

int pv_cuda_resolve_device(int device) {
  if (device >= 0) return device;
  const char *v = getenv("LOCAL_RANK");
  if (!v || !*v) return 0;
  char *end;
  long x = strtol(v, &end, 10);
  return (*end || x < 0 || x > 1 << 20) ? -1 : (int)x;
}

size_t pv_cuda_dtype_size(pv_cuda_dtype dtype) {
  switch (dtype) {
    case PV_CUDA_UINT8: return 1;
    case PV_CUDA_FLOAT32: return 4;
    case PV_CUDA_FLOAT16:
    case PV_CUDA_BFLOAT16: return 2;
  }
  return 0;
}
