/* cuda_mock.c - a stand-in for the CUDA Runtime calls that
 * cuda/cuda_loader.c and tests/test_cuda_gpu.c make, so the GPU path's host
 * logic and its stream choreography run on machines without a GPU, and
 * under ASan and TSan in CI. Linked into test_cuda_mock instead of
 * libcudart.
 *
 * It keeps CUDA's ordering model: every stream is a FIFO of operations run
 * by its own thread (copies, memsets, "kernels", host functions, event
 * records, event waits), so work really runs asynchronously to the host and
 * to other streams. cudaEventRecord captures a record that completes when
 * the stream reaches it; cudaStreamWaitEvent and cudaEventSynchronize wait
 * for the record current at the time of the call, as CUDA specifies.
 * "Device" memory is host memory. A missing dependency between streams
 * therefore shows up as wrong data (test_slot_reuse_waits_for_consumer)
 * and as a data race under TSan, just as it would race on a GPU.
 *
 * Simplifications: the legacy default stream (NULL) is an ordinary stream
 * (no implicit synchronization with blocking streams; the loader uses only
 * non-blocking streams and explicit events); cudaMemcpy, cudaMemset,
 * cudaFree and cudaFreeHost synchronize the whole "device". PV_MOCK_DEVICES
 * sets the device count (default 2).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "cuda_internal.h"
#include "pv_cuda_math.h"

enum { OP_COPY, OP_SET, OP_KERNEL, OP_HOSTFN, OP_RECORD, OP_WAIT };

typedef struct op {
  int kind;
  void *d;
  const void *s;
  size_t n;
  int v;
  cudaHostFn_t fn;
  void *arg;
  cudaEvent_t ev;
  uint64_t seq;
  /* OP_KERNEL */
  size_t n_pixels;
  uint32_t hw;
  int dtype, layout;
  float scale[3], bias[3];
  struct op *next;
} op;

struct CUstream_st {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  op *head, *tail;
  int stop;
};

struct CUevent_st {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t recorded; /* records issued */
  uint64_t done;     /* records reached by their stream */
  double t;          /* when the last one was reached, ms */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static uint64_t g_pending;            /* operations submitted, not yet run */
static struct CUstream_st *g_default; /* the NULL stream, created on demand */
static pthread_once_t g_default_once = PTHREAD_ONCE_INIT;
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

static void run_kernel(const op *o) {
  const uint8_t *s = o->s;
  for (size_t i = 0; i < o->n_pixels; i++)
    for (unsigned c = 0; c < 3; c++) {
      size_t k = pv__nm_index(i / o->hw, i % o->hw, c, o->hw, o->layout);
      uint8_t x = s[3 * i + c];
      float v = o->dtype == PV__NM_U8 ? 0.0f : pv__nm_f32(x, o->scale[c], o->bias[c]);
      switch (o->dtype) {
        case PV__NM_U8: ((uint8_t *)o->d)[k] = x; break;
        case PV__NM_F32: ((float *)o->d)[k] = v; break;
        case PV__NM_F16: ((uint16_t *)o->d)[k] = pv__f32_to_f16(v); break;
        default: ((uint16_t *)o->d)[k] = pv__f32_to_bf16(v); break;
      }
    }
}

static void execute(op *o) {
  switch (o->kind) {
    case OP_COPY: memcpy(o->d, o->s, o->n); break;
    case OP_SET: memset(o->d, o->v, o->n); break;
    case OP_KERNEL: run_kernel(o); break;
    case OP_HOSTFN: o->fn(o->arg); break;
    case OP_RECORD:
      pthread_mutex_lock(&o->ev->mu);
      if (o->seq > o->ev->done) o->ev->done = o->seq;
      o->ev->t = now_ms();
      pthread_cond_broadcast(&o->ev->cv);
      pthread_mutex_unlock(&o->ev->mu);
      break;
    case OP_WAIT:
      pthread_mutex_lock(&o->ev->mu);
      while (o->ev->done < o->seq) pthread_cond_wait(&o->ev->cv, &o->ev->mu);
      pthread_mutex_unlock(&o->ev->mu);
      break;
  }
}

static void *stream_main(void *arg) {
  struct CUstream_st *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
    if (!s->head) break; /* stop, drained */
    op *o = s->head;
    pthread_mutex_unlock(&s->mu);
    execute(o);
    pthread_mutex_lock(&g_mu);
    g_pending--;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_lock(&s->mu);
    s->head = o->next;
    if (!s->head) s->tail = NULL;
    free(o);
    pthread_cond_broadcast(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static struct CUstream_st *stream_new(void) {
  struct CUstream_st *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  if (pthread_create(&s->th, NULL, stream_main, s) != 0) {
    free(s);
    return NULL;
  }
  return s;
}

static void make_default(void) { g_default = stream_new(); }

static struct CUstream_st *resolve(cudaStream_t s) {
  if (s) return s;
  pthread_once(&g_default_once, make_default); /* never destroyed */
  return g_default;
}

static cudaError_t submit(cudaStream_t st, op *o) {
  struct CUstream_st *s = resolve(st);
  op *c = malloc(sizeof *c);
  if (!s || !c) {
    free(c);
    return cudaErrorMemoryAllocation;
  }
  *c = *o;
  c->next = NULL;
  pthread_mutex_lock(&g_mu);
  g_pending++;
  pthread_mutex_unlock(&g_mu);
  pthread_mutex_lock(&s->mu);
  if (s->tail)
    s->tail->next = c;
  else
    s->head = c;
  s->tail = c;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return cudaSuccess;
}

static void drain(struct CUstream_st *s) {
  pthread_mutex_lock(&s->mu);
  while (s->head) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}

/* Waits until every submitted operation of every stream has run. */
static void device_sync(void) {
  pthread_mutex_lock(&g_mu);
  while (g_pending) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
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

cudaError_t cudaDeviceSynchronize(void) {
  device_sync();
  return cudaSuccess;
}

static cudaError_t alloc(void **p, size_t n, size_t align) {
  *p = NULL;
  return posix_memalign(p, align, n ? n : 1) == 0 ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaMalloc(void **p, size_t n) { return alloc(p, n, 256); }
/* Live cudaHostAlloc blocks (pv_mock_host_allocs): the Python mock suite
 * checks with it that pin_memory's ring is pinned and handed back. */
static atomic_long host_allocs;
long pv_mock_host_allocs(void);
long pv_mock_host_allocs(void) { return atomic_load(&host_allocs); }

cudaError_t cudaHostAlloc(void **p, size_t n, unsigned int flags) {
  cudaError_t e = alloc(p, n, 4096);
  if (e == cudaSuccess) atomic_fetch_add(&host_allocs, 1);
  return e;
}
cudaError_t cudaFree(void *p) {
  device_sync(); /* as cudaFree: no work may still use it */
  free(p);
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void *p) {
  device_sync();
  if (p) atomic_fetch_sub(&host_allocs, 1);
  free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind k,
                            cudaStream_t st) {
  op o = {.kind = OP_COPY, .d = d, .s = s, .n = n};
  return submit(st, &o);
}

cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind k) {
  cudaError_t e = cudaMemcpyAsync(d, s, n, k, NULL);
  device_sync();
  return e;
}

cudaError_t cudaMemset(void *d, int v, size_t n) {
  op o = {.kind = OP_SET, .d = d, .v = v, .n = n};
  cudaError_t e = submit(NULL, &o);
  device_sync();
  return e;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int flags) {
  *s = stream_new();
  return *s ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  drain(resolve(s));
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (!s) return cudaErrorInvalidResourceHandle;
  pthread_mutex_lock(&s->mu);
  s->stop = 1; /* the thread finishes the queued work first */
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->th, NULL);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
  return cudaSuccess;
}

cudaError_t cudaLaunchHostFunc(cudaStream_t s, cudaHostFn_t fn, void *arg) {
  op o = {.kind = OP_HOSTFN, .fn = fn, .arg = arg};
  return submit(s, &o);
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int flags) {
  *e = calloc(1, sizeof **e);
  if (!*e) return cudaErrorMemoryAllocation;
  pthread_mutex_init(&(*e)->mu, NULL);
  pthread_cond_init(&(*e)->cv, NULL);
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
  /* CUDA allows destroying an event with pending records; here the streams
   * must not touch it afterwards, so wait for them. */
  device_sync();
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e);
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!e) return cudaErrorInvalidResourceHandle;
  pthread_mutex_lock(&e->mu);
  uint64_t seq = ++e->recorded;
  pthread_mutex_unlock(&e->mu);
  op o = {.kind = OP_RECORD, .ev = e, .seq = seq};
  return submit(s, &o);
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int flags) {
  if (!e) return cudaErrorInvalidResourceHandle;
  pthread_mutex_lock(&e->mu);
  uint64_t seq = e->recorded; /* the record current now; 0 = never: no wait */
  pthread_mutex_unlock(&e->mu);
  op o = {.kind = OP_WAIT, .ev = e, .seq = seq};
  return submit(s, &o);
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  pthread_mutex_lock(&e->mu);
  uint64_t seq = e->recorded;
  while (e->done < seq) pthread_cond_wait(&e->cv, &e->mu);
  pthread_mutex_unlock(&e->mu);
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t e) {
  pthread_mutex_lock(&e->mu);
  int ready = e->done >= e->recorded;
  pthread_mutex_unlock(&e->mu);
  return ready ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
  pthread_mutex_lock(&a->mu);
  int ok = a->recorded && a->done >= a->recorded;
  double ta = a->t;
  pthread_mutex_unlock(&a->mu);
  pthread_mutex_lock(&b->mu);
  ok = ok && b->recorded && b->done >= b->recorded;
  double tb = b->t;
  pthread_mutex_unlock(&b->mu);
  if (!ok) return cudaErrorNotReady;
  *ms = (float)(tb - ta);
  return cudaSuccess;
}

/* The kernel, element by element with the shared math, in stream order. */
int pv__cuda_normalize_launch(const void *src, void *dst, size_t n_pixels, uint32_t hw,
                              int dtype, int layout, const float scale[3],
                              const float bias[3], void *stream) {
  if (n_pixels == 0) return 0;
  if (!src || !dst || hw == 0 || n_pixels % hw) return (int)cudaErrorInvalidValue;
  op o = {.kind = OP_KERNEL, .d = dst, .s = src, .n_pixels = n_pixels, .hw = hw,
          .dtype = dtype, .layout = layout};
  for (int c = 0; c < 3; c++) {
    o.scale[c] = scale ? scale[c] : 0.0f;
    o.bias[c] = bias ? bias[c] : 0.0f;
  }
  return (int)submit(stream, &o);
}
