/* cuda_mock.c - a synchronous stand-in for the few CUDA Runtime calls that
 * cuda/cuda_loader.c and tests/test_cuda_gpu.c make, so the GPU path's host
 * logic (feeder thread, slot states, set_epoch, ordering, labels, limits,
 * the normalize math) runs on machines without a GPU, and under ASan and
 * TSan in CI. Linked into test_cuda_mock instead of libcudart.
 *
 * "Device" memory is host memory; every copy, memset, kernel and host
 * function runs at once on the calling thread, so a stream is always idle
 * and events are always complete. It therefore cannot show a missing
 * stream dependency (that is what the real test_cuda_gpu and
 * compute-sanitizer on a GPU are for), but everything above the runtime
 * runs unchanged. PV_MOCK_DEVICES sets the device count (default 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "cuda_internal.h"
#include "pv_cuda_math.h"

struct CUstream_st {
  int unused;
};

struct CUevent_st {
  int recorded;
  double t;
};

static _Thread_local int current_device;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int device_count(void) {
  const char *v = getenv("PV_MOCK_DEVICES");
  return v && *v ? atoi(v) : 2;
}

const char *cudaGetErrorString(cudaError_t e) { return e ? "mock CUDA error" : "no error"; }
const char *cudaGetErrorName(cudaError_t e) { return e ? "cudaErrorMock" : "cudaSuccess"; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }

cudaError_t cudaGetDeviceCount(int *n) {
  *n = device_count();
  return *n > 0 ? cudaSuccess : cudaErrorNoDevice;
}

cudaError_t cudaGetDevice(int *d) {
  *d = current_device;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= device_count()) return cudaErrorInvalidDevice;
  current_device = d;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d) {
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "mock device %d", d);
  p->major = 9;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }

static cudaError_t alloc(void **p, size_t n, size_t align) {
  *p = NULL;
  return posix_memalign(p, align, n ? n : 1) == 0 ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaMalloc(void **p, size_t n) { return alloc(p, n, 256); }
cudaError_t cudaFree(void *p) {
  free(p);
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void **p, size_t n, unsigned int flags) { return alloc(p, n, 4096); }
cudaError_t cudaFreeHost(void *p) {
  free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind k) {
  memcpy(d, s, n);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind k,
                            cudaStream_t st) {
  memcpy(d, s, n);
  return cudaSuccess;
}

cudaError_t cudaMemset(void *d, int v, size_t n) {
  memset(d, v, n);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int flags) {
  *s = calloc(1, sizeof **s);
  return *s ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  free(s);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int flags) {
  return e ? cudaSuccess : cudaErrorInvalidResourceHandle;
}
cudaError_t cudaLaunchHostFunc(cudaStream_t s, cudaHostFn_t fn, void *arg) {
  fn(arg);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int flags) {
  *e = calloc(1, sizeof **e);
  return *e ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  free(e);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!e) return cudaErrorInvalidResourceHandle;
  e->recorded = 1;
  e->t = now_ms();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) { return cudaSuccess; }
cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
  if (!a->recorded || !b->recorded) return cudaErrorInvalidResourceHandle;
  *ms = (float)(b->t - a->t);
  return cudaSuccess;
}

/* The kernel, element by element with the shared math. */
int pv__cuda_normalize_launch(const void *src, void *dst, size_t n_pixels, uint32_t hw,
                              int dtype, int layout, const float scale[3],
                              const float bias[3], void *stream) {
  if (n_pixels == 0) return 0;
  if (!src || !dst || hw == 0 || n_pixels % hw) return (int)cudaErrorInvalidValue;
  const uint8_t *s = src;
  for (size_t i = 0; i < n_pixels; i++)
    for (unsigned c = 0; c < 3; c++) {
      size_t k = pv__nm_index(i / hw, i % hw, c, hw, layout);
      uint8_t x = s[3 * i + c];
      float v = dtype == PV__NM_U8 ? 0.0f : pv__nm_f32(x, scale[c], bias[c]);
      switch (dtype) {
        case PV__NM_U8: ((uint8_t *)dst)[k] = x; break;
        case PV__NM_F32: ((float *)dst)[k] = v; break;
        case PV__NM_F16: ((uint16_t *)dst)[k] = pv__f32_to_f16(v); break;
        default: ((uint16_t *)dst)[k] = pv__f32_to_bf16(v); break;
      }
    }
  return 0;
}
