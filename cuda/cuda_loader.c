/* cuda_loader.c - the GPU path (contract in pvpack_cuda.h).
 *
 * Pipeline. The CPU loader (reader/) fills a ring of `loader.prefetch`
 * pinned host buffers with uint8 NHWC batches, through the allocator hook.
 * One feeder thread takes finished host batches in order and, for each,
 * claims a free device slot and enqueues on that slot's stream:
 *
 *   [uint8 NHWC output only: wait ev_release]   output is copied in place
 *   ev_copy_start; H2D images -> staging; H2D labels -> label staging;
 *   ev_copy_done;
 *   wait ev_release                              caller's reads are done
 *   ev_kernel_start; normalize staging -> images; D2D labels; ev_ready
 *
 * then waits on the host for ev_copy_done (a blocking-sync event: the
 * thread sleeps) and hands the host buffer back to the CPU loader, so a host
 * buffer is refilled only after its copy has completed. The copy of batch k
 * takes ~1 ms against tens of ms to decode a batch: while it runs, the CPU
 * workers decode batches k+1 .. k+prefetch into the other host buffers.
 *
 * Device slots move FREE -> FILLING (feeder) -> READY -> HANDED (caller)
 * -> FREE (release records ev_release on the caller's stream). Every write
 * into a slot's output is stream-ordered after the last ev_release, so the
 * caller's kernels may still be reading when it releases. Staging buffers
 * are only touched by the slot's own stream, in order.
 *
 * The feeder is the only thread that calls the CPU loader after create:
 * set_epoch is a request the feeder carries out between batches, so the
 * CPU loader's one-thread-at-a-time rule holds.
 */
/* pv_batch.slot and pv_cuda_batch.slot: the ring slots, visible with the
 * opt-in macro (pvpack.h, pvpack_cuda.h). */
#ifndef PV_STATIC_LINKING_ONLY
#define PV_STATIC_LINKING_ONLY 1
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "cuda_internal.h"
#include "opts_copy.h"
#include "pv_cuda_math.h"
#include "pvpack_cuda.h"

enum { DS_FREE = 0, DS_FILLING, DS_READY, DS_HANDED, DS_RETIRED };

typedef struct dslot {
  pv_cuda_batch batch;
  int state;
  uint64_t seq;           /* position in the epoch's stream of batches */
  pv_status status;       /* a CPU-side failure carried to the caller */
  char error[512];
  cudaStream_t stream;
  cudaEvent_t ev_copy_start, ev_copy_done, ev_kernel_start, ev_ready, ev_release;
  int timing_pending;     /* kernel events recorded, not yet read */
  void *staging;          /* device uint8 NHWC batch; NULL = copy into images */
  int64_t *dlabels_staging;
  int64_t *pinned_labels; /* host, page-locked: source of the labels copy */
  int64_t *hlabels;       /* host copies handed to the caller */
  uint64_t *hrecords;
} dslot;

struct pv_cuda_loader {
  pv_cuda_loader_options o;
  pv_loader *cpu;
  int device;
  size_t image_pixels;    /* H * W */
  size_t out_bytes;       /* one device output buffer */
  size_t in_bytes;        /* one uint8 NHWC batch */
  float scale[3], bias[3];
  unsigned host_flags;    /* cudaHostAlloc flags, or ~0u for pageable */

  dslot *slots;
  uint32_t nslots;

  pthread_mutex_t mu;
  pthread_cond_t cv;      /* any state change */
  pthread_t feeder;
  int feeder_started;
  int stop;
  int epoch_req;          /* set_epoch requested, not yet carried out */
  uint64_t req_epoch, req_start;
  pv_status req_status;
  int epoch_end;          /* the CPU loader reported the end of the epoch */
  uint64_t produced;      /* batches made READY in this epoch generation */
  uint64_t next_seq;      /* next batch to hand out */
  pv_status fatal;        /* sticky CUDA failure of the feeder */
  char fatal_msg[512];

  pthread_mutex_t link_mu;  /* ev_link: record + wait as one step */
  cudaEvent_t ev_link;      /* pv_cuda_stream_wait's event */

  pv_cuda_loader_stats stats;
  size_t pinned_bytes, device_bytes;
  char alloc_error[256];
  char last_error[512];
};

/* ---- helpers ------------------------------------------------------------ */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_cuda(char *buf, size_t cap, const char *what, cudaError_t e) {
  snprintf(buf, cap, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

static void set_error(pv_cuda_loader *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(l->last_error, sizeof l->last_error, fmt, ap);
  va_end(ap);
}

/* Makes the loader's device current for this call; returns the previous
 * one (or -1) for dev_leave. */
static int dev_enter(const pv_cuda_loader *l, cudaError_t *e) {
  int prev = -1;
  if (cudaGetDevice(&prev) != cudaSuccess) prev = -1;
  *e = prev == l->device ? cudaSuccess : cudaSetDevice(l->device);
  return prev;
}

static void restore_device(int dev, int prev) {
  if (prev >= 0 && prev != dev) cudaSetDevice(prev);
}

static void dev_leave(const pv_cuda_loader *l, int prev) { restore_device(l->device, prev); }

int pv_cuda_built(void) { return 1; }

pv_status pv_cuda_probe(int *count, char *err, size_t errcap) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (count) *count = e == cudaSuccess ? n : 0;
  if (e != cudaSuccess) {
    if (err && errcap) {
      char tmp[384];
      fmt_cuda(tmp, sizeof tmp, "cudaGetDeviceCount", e);
      snprintf(err, errcap, "no CUDA device: %s", tmp);
    }
    return PV_ERR_CUDA;
  }
  if (n < 1) {
    if (err && errcap) snprintf(err, errcap, "no CUDA device: cudaGetDeviceCount found 0");
    return PV_ERR_CUDA;
  }
  return PV_OK;
}

/* ---- the allocator hook for the CPU loader's ring --------------------------------- */

static void *host_alloc(void *ctx, size_t size, size_t align) {
  pv_cuda_loader *l = ctx;
  void *p = NULL;
  if (l->host_flags == ~0u) {
    if (posix_memalign(&p, align < 4096 ? 4096 : align, size) != 0) p = NULL;
  } else {
    /* cudaHostAlloc memory is page-aligned; the loader asks for 4096. */
    cudaError_t e = align <= 4096 ? cudaHostAlloc(&p, size, l->host_flags) : cudaErrorInvalidValue;
    if (e != cudaSuccess) {
      fmt_cuda(l->alloc_error, sizeof l->alloc_error, "cudaHostAlloc", e);
      p = NULL;
    }
  }
  if (p) l->pinned_bytes += size;
  return p;
}

static void host_free(void *ctx, void *p, size_t size) {
  pv_cuda_loader *l = ctx;
  if (!p) return;
  if (l->host_flags == ~0u)
    free(p);
  else
    cudaFreeHost(p);
  l->pinned_bytes -= size;
}

/* ---- pinned host memory for the CPU loader alone (pin_memory) ------------------- */

static void *pinned_alloc(void *ctx, size_t size, size_t align) {
  (void)ctx;
  void *p = NULL;
  if (align > 4096 || cudaHostAlloc(&p, size ? size : 1, cudaHostAllocDefault) != cudaSuccess)
    return NULL;
  return p;
}

static void pinned_free(void *ctx, void *p, size_t size) {
  (void)ctx, (void)size;
  if (p) cudaFreeHost(p);
}

pv_status pv_cuda_pinned_allocator(pv_allocator *out, char *err, size_t errcap) {
  if (!out) return PV_ERR_INVALID_ARG;
  memset(out, 0, sizeof *out);
  pv_status st = pv_cuda_probe(NULL, err, errcap);
  if (st != PV_OK) return st;
  out->alloc = pinned_alloc;
  out->free = pinned_free;
  return PV_OK;
}

/* ---- the feeder ------------------------------------------------------------- */

/* Reads the device times of the previous use of s if they are available
 * (never blocks; a sample is dropped rather than waited for). Feeder only. */
static void harvest_kernel_time(pv_cuda_loader *l, dslot *s) {
  if (!s->timing_pending) return;
  s->timing_pending = 0;
  float ms = 0;
  if (cudaEventQuery(s->ev_ready) == cudaSuccess &&
      cudaEventElapsedTime(&ms, s->ev_kernel_start, s->ev_ready) == cudaSuccess) {
    pthread_mutex_lock(&l->mu);
    l->stats.kernel_s += ms * 1e-3;
    pthread_mutex_unlock(&l->mu);
  }
  (void)cudaGetLastError(); /* a not-ready query is not an error */
}

/* Enqueues the copy and the kernel of host batch hb into device slot s,
 * waits for the copy, and fills s->batch. Feeder only; s is FILLING. The
 * caller hands hb back to the CPU loader afterwards. Returns PV_OK or
 * PV_ERR_CUDA with msg. */
static pv_status enqueue_batch(pv_cuda_loader *l, dslot *s, const pv_batch *hb, char *msg,
                               size_t cap) {
  cudaError_t e;
  const char *what;
  size_t bytes = (size_t)hb->count * l->image_pixels * 3;
  size_t lbytes = (size_t)hb->count * sizeof(int64_t);
  void *dst = s->staging ? s->staging : s->batch.images;

  harvest_kernel_time(l, s);
  /* The previous use of pinned_labels was copied before its ev_copy_done,
   * which this thread waited for: safe to overwrite. */
  memcpy(s->pinned_labels, hb->labels, lbytes);
#define CK(call)                       \
  do {                                 \
    what = #call;                      \
    if ((e = (call)) != cudaSuccess) { \
      goto out_cuda;                   \
    }                                  \
  } while (0)
  if (!s->staging) CK(cudaStreamWaitEvent(s->stream, s->ev_release, 0));
  CK(cudaEventRecord(s->ev_copy_start, s->stream));
  CK(cudaMemcpyAsync(dst, hb->images, bytes, cudaMemcpyHostToDevice, s->stream));
  CK(cudaMemcpyAsync(s->dlabels_staging, s->pinned_labels, lbytes, cudaMemcpyHostToDevice,
                     s->stream));
  CK(cudaEventRecord(s->ev_copy_done, s->stream));
  if (s->staging) CK(cudaStreamWaitEvent(s->stream, s->ev_release, 0));
  CK(cudaEventRecord(s->ev_kernel_start, s->stream));
  /* The launch reports through cudaGetLastError: clear what an ignored
   * failure of this thread (a timing query) may have left there. */
  (void)cudaGetLastError();
  if (s->staging)
    CK((cudaError_t)pv__cuda_normalize_launch(s->staging, s->batch.images,
                                              (size_t)hb->count * l->image_pixels,
                                              (uint32_t)l->image_pixels, (int)l->o.dtype,
                                              (int)l->o.layout, l->scale, l->bias, s->stream));
  CK(cudaMemcpyAsync(s->batch.labels, s->dlabels_staging, lbytes, cudaMemcpyDeviceToDevice,
                     s->stream));
  CK(cudaEventRecord(s->ev_ready, s->stream));
  s->timing_pending = 1;
  CK(cudaEventSynchronize(s->ev_copy_done));
#undef CK
  float ms = 0;
  if (cudaEventElapsedTime(&ms, s->ev_copy_start, s->ev_copy_done) != cudaSuccess) ms = 0;

  memcpy(s->hlabels, hb->labels, lbytes);
  memcpy(s->hrecords, hb->records, (size_t)hb->count * sizeof(uint64_t));
  s->batch.count = hb->count;
  s->batch.epoch = hb->epoch;
  s->batch.index = hb->index;
  s->batch.replaced = hb->replaced;

  pthread_mutex_lock(&l->mu);
  l->stats.batches++;
  l->stats.h2d_bytes += bytes + lbytes;
  /* Device time of the copy alone: ev_copy_start is recorded after any
   * wait for the caller, so the interval excludes it. */
  l->stats.h2d_s += ms * 1e-3;
  pthread_mutex_unlock(&l->mu);
  return PV_OK;

out_cuda:
  fmt_cuda(msg, cap, what, e);
  return PV_ERR_CUDA;
}

static dslot *free_slot(pv_cuda_loader *l) {
  for (uint32_t i = 0; i < l->nslots; i++)
    if (l->slots[i].state == DS_FREE) return &l->slots[i];
  return NULL;
}

static void *feeder_main(void *arg) {
  pv_cuda_loader *l = arg;
  cudaError_t e = cudaSetDevice(l->device);
  pthread_mutex_lock(&l->mu);
  if (e != cudaSuccess) {
    l->fatal = PV_ERR_CUDA;
    fmt_cuda(l->fatal_msg, sizeof l->fatal_msg, "feeder: cudaSetDevice", e);
  }
  for (;;) {
    if (l->stop) break;
    if (l->epoch_req) {
      /* Discard prepared batches; their device work stays ordered on their
       * slot streams ahead of any later use. */
      l->req_status = pv_loader_set_epoch(l->cpu, l->req_epoch, l->req_start);
      for (uint32_t i = 0; i < l->nslots; i++)
        if (l->slots[i].state == DS_READY) l->slots[i].state = DS_FREE;
      l->produced = l->next_seq = 0;
      l->epoch_end = 0;
      l->epoch_req = 0;
      pthread_cond_broadcast(&l->cv);
      continue;
    }
    dslot *s = l->fatal || l->epoch_end ? NULL : free_slot(l);
    if (!s) {
      pthread_cond_wait(&l->cv, &l->mu);
      continue;
    }
    s->state = DS_FILLING;
    pthread_mutex_unlock(&l->mu);

    double t0 = now_s();
    pv_batch *hb = NULL;
    pv_status st = pv_loader_next(l->cpu, &hb);
    double waited = now_s() - t0;
    char msg[512] = "";
    pv_status cst = PV_OK;
    if (st == PV_OK && hb) {
      cst = enqueue_batch(l, s, hb, msg, sizeof msg);
      /* On a CUDA failure the copy may still be pending: keep the host
       * buffer out of the ring rather than let the workers overwrite it. */
      if (cst == PV_OK) pv_loader_release(l->cpu, hb);
    } else if (st != PV_OK) {
      snprintf(msg, sizeof msg, "%s", pv_loader_last_error(l->cpu));
    }

    pthread_mutex_lock(&l->mu);
    l->stats.feeder_wait_s += waited;
    if (cst != PV_OK) {
      l->fatal = PV_ERR_CUDA;
      snprintf(l->fatal_msg, sizeof l->fatal_msg, "feeder: %s", msg);
      s->state = DS_RETIRED;
    } else if (l->epoch_req) {
      s->state = DS_FREE; /* belongs to the epoch being replaced */
    } else if (st == PV_OK && !hb) {
      s->state = DS_FREE;
      l->epoch_end = 1;
    } else {
      s->status = st;
      snprintf(s->error, sizeof s->error, "%s", st == PV_OK ? "" : msg);
      s->seq = l->produced++;
      s->state = DS_READY;
    }
    pthread_cond_broadcast(&l->cv);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int check_options(const pv_cuda_loader_options *o, char *err, size_t cap) {
#define BAD(...) return snprintf(err, cap, __VA_ARGS__), 0
  if (pv_cuda_dtype_size(o->dtype) == 0) BAD("unknown dtype");
  if (o->layout != PV_LAYOUT_NHWC && o->layout != PV_LAYOUT_NCHW) BAD("unknown layout");
  if (o->depth == 0 || o->depth > 64) BAD("depth must be 1..64");
  if (o->host_memory > PV_CUDA_HOST_PAGEABLE) BAD("unknown host_memory");
  if (o->dtype != PV_CUDA_UINT8)
    for (int c = 0; c < 3; c++)
      if (!(o->std[c] > 0)) BAD("std must be > 0");
  /* The embedded pv_loader_options fixes where every later field lies, so
   * it must be this version's (pvpack_cuda.h). */
  if (o->loader.size != sizeof o->loader)
    BAD("loader options not initialised with this version's pv_loader_options_init "
        "(size %zu, this library's %zu)", o->loader.size, sizeof o->loader);
  return 1;
#undef BAD
}

pv_status pv_cuda_loader_create(const pv_dataset *ds, const pv_cuda_loader_options *opts,
                                pv_cuda_loader **out, char *err, size_t errcap) {
  char ebuf[512];
  if (!err || !errcap) {
    err = ebuf;
    errcap = sizeof ebuf;
  }
  err[0] = 0;
  if (!ds || !out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pv_cuda_loader_options o;
  /* An older caller's smaller struct: its fields, the defaults for the rest
   * (opts_copy.h); the embedded loader options as check_options says. */
  if (PV__OPTS_COPY(&o, pv_cuda_loader_options_init, opts) != PV_OK) {
    snprintf(err, errcap, "options not initialised with pv_cuda_loader_options_init (size %zu)",
             opts->size);
    return PV_ERR_INVALID_ARG;
  }
  if (!check_options(&o, err, errcap)) return PV_ERR_INVALID_ARG;
  int dev = pv_cuda_resolve_device(o.device);
  if (dev < 0) {
    snprintf(err, errcap, "LOCAL_RANK=%s is not a device ordinal", getenv("LOCAL_RANK"));
    return PV_ERR_INVALID_ARG;
  }
  int ndev = 0;
  pv_status st = pv_cuda_probe(&ndev, err, errcap);
  if (st != PV_OK) return st;
  if (dev >= ndev) {
    snprintf(err, errcap, "CUDA device %d requested (LOCAL_RANK or options.device) but %d present",
             dev, ndev);
    return PV_ERR_CUDA;
  }

  /* Sizes and the memory bounds, before anything is allocated. */
  const pv_loader_options *lo = &o.loader;
  if (lo->batch_size == 0 || lo->height == 0 || lo->width == 0 || lo->prefetch == 0) {
    snprintf(err, errcap, "batch_size, height, width and prefetch must be >= 1");
    return PV_ERR_INVALID_ARG;
  }
  size_t pixels = (size_t)lo->height * lo->width;
  size_t in_bytes = (size_t)lo->batch_size * pixels * 3;
  size_t out_bytes = in_bytes * pv_cuda_dtype_size(o.dtype);
  int in_place = o.dtype == PV_CUDA_UINT8 && o.layout == PV_LAYOUT_NHWC;
  size_t lbytes = (size_t)lo->batch_size * sizeof(int64_t);
  size_t want_pinned = (size_t)lo->prefetch * in_bytes + o.depth * lbytes;
  size_t want_device = o.depth * (out_bytes + (in_place ? 0 : in_bytes) + 2 * lbytes);
  if (o.max_pinned_bytes && want_pinned > o.max_pinned_bytes) {
    snprintf(err, errcap, "pinned memory %zu bytes (prefetch %u x %zu) exceeds max_pinned_bytes %zu",
             want_pinned, lo->prefetch, in_bytes, o.max_pinned_bytes);
    return PV_ERR_LIMIT;
  }
  if (o.max_device_bytes && want_device > o.max_device_bytes) {
    snprintf(err, errcap, "device memory %zu bytes (depth %u) exceeds max_device_bytes %zu",
             want_device, o.depth, o.max_device_bytes);
    return PV_ERR_LIMIT;
  }

  pv_cuda_loader *l = calloc(1, sizeof *l);
  if (!l) return PV_ERR_NOMEM;
  l->o = o;
  l->device = dev;
  l->image_pixels = pixels;
  l->in_bytes = in_bytes;
  l->out_bytes = out_bytes;
  if (o.dtype != PV_CUDA_UINT8) pv__nm_params(o.mean, o.std, l->scale, l->bias);
  l->host_flags = o.host_memory == PV_CUDA_HOST_PAGEABLE ? ~0u
                  : o.host_memory == PV_CUDA_HOST_WRITE_COMBINED ? cudaHostAllocWriteCombined
                                                                  : cudaHostAllocDefault;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  pthread_mutex_init(&l->link_mu, NULL);
  l->nslots = o.depth;
  l->slots = calloc(l->nslots, sizeof *l->slots);
  if (!l->slots) {
    pv_cuda_loader_destroy(l);
    return PV_ERR_NOMEM;
  }

  cudaError_t e;
  const char *what = "cudaSetDevice";
  int prev = dev_enter(l, &e);
  if (e != cudaSuccess) goto out_cuda;
#define CK(call)                                  \
  do {                                            \
    what = #call;                                 \
    if ((e = (call)) != cudaSuccess) goto out_cuda; \
  } while (0)
  CK(cudaEventCreateWithFlags(&l->ev_link, cudaEventDisableTiming));
  for (uint32_t i = 0; i < l->nslots; i++) {
    dslot *s = &l->slots[i];
    pv_cuda_batch *b = &s->batch;
    b->batch_size = lo->batch_size;
    b->height = lo->height;
    b->width = lo->width;
    b->layout = o.layout;
    b->dtype = o.dtype;
    b->device = dev;
    b->slot = i;
    b->images_bytes = out_bytes;
    s->hlabels = calloc(lo->batch_size, sizeof *s->hlabels);
    s->hrecords = calloc(lo->batch_size, sizeof *s->hrecords);
    if (!s->hlabels || !s->hrecords) {
      snprintf(err, errcap, "out of memory");
      pv_cuda_loader_destroy(l);
      restore_device(dev, prev);
      return PV_ERR_NOMEM;
    }
    b->host_labels = s->hlabels;
    b->host_records = s->hrecords;
    /* Non-blocking: the slot streams never serialize with the caller's
     * legacy default stream; every dependency is an explicit event. */
    CK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    CK(cudaEventCreateWithFlags(&s->ev_copy_start, cudaEventDefault));
    CK(cudaEventCreateWithFlags(&s->ev_copy_done, cudaEventBlockingSync));
    CK(cudaEventCreateWithFlags(&s->ev_kernel_start, cudaEventDefault));
    CK(cudaEventCreateWithFlags(&s->ev_ready, cudaEventBlockingSync));
    CK(cudaEventCreateWithFlags(&s->ev_release, cudaEventDisableTiming));
    CK(cudaMalloc(&b->images, out_bytes));
    l->device_bytes += out_bytes;
    if (!in_place) {
      CK(cudaMalloc(&s->staging, in_bytes));
      l->device_bytes += in_bytes;
    }
    CK(cudaMalloc((void **)&b->labels, lbytes));
    CK(cudaMalloc((void **)&s->dlabels_staging, lbytes));
    l->device_bytes += 2 * lbytes;
    CK(cudaHostAlloc((void **)&s->pinned_labels, lbytes, cudaHostAllocDefault));
    l->pinned_bytes += lbytes;
  }
#undef CK

  pv_loader_options cpu = o.loader;
  cpu.dtype = PV_DTYPE_UINT8;
  cpu.layout = PV_LAYOUT_NHWC;
  cpu.allocator.alloc = host_alloc;
  cpu.allocator.free = host_free;
  cpu.allocator.ctx = l;
  st = pv_loader_create(ds, &cpu, &l->cpu, err, errcap);
  if (st != PV_OK) {
    if (st == PV_ERR_NOMEM && l->alloc_error[0]) {
      snprintf(err, errcap, "%s allocating %u host batch buffers of %zu bytes", l->alloc_error,
               lo->prefetch, in_bytes);
      st = PV_ERR_CUDA;
    }
    pv_cuda_loader_destroy(l);
    restore_device(dev, prev);
    return st;
  }
  if (pthread_create(&l->feeder, NULL, feeder_main, l) != 0) {
    snprintf(err, errcap, "cannot start the feeder thread");
    pv_cuda_loader_destroy(l);
    restore_device(dev, prev);
    return PV_ERR_NOMEM;
  }
  l->feeder_started = 1;
  dev_leave(l, prev);
  *out = l;
  return PV_OK;

out_cuda:
  fmt_cuda(err, errcap, what, e);
  pv_cuda_loader_destroy(l);
  restore_device(dev, prev);
  return PV_ERR_CUDA;
}

void pv_cuda_loader_destroy(pv_cuda_loader *l) {
  if (!l) return;
  if (l->feeder_started) {
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->feeder, NULL);
  }
  cudaError_t e;
  int prev = l->slots ? dev_enter(l, &e) : -1;
  if (l->slots)
    for (uint32_t i = 0; i < l->nslots; i++) {
      dslot *s = &l->slots[i];
      if (s->stream) {
        cudaStreamSynchronize(s->stream);
        cudaStreamDestroy(s->stream);
      }
      if (s->ev_copy_start) cudaEventDestroy(s->ev_copy_start);
      if (s->ev_copy_done) cudaEventDestroy(s->ev_copy_done);
      if (s->ev_kernel_start) cudaEventDestroy(s->ev_kernel_start);
      if (s->ev_ready) cudaEventDestroy(s->ev_ready);
      if (s->ev_release) cudaEventDestroy(s->ev_release);
      if (s->batch.images) cudaFree(s->batch.images);
      if (s->staging) cudaFree(s->staging);
      if (s->batch.labels) cudaFree(s->batch.labels);
      if (s->dlabels_staging) cudaFree(s->dlabels_staging);
      if (s->pinned_labels) cudaFreeHost(s->pinned_labels);
      free(s->hlabels);
      free(s->hrecords);
    }
  if (l->ev_link) cudaEventDestroy(l->ev_link);
  /* Frees the pinned ring through host_free (all copies have completed:
   * the slot streams were synchronized above). */
  pv_loader_destroy(l->cpu);
  if (l->slots) dev_leave(l, prev);
  free(l->slots);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->link_mu);
  free(l);
}

/* ---- the caller's side ------------------------------------------------------ */

/* Would take() return without waiting? Under l->mu. */
static int ready_locked(const pv_cuda_loader *l) {
  if (l->fatal) return 1;
  int others = 0;
  for (uint32_t i = 0; i < l->nslots; i++) {
    const dslot *c = &l->slots[i];
    if (c->state == DS_READY && c->seq == l->next_seq) return 1;
    others |= c->state == DS_FREE || c->state == DS_FILLING || c->state == DS_READY;
  }
  return (l->epoch_end && l->produced == l->next_seq) || !others;
}

int pv_cuda_loader_wait(pv_cuda_loader *l, unsigned timeout_ms) {
  if (!l) return 1;
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += timeout_ms / 1000;
  dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&l->mu);
  double t0 = now_s();
  int r;
  while (!(r = ready_locked(l)))
    if (pthread_cond_timedwait(&l->cv, &l->mu, &dl) != 0) {
      r = ready_locked(l);
      break;
    }
  l->stats.wait_s += now_s() - t0;
  pthread_mutex_unlock(&l->mu);
  return r;
}

/* Takes the next READY slot (waiting for the feeder), or reports the end of
 * the epoch (*out = NULL) or an error. */
static pv_status take(pv_cuda_loader *l, dslot **out) {
  *out = NULL;
  pthread_mutex_lock(&l->mu);
  double t0 = now_s();
  dslot *s = NULL;
  pv_status st = PV_OK;
  for (;;) {
    if (l->fatal) {
      set_error(l, "%s", l->fatal_msg);
      st = l->fatal;
      break;
    }
    int others = 0; /* slots the feeder may still fill or has filled */
    for (uint32_t i = 0; i < l->nslots && !s; i++) {
      dslot *c = &l->slots[i];
      if (c->state == DS_READY && c->seq == l->next_seq) s = c;
      others |= c->state == DS_FREE || c->state == DS_FILLING || c->state == DS_READY;
    }
    if (s) break;
    if (l->epoch_end && l->produced == l->next_seq) break; /* end of epoch */
    if (!others) {
      set_error(l, "all %u device batch buffers are held by the caller: release one", l->nslots);
      st = PV_ERR_LIMIT;
      break;
    }
    pthread_cond_wait(&l->cv, &l->mu);
  }
  l->stats.wait_s += now_s() - t0;
  if (s) {
    l->next_seq++;
    if (s->status != PV_OK) {
      st = s->status;
      set_error(l, "%s", s->error);
      s->state = DS_FREE;
      s = NULL;
    } else {
      s->state = DS_HANDED;
    }
    pthread_cond_broadcast(&l->cv);
  }
  pthread_mutex_unlock(&l->mu);
  *out = s;
  return st;
}

/* Puts a handed slot back after a failed wait, so it is not lost. */
static void untake(pv_cuda_loader *l, dslot *s) {
  pthread_mutex_lock(&l->mu);
  s->state = DS_FREE;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static pv_status next_common(pv_cuda_loader *l, int sync, void *stream, pv_cuda_batch **out) {
  if (!l || !out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  dslot *s;
  pv_status st = take(l, &s);
  if (st != PV_OK || !s) return st;
  cudaError_t e;
  int prev = dev_enter(l, &e);
  const char *what = "cudaSetDevice";
  if (e == cudaSuccess) {
    if (sync) {
      what = "cudaEventSynchronize";
      e = cudaEventSynchronize(s->ev_ready);
    } else {
      what = "cudaStreamWaitEvent";
      e = cudaStreamWaitEvent((cudaStream_t)stream, s->ev_ready, 0);
    }
  }
  dev_leave(l, prev);
  if (e != cudaSuccess) {
    char msg[384];
    fmt_cuda(msg, sizeof msg, what, e);
    set_error(l, "batch %llu: %s", (unsigned long long)s->batch.index, msg);
    untake(l, s);
    return PV_ERR_CUDA;
  }
  *out = &s->batch;
  return PV_OK;
}

pv_status pv_cuda_loader_next(pv_cuda_loader *l, void *stream, pv_cuda_batch **out) {
  return next_common(l, 0, stream, out);
}

pv_status pv_cuda_loader_next_sync(pv_cuda_loader *l, pv_cuda_batch **out) {
  return next_common(l, 1, NULL, out);
}

static pv_status release_common(pv_cuda_loader *l, pv_cuda_batch *b, int record, void *stream) {
  if (!l || !b || b->slot >= l->nslots || b != &l->slots[b->slot].batch)
    return PV_ERR_INVALID_ARG;
  dslot *s = &l->slots[b->slot];
  pthread_mutex_lock(&l->mu);
  int held = s->state == DS_HANDED;
  pthread_mutex_unlock(&l->mu);
  if (!held) return PV_ERR_INVALID_ARG;
  cudaError_t e = cudaSuccess;
  if (record) {
    /* The feeder does not touch a HANDED slot, so the record needs no lock;
     * it must happen before the slot becomes FREE. */
    int prev = dev_enter(l, &e);
    if (e == cudaSuccess) e = cudaEventRecord(s->ev_release, (cudaStream_t)stream);
    dev_leave(l, prev);
  }
  pthread_mutex_lock(&l->mu);
  s->state = e == cudaSuccess ? DS_FREE : DS_RETIRED;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  if (e != cudaSuccess) {
    char msg[384];
    fmt_cuda(msg, sizeof msg, "release: cudaEventRecord", e);
    set_error(l, "%s (buffer retired)", msg);
    return PV_ERR_CUDA;
  }
  return PV_OK;
}

pv_status pv_cuda_loader_release(pv_cuda_loader *l, pv_cuda_batch *b, void *stream) {
  return release_common(l, b, 1, stream);
}

pv_status pv_cuda_loader_release_sync(pv_cuda_loader *l, pv_cuda_batch *b) {
  return release_common(l, b, 0, NULL);
}

pv_status pv_cuda_stream_wait(pv_cuda_loader *l, void *waiter, void *waited) {
  if (!l) return PV_ERR_INVALID_ARG;
  if (waiter == waited) return PV_OK; /* a stream is ordered with itself */
  cudaError_t e;
  const char *what = "cudaSetDevice";
  int prev = dev_enter(l, &e);
  if (e == cudaSuccess) {
    /* cudaStreamWaitEvent waits for the record current at the call, so one
     * event serves every caller as long as record + wait are not
     * interleaved with another pair. */
    pthread_mutex_lock(&l->link_mu);
    what = "cudaEventRecord";
    e = cudaEventRecord(l->ev_link, (cudaStream_t)waited);
    if (e == cudaSuccess) {
      what = "cudaStreamWaitEvent";
      e = cudaStreamWaitEvent((cudaStream_t)waiter, l->ev_link, 0);
    }
    pthread_mutex_unlock(&l->link_mu);
  }
  dev_leave(l, prev);
  if (e != cudaSuccess) {
    char msg[384];
    fmt_cuda(msg, sizeof msg, what, e);
    set_error(l, "stream wait: %s", msg);
    return PV_ERR_CUDA;
  }
  return PV_OK;
}

pv_status pv_cuda_stream_synchronize(pv_cuda_loader *l, void *stream) {
  if (!l) return PV_ERR_INVALID_ARG;
  cudaError_t e;
  int prev = dev_enter(l, &e);
  if (e == cudaSuccess) e = cudaStreamSynchronize((cudaStream_t)stream);
  dev_leave(l, prev);
  if (e != cudaSuccess) {
    char msg[384];
    fmt_cuda(msg, sizeof msg, "cudaStreamSynchronize", e);
    set_error(l, "%s", msg);
    return PV_ERR_CUDA;
  }
  return PV_OK;
}

pv_status pv_cuda_loader_detach(pv_cuda_loader *l, pv_cuda_batch *b, void **images,
                                int64_t **labels) {
  if (!l || !b || !images || !labels || b->slot >= l->nslots || b != &l->slots[b->slot].batch)
    return PV_ERR_INVALID_ARG;
  dslot *s = &l->slots[b->slot];
  pthread_mutex_lock(&l->mu);
  int held = s->state == DS_HANDED;
  pthread_mutex_unlock(&l->mu);
  if (!held) return PV_ERR_INVALID_ARG;
  size_t lbytes = (size_t)l->o.loader.batch_size * sizeof(int64_t);
  void *img = NULL;
  void *lab = NULL;
  cudaError_t e;
  const char *what = "cudaSetDevice";
  int prev = dev_enter(l, &e);
  if (e == cudaSuccess) {
    what = "cudaMalloc";
    e = cudaMalloc(&img, l->out_bytes);
    if (e == cudaSuccess) e = cudaMalloc(&lab, lbytes);
    if (e != cudaSuccess) {
      if (img) cudaFree(img);
      img = NULL;
    }
  }
  dev_leave(l, prev);
  if (e != cudaSuccess) {
    char msg[384];
    fmt_cuda(msg, sizeof msg, what, e);
    set_error(l, "detach: %s (the batch stays held)", msg);
    return PV_ERR_CUDA;
  }
  *images = s->batch.images;
  *labels = s->batch.labels;
  /* The slot's new buffers have no readers: the feeder's wait on the old
   * ev_release record is merely redundant. Its writes into the old
   * buffers all precede ev_ready, which every reader waits for. */
  pthread_mutex_lock(&l->mu);
  s->batch.images = img;
  s->batch.labels = lab;
  s->state = DS_FREE;
  l->device_bytes += l->out_bytes + lbytes;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  return PV_OK;
}

void pv_cuda_loader_free_detached(pv_cuda_loader *l, void *images, int64_t *labels,
                                  void *stream) {
  if (!l || (!images && !labels)) return;
  cudaError_t e;
  int prev = dev_enter(l, &e);
  /* cudaFree does not order itself after work on other streams reliably
   * enough to rely on; wait for the readers' stream explicitly. */
  cudaStreamSynchronize((cudaStream_t)stream);
  if (images) cudaFree(images);
  if (labels) cudaFree(labels);
  dev_leave(l, prev);
  pthread_mutex_lock(&l->mu);
  l->device_bytes -= (images ? l->out_bytes : 0) +
                     (labels ? (size_t)l->o.loader.batch_size * sizeof(int64_t) : 0);
  pthread_mutex_unlock(&l->mu);
}

pv_status pv_cuda_loader_set_epoch(pv_cuda_loader *l, uint64_t epoch, uint64_t start_batch) {
  if (!l) return PV_ERR_INVALID_ARG;
  pthread_mutex_lock(&l->mu);
  l->req_epoch = epoch;
  l->req_start = start_batch;
  l->epoch_req = 1;
  pthread_cond_broadcast(&l->cv);
  while (l->epoch_req && !l->stop) pthread_cond_wait(&l->cv, &l->mu);
  pv_status st = l->req_status;
  if (st == PV_OK && l->fatal) {
    set_error(l, "%s", l->fatal_msg);
    st = l->fatal;
  }
  pthread_mutex_unlock(&l->mu);
  return st;
}

uint64_t pv_cuda_loader_batches_per_epoch(const pv_cuda_loader *l) {
  return l ? pv_loader_batches_per_epoch(l->cpu) : 0;
}

uint64_t pv_cuda_loader_samples_per_epoch(const pv_cuda_loader *l) {
  return l ? pv_loader_samples_per_epoch(l->cpu) : 0;
}

int pv_cuda_loader_device(const pv_cuda_loader *l) { return l ? l->device : -1; }

const char *pv_cuda_loader_last_error(const pv_cuda_loader *l) {
  return l ? l->last_error : "";
}

void pv_cuda_loader_get_stats(const pv_cuda_loader *l, pv_cuda_loader_stats *s) {
  if (!l || !s) return;
  pthread_mutex_lock((pthread_mutex_t *)&l->mu);
  *s = l->stats;
  s->pinned_bytes = l->pinned_bytes;
  s->device_bytes = l->device_bytes;
  pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
  pv_loader_get_stats(l->cpu, &s->cpu);
}

/* ---- the kernel on its own ---------------------------------------------------- */

pv_status pv_cuda_normalize(const void *src, void *dst, uint32_t n, uint32_t h, uint32_t w,
                            pv_cuda_dtype dtype, pv_layout layout, const float mean[3],
                            const float std[3], void *stream) {
  static const float imean[3] = {PV_IMAGENET_MEAN}, istd[3] = {PV_IMAGENET_STD};
  if (!src || !dst || !n || !h || !w || pv_cuda_dtype_size(dtype) == 0 ||
      (layout != PV_LAYOUT_NHWC && layout != PV_LAYOUT_NCHW) ||
      (uintptr_t)dst % pv_cuda_dtype_size(dtype) != 0)
    return PV_ERR_INVALID_ARG;
  if (!mean) mean = imean;
  if (!std) std = istd;
  float scale[3] = {0, 0, 0}, bias[3] = {0, 0, 0};
  if (dtype != PV_CUDA_UINT8) {
    for (int c = 0; c < 3; c++)
      if (!(std[c] > 0)) return PV_ERR_INVALID_ARG;
    pv__nm_params(mean, std, scale, bias);
  }
  size_t hw = (size_t)h * w;
  if (hw > UINT32_MAX) return PV_ERR_INVALID_ARG;
  int e = pv__cuda_normalize_launch(src, dst, hw * n, (uint32_t)hw, (int)dtype, (int)layout,
                                    scale, bias, stream);
  return e == 0 ? PV_OK : PV_ERR_CUDA;
}
