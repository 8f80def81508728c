/* pvpack_cuda.h - the GPU path: batches delivered in device memory,
 * normalized on the GPU, ordered on the caller's CUDA stream.
 *
 * A pv_cuda_loader wraps the CPU batch loader of pvpack.h. The CPU loader
 * decodes and augments into a ring of page-locked (pinned) host buffers as
 * uint8 NHWC; a feeder thread copies each finished batch to the device with
 * cudaMemcpyAsync on the ring slot's own stream (uint8 crosses the bus, not
 * float: 4x less traffic), and a fused kernel turns it into the requested
 * dtype and layout, normalized by mean and std. While batch k is copied the
 * CPU workers already decode batches k+1 .. k+prefetch into the other host
 * buffers, so the copies hide behind decoding.
 *
 * Streams. This header does not include any CUDA header: a stream is passed
 * as `void *` and is a cudaStream_t (cast it: `(void *)stream`). NULL means
 * the legacy default stream (stream 0). cudaStreamPerThread may be passed as
 * a value. Every stream passed must belong to the loader's device.
 *
 * Ordering contract (stream-ordered, like cudaMallocAsync):
 *   - pv_cuda_loader_next(l, s, &b) makes stream s wait (cudaStreamWaitEvent)
 *     for the copy and kernel that produced b. Work the caller enqueues on s
 *     afterwards sees the complete batch; no host blocking is needed. Work on
 *     another stream must first wait for s (an event recorded on s).
 *   - pv_cuda_loader_release(l, b, s) records an event on s. The loader's
 *     next write into b's buffers waits for that event on the device, so the
 *     caller's kernels enqueued on s before the release may still be reading
 *     b: it will not be overwritten under them. Pass the stream where the
 *     last reads of b were enqueued.
 *   - The blocking variant pv_cuda_loader_next_sync returns only after the
 *     batch is complete on the device (the host waits); then any stream may
 *     read it. Release it with any stream that orders after those reads, or
 *     with pv_cuda_loader_release_sync after the reads have completed.
 *
 * Determinism: device batch k is exactly CPU batch k of a pv_loader made
 * with the same options (same samples, same augmentation), converted with
 * the formula of pv_cuda_loader_options.mean/std below.
 *
 * Memory (all allocated at create, nothing grows afterwards):
 *   pinned host: loader.prefetch x batch_size x H x W x 3 bytes, plus
 *                depth x batch_size x 8 bytes of labels;
 *   device:      depth x (batch_size x H x W x 3 x dtype size + 2 x batch_size x 8
 *                bytes of labels and their staging),
 *                plus depth x batch_size x H x W x 3 bytes of uint8 staging
 *                unless the output is uint8 NHWC (copied in place).
 *   Plain cudaHostAlloc and cudaMalloc only (no managed memory). The limits
 *   max_pinned_bytes / max_device_bytes refuse a configuration that would
 *   exceed them (PV_ERR_LIMIT).
 *
 * Multi-GPU: one loader per GPU per process. device = -1 picks the device
 * from the LOCAL_RANK environment variable (torchrun's convention; 0 when
 * unset); RANK / WORLD_SIZE split the data as for the CPU loader.
 *
 * No GPU, no driver, or a library built without CUDA: pv_cuda_probe and
 * pv_cuda_loader_create return PV_ERR_CUDA with a one-line reason ("no CUDA
 * device: cudaGetDeviceCount: ..."); nothing crashes or hangs, and every
 * CPU feature of pvpack.h keeps working.
 *
 * Thread-safety: a pv_cuda_loader is driven by one thread at a time (next,
 * release, set_epoch from the same thread or serialized by the caller);
 * pv_cuda_loader_release may be called from any thread. The functions
 * change the calling thread's current CUDA device only for the duration of
 * the call (it is restored).
 *
 * Depends on: reader/'s public API (pvpack.h) and the CUDA Runtime.
 */
#ifndef PVPACK_CUDA_H
#define PVPACK_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "pvpack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the library was built with the CUDA path, else 0: every function
 * below still exists and the ones that need CUDA return PV_ERR_CUDA ("built
 * without CUDA"). CMake users also see PVPACK_HAVE_CUDA after
 * find_package(pvpack). Pure. */
PV_API int pv_cuda_built(void);

/* Element type of the device batch. */
typedef enum pv_cuda_dtype {
  PV_CUDA_UINT8 = 0,    /* raw pixels, no normalization */
  PV_CUDA_FLOAT32 = 1,  /* (x/255 - mean) / std */
  PV_CUDA_FLOAT16 = 2,  /* same, rounded to IEEE binary16 (nearest even) */
  PV_CUDA_BFLOAT16 = 3  /* same, rounded to bfloat16 (nearest even) */
} pv_cuda_dtype;

/* Page-locked host memory kind for the CPU loader's ring. */
typedef enum pv_cuda_host_memory {
  PV_CUDA_HOST_PINNED = 0,          /* cudaHostAlloc(cudaHostAllocDefault) */
  PV_CUDA_HOST_WRITE_COMBINED = 1,  /* cudaHostAllocWriteCombined: uncached
                                       for the CPU; only worth it if the
                                       workers never read the buffer back
                                       (cuda/check.sh measures both) */
  PV_CUDA_HOST_PAGEABLE = 2         /* plain malloc (benchmark baseline: the
                                       copy is staged by the driver and does
                                       not overlap) */
} pv_cuda_host_memory;

typedef struct pv_cuda_loader_options {
  size_t size;               /* sizeof(pv_cuda_loader_options); set by _init */
  pv_loader_options loader;  /* the CPU loader's options, initialised by
                                pv_loader_options_init. Its layout, dtype,
                                mean, std and allocator are ignored: the CPU
                                side always produces uint8 NHWC into the
                                memory chosen by host_memory. loader.prefetch
                                is the number of pinned host buffers.
                                Embedded, it fixes where every later field
                                lies: it must come from this version's
                                pv_loader_options_init (loader.size ==
                                sizeof(pv_loader_options)), else create
                                refuses the options (PV_ERR_INVALID_ARG)
                                rather than read them at the wrong place. */
  int device;                /* CUDA device ordinal; -1 (default) = from
                                LOCAL_RANK, 0 when unset */
  pv_cuda_dtype dtype;       /* default FLOAT32 */
  pv_layout layout;          /* default NCHW (what conv nets expect) */
  float mean[3], std[3];     /* in the 0..1 scale, as torchvision's
                                Normalize after ToTensor: out =
                                (x/255 - mean[c]) / std[c], computed in float32
                                as x * (1/(255 std)) + (-mean/std), exactly as
                                the CPU loader's FLOAT32 path. Default
                                ImageNet's. Ignored for UINT8. */
  uint32_t depth;            /* device output buffers in the ring, default 3
                                (>= 1): batches ready on the device ahead of
                                the caller, plus those the caller holds */
  pv_cuda_host_memory host_memory; /* default PINNED */
  size_t max_pinned_bytes;   /* 0 = no limit */
  size_t max_device_bytes;   /* 0 = no limit */
} pv_cuda_loader_options;

/* Fills defaults (and calls pv_loader_options_init on .loader). */
PV_API void pv_cuda_loader_options_init(pv_cuda_loader_options *o);

/* Is a usable CUDA device present? On PV_OK *count (may be NULL) receives
 * the number of devices (>= 1). Otherwise returns PV_ERR_CUDA and err (may
 * be NULL) receives why: "built without CUDA", "no CUDA device:
 * cudaGetDeviceCount: <CUDA's message> (<error name>)". Never crashes when
 * no driver is installed. Thread-safe. */
PV_API pv_status pv_cuda_probe(int *count, char *err, size_t errcap);

/* Fills *out with an allocator for pv_loader_options.allocator whose
 * buffers are page-locked host memory (cudaHostAlloc, default flags; freed
 * with cudaFreeHost), so that the CPU loader's batches copy to a GPU by
 * DMA without a staging copy (torch's pin_memory=True). Probes first: with
 * no usable device, or in a build without CUDA, returns PV_ERR_CUDA with
 * err (may be NULL) saying why, as pv_cuda_probe, and *out zeroed. The
 * allocator's alloc returns NULL when cudaHostAlloc fails (the loader then
 * fails with PV_ERR_NOMEM) or when asked for more than 4096-byte alignment.
 * ctx is NULL; the functions are thread-safe. */
PV_API pv_status pv_cuda_pinned_allocator(pv_allocator *out, char *err, size_t errcap);

/* The device a loader with options.device = `device` would use: device
 * itself when >= 0, else LOCAL_RANK (0 when unset). -1 when LOCAL_RANK is
 * not a non-negative integer. Pure; needs no GPU. */
PV_API int pv_cuda_resolve_device(int device);

typedef struct pv_cuda_loader pv_cuda_loader;

/* One batch in device memory, owned by the loader until released.
 * Valid on the stream passed to pv_cuda_loader_next (see the ordering
 * contract above). The first `count` samples are valid. */
typedef struct pv_cuda_batch {
  void *images;             /* device pointer: batch_size x H x W x 3 (NHWC)
                               or batch_size x 3 x H x W (NCHW) elements of
                               dtype, densely packed, 256-byte aligned */
  size_t images_bytes;      /* the whole buffer */
  int64_t *labels;          /* device pointer: count int64 labels (same
                               stream ordering as images) */
  const int64_t *host_labels;    /* host copy of the labels (count) */
  const uint64_t *host_records;  /* host: record numbers (provenance) */
  uint32_t count, batch_size;
  uint32_t height, width;
  pv_layout layout;
  pv_cuda_dtype dtype;
  uint64_t epoch, index;    /* which batch of which epoch */
  uint32_t replaced;        /* samples replaced after an error (REPLACE) */
  int device;               /* the CUDA device holding the buffers */
#ifdef PV_STATIC_LINKING_ONLY
  uint32_t slot;            /* the device ring buffer holding the batch,
                               0 .. depth-1, fixed while it is handed out;
                               read only, and not part of the stable API */
#else
  uint32_t internal_;       /* the library's: do not read or write */
#endif
} pv_cuda_batch;

/* Creates a loader over ds (which must outlive it) on the chosen device:
 * allocates the pinned and device rings, creates the per-slot streams and
 * events, starts the CPU workers and the feeder thread. opts may be NULL
 * (defaults). err (may be NULL) receives a one-line reason on failure.
 * Returns PV_OK; PV_ERR_CUDA (no device, bad device ordinal, any CUDA
 * failure, or built without CUDA); PV_ERR_INVALID_ARG (bad option);
 * PV_ERR_LIMIT (memory limits); PV_ERR_NOMEM; PV_ERR_EMPTY (this rank gets
 * no batch). Any error of pv_loader_create passes through. */
PV_API pv_status pv_cuda_loader_create(const pv_dataset *ds, const pv_cuda_loader_options *opts,
                                       pv_cuda_loader **out, char *err, size_t errcap);

/* Next batch of the current epoch, valid on `stream` (the host waits only
 * until the feeder has enqueued the batch's copy and kernel, not for them to
 * run). *out = NULL and PV_OK at the end of the epoch (call
 * pv_cuda_loader_set_epoch to go on).
 * Returns PV_OK; PV_ERR_DECODE / PV_ERR_CHECKSUM for a failed sample with
 * on_error = FAIL (the batch is skipped, as with pv_loader_next; last_error
 * names shard, record and source); PV_ERR_LIMIT when the caller holds every
 * device buffer (release one); PV_ERR_CUDA (a CUDA call failed: the loader
 * is unusable, destroy it); PV_ERR_INVALID_ARG. */
PV_API pv_status pv_cuda_loader_next(pv_cuda_loader *l, void *stream, pv_cuda_batch **out);

/* Like pv_cuda_loader_next, then waits on the host until the batch is
 * complete on the device: its buffers may be read from any stream. */
PV_API pv_status pv_cuda_loader_next_sync(pv_cuda_loader *l, pv_cuda_batch **out);

/* Hands b back, recording an event on `stream`: the buffers are refilled
 * only after the work enqueued on stream so far has finished. Batches may
 * be released in any order. Returns PV_OK, PV_ERR_INVALID_ARG (not a held
 * batch of this loader), PV_ERR_CUDA (the event could not be recorded: the
 * buffer is then retired until destroy rather than risk a race). */
PV_API pv_status pv_cuda_loader_release(pv_cuda_loader *l, pv_cuda_batch *b, void *stream);

/* Hands b back when the caller knows all reads of b have completed (e.g.
 * after cudaStreamSynchronize or with pv_cuda_loader_next_sync and host
 * code). Same statuses as pv_cuda_loader_release. */
PV_API pv_status pv_cuda_loader_release_sync(pv_cuda_loader *l, pv_cuda_batch *b);

/* Waits up to timeout_ms for pv_cuda_loader_next not to block: true when a
 * batch is ready, the epoch has ended, the loader has failed, or the caller
 * holds every device buffer (next would then return PV_ERR_LIMIT). Lets a
 * binding wait in short slices and handle signals (Ctrl-C) in between; the
 * time counts in stats.wait_s. Thread-safety as pv_cuda_loader_next. */
PV_API int pv_cuda_loader_wait(pv_cuda_loader *l, unsigned timeout_ms);

/* Makes stream `waiter` wait (on the device, no host blocking) for all the
 * work enqueued on stream `waited` so far: an event recorded on `waited`
 * (one event of the loader, under its own lock) and cudaStreamWaitEvent on
 * `waiter`. For consumers that read a batch on another stream than the one
 * passed to pv_cuda_loader_next (make that stream wait for it), and before a
 * release, to order the release after reads on several streams (make the
 * release stream wait for the others). Both streams must belong to the
 * loader's device; NULL is the legacy default stream. Returns PV_OK,
 * PV_ERR_INVALID_ARG (l NULL), PV_ERR_CUDA. Any thread. */
PV_API pv_status pv_cuda_stream_wait(pv_cuda_loader *l, void *waiter, void *waited);

/* Waits on the host until the work enqueued on `stream` (of the loader's
 * device; NULL = legacy default) has completed: for a consumer that reads a
 * batch outside stream order (host code over mapped memory, timing).
 * Returns PV_OK, PV_ERR_INVALID_ARG (l NULL), PV_ERR_CUDA. Any thread. */
PV_API pv_status pv_cuda_stream_synchronize(pv_cuda_loader *l, void *stream);

/* Detaches a held batch from the device ring so that the caller may keep
 * it as long as it likes without starving the loader: the batch's image and
 * label buffers become the caller's (*images, *labels: same addresses, same
 * contents, same stream ordering) and the slot gets freshly allocated
 * buffers (cudaMalloc) and is free for the next batch at once. b itself
 * (the slot's descriptor) must not be used afterwards: copy what you need
 * (count, host_labels, ...) first. Memory is then the ring plus exactly the
 * detached batches alive. Free them with pv_cuda_loader_free_detached.
 * Returns PV_OK; PV_ERR_INVALID_ARG (not a batch this loader handed out and
 * that is not released); PV_ERR_CUDA (allocation failed: the batch stays
 * held and valid). Thread-safety as pv_cuda_loader_next. */
PV_API pv_status pv_cuda_loader_detach(pv_cuda_loader *l, pv_cuda_batch *b, void **images,
                                       int64_t **labels);

/* Frees the buffers of a detached batch once the work enqueued on `stream`
 * so far has finished (the host waits for that stream: pass the stream
 * where the last reads were enqueued, after pv_cuda_stream_wait for any
 * other). images / labels may be NULL. l must not have been destroyed (the
 * buffers are counted in its stats.device_bytes until freed). Any thread. */
PV_API void pv_cuda_loader_free_detached(pv_cuda_loader *l, void *images, int64_t *labels,
                                         void *stream);

/* Starts epoch `epoch` at batch start_batch (resume), discarding batches
 * prepared but not handed out. Batches held by the caller stay valid until
 * released. Waits for at most the batch the CPU loader is finishing.
 * Returns PV_OK, PV_ERR_INVALID_ARG, or a pending PV_ERR_CUDA. */
PV_API pv_status pv_cuda_loader_set_epoch(pv_cuda_loader *l, uint64_t epoch, uint64_t start_batch);

PV_API uint64_t pv_cuda_loader_batches_per_epoch(const pv_cuda_loader *l);
PV_API uint64_t pv_cuda_loader_samples_per_epoch(const pv_cuda_loader *l);

/* The device this loader uses (-1 for NULL). */
PV_API int pv_cuda_loader_device(const pv_cuda_loader *l);

/* The reason for the last error of this loader (never NULL). */
PV_API const char *pv_cuda_loader_last_error(const pv_cuda_loader *l);

typedef struct pv_cuda_loader_stats {
  pv_loader_stats cpu;      /* the CPU loader's stages */
  uint64_t batches;         /* batches copied to the device */
  uint64_t h2d_bytes;       /* bytes copied host to device */
  double h2d_s;             /* device time of those copies (events) */
  double kernel_s;          /* device time of the normalize kernels */
  double feeder_wait_s;     /* feeder waiting for the CPU loader */
  double wait_s;            /* caller waiting in pv_cuda_loader_next */
  size_t pinned_bytes, device_bytes; /* memory held */
} pv_cuda_loader_stats;

/* Cumulative statistics; thread-safe with respect to the feeder. */
PV_API void pv_cuda_loader_get_stats(const pv_cuda_loader *l, pv_cuda_loader_stats *s);

/* Stops the feeder and the CPU workers, waits for the loader's own device
 * work, and frees every buffer, stream and event. Batches still held become
 * invalid (the caller must not have device work still reading them).
 * Accepts NULL. */
PV_API void pv_cuda_loader_destroy(pv_cuda_loader *l);

/* The normalize kernel on its own (for benchmarks and for users with their
 * own uint8 NHWC data): converts n images of h x w x 3 uint8 NHWC at the
 * device pointer src into dst (device, n x h x w x 3 elements of dtype in
 * layout), enqueued on stream. mean/std as in the options (ignored for
 * UINT8; NULL = ImageNet's). The current device must hold src and dst;
 * dst must be aligned to the element size (the fast path wants src 4-byte
 * and dst 16-byte aligned and h*w a multiple of 4, as cudaMalloc gives).
 * Returns PV_OK, PV_ERR_INVALID_ARG (NULL pointer, zero size, std <= 0,
 * misaligned dst), PV_ERR_CUDA (launch failed). */
PV_API pv_status pv_cuda_normalize(const void *src, void *dst, uint32_t n, uint32_t h, uint32_t w,
                                   pv_cuda_dtype dtype, pv_layout layout, const float mean[3],
                                   const float std[3], void *stream);

/* Bytes per element of dtype (1, 4, 2, 2), 0 when unknown. */
PV_API size_t pv_cuda_dtype_size(pv_cuda_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif /* PVPACK_CUDA_H */
