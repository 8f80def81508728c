/* cuda_bench.c - figures for the GPU path (issue 4), all measured in the
 * same run on the same device:
 *   (a) peak host-to-device bandwidth of cudaMemcpyAsync from pinned,
 *       write-combined pinned and pageable memory;
 *   (b) the loader's achieved H2D bandwidth (bytes over the device time of
 *       its copies, from events) and its average over wall time;
 *   (c) images/s of the loader with device output (pv_cuda_loader, GPU
 *       normalize) against host output (pv_loader, uint8 NHWC), pinned and
 *       write-combined ring, interleaved repetitions, best of each; target
 *       >= 0.95x (copies hidden behind decoding);
 *   (d) the normalize kernel's bandwidth (bytes read + written per second)
 *       for every dtype and layout, against a device-to-device cudaMemcpy
 *       (2 x bytes per second) as the device memory bandwidth.
 *
 * usage: cuda_bench DATASET [--batch N] [--size N] [--threads N]
 *                           [--epochs N] [--reps N] [--prefetch N] [--depth N]
 *                           [--dtype u8|f32|f16|bf16] [--layout nchw|nhwc]
 * Built with the CUDA path only (bench/CMakeLists.txt); run by cuda/check.sh. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "pvpack.h"
#include "pvpack_cuda.h"

#define CU(call)                                                                       \
  do {                                                                                 \
    cudaError_t e_ = (call);                                                           \
    if (e_ != cudaSuccess) {                                                           \
      fprintf(stderr, "cuda_bench: %s: %s\n", #call, cudaGetErrorString(e_));         \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- (a) peak H2D ------------------------------------------------------------ */

/* GB/s (1e9 bytes/s) of `reps` back-to-back copies of `bytes`, best of 3. */
static double h2d_peak(size_t bytes, int kind) {
  void *h = NULL, *d = NULL;
  if (kind == PV_CUDA_HOST_PAGEABLE) {
    h = malloc(bytes);
    if (!h) return 0;
  } else {
    CU(cudaHostAlloc(&h, bytes,
                     kind == PV_CUDA_HOST_WRITE_COMBINED ? cudaHostAllocWriteCombined
                                                         : cudaHostAllocDefault));
  }
  memset(h, 1, bytes);
  CU(cudaMalloc(&d, bytes));
  cudaStream_t s;
  cudaEvent_t a, b;
  CU(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CU(cudaEventCreate(&a));
  CU(cudaEventCreate(&b));
  CU(cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice, s)); /* warm-up */
  const int reps = 10;
  double best = 0;
  for (int t = 0; t < 3; t++) {
    CU(cudaEventRecord(a, s));
    for (int i = 0; i < reps; i++) CU(cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice, s));
    CU(cudaEventRecord(b, s));
    CU(cudaEventSynchronize(b));
    float ms = 0;
    CU(cudaEventElapsedTime(&ms, a, b));
    double gbps = (double)bytes * reps / (ms * 1e-3) / 1e9;
    if (gbps > best) best = gbps;
  }
  CU(cudaEventDestroy(a));
  CU(cudaEventDestroy(b));
  CU(cudaStreamDestroy(s));
  CU(cudaFree(d));
  if (kind == PV_CUDA_HOST_PAGEABLE)
    free(h);
  else
    CU(cudaFreeHost(h));
  return best;
}

/* ---- (d) kernel and device memory bandwidth ------------------------------------------ */

/* GB/s of device-to-device cudaMemcpy, counting bytes read + written. */
static double d2d_bandwidth(size_t bytes) {
  void *x, *y;
  CU(cudaMalloc(&x, bytes));
  CU(cudaMalloc(&y, bytes));
  CU(cudaMemset(x, 1, bytes));
  cudaEvent_t a, b;
  CU(cudaEventCreate(&a));
  CU(cudaEventCreate(&b));
  CU(cudaMemcpy(y, x, bytes, cudaMemcpyDeviceToDevice));
  const int reps = 20;
  CU(cudaEventRecord(a, NULL));
  for (int i = 0; i < reps; i++) CU(cudaMemcpyAsync(y, x, bytes, cudaMemcpyDeviceToDevice, NULL));
  CU(cudaEventRecord(b, NULL));
  CU(cudaEventSynchronize(b));
  float ms = 0;
  CU(cudaEventElapsedTime(&ms, a, b));
  CU(cudaEventDestroy(a));
  CU(cudaEventDestroy(b));
  CU(cudaFree(x));
  CU(cudaFree(y));
  return 2.0 * (double)bytes * reps / (ms * 1e-3) / 1e9;
}

static double kernel_bandwidth(uint32_t n, uint32_t h, uint32_t w, pv_cuda_dtype dt,
                               pv_layout layout) {
  size_t in = (size_t)n * h * w * 3, out = in * pv_cuda_dtype_size(dt);
  void *x, *y;
  CU(cudaMalloc(&x, in));
  CU(cudaMalloc(&y, out));
  CU(cudaMemset(x, 7, in));
  cudaEvent_t a, b;
  CU(cudaEventCreate(&a));
  CU(cudaEventCreate(&b));
  if (pv_cuda_normalize(x, y, n, h, w, dt, layout, NULL, NULL, NULL) != PV_OK) {
    fprintf(stderr, "cuda_bench: pv_cuda_normalize failed\n");
    exit(1);
  }
  const int reps = 50;
  CU(cudaEventRecord(a, NULL));
  for (int i = 0; i < reps; i++) pv_cuda_normalize(x, y, n, h, w, dt, layout, NULL, NULL, NULL);
  CU(cudaEventRecord(b, NULL));
  CU(cudaEventSynchronize(b));
  CU(cudaGetLastError());
  float ms = 0;
  CU(cudaEventElapsedTime(&ms, a, b));
  CU(cudaEventDestroy(a));
  CU(cudaEventDestroy(b));
  CU(cudaFree(x));
  CU(cudaFree(y));
  return (double)(in + out) * reps / (ms * 1e-3) / 1e9;
}

/* ---- (b), (c) the loaders ---------------------------------------------------------- */

typedef struct run_result {
  double images_per_s;
  uint64_t images;
  pv_cuda_loader_stats st; /* device runs */
  double wall_s;
} run_result;

static run_result run_host(const pv_dataset *ds, const pv_loader_options *o, int epochs) {
  run_result r = {0};
  pv_loader *l;
  char err[512];
  pv_status st = pv_loader_create(ds, o, &l, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "cuda_bench: pv_loader_create: %s\n", err);
    exit(1);
  }
  double t0 = now_s();
  for (int e = 0; e < epochs; e++) {
    if (e) pv_loader_set_epoch(l, (uint64_t)e, 0);
    for (;;) {
      pv_batch *b;
      if (pv_loader_next(l, &b) != PV_OK) {
        fprintf(stderr, "cuda_bench: %s\n", pv_loader_last_error(l));
        exit(1);
      }
      if (!b) break;
      r.images += b->count;
      pv_loader_release(l, b);
    }
  }
  r.wall_s = now_s() - t0;
  r.images_per_s = r.images / r.wall_s;
  pv_loader_destroy(l);
  return r;
}

/* The consumer enqueues nothing but the stream dependency and the release:
 * the figure is the loader's own rate with device output. */
static run_result run_device(const pv_dataset *ds, const pv_cuda_loader_options *o, int epochs) {
  run_result r = {0};
  pv_cuda_loader *l;
  char err[512];
  pv_status st = pv_cuda_loader_create(ds, o, &l, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "cuda_bench: pv_cuda_loader_create: %s: %s\n", pv_strerror(st), err);
    exit(1);
  }
  cudaStream_t s;
  CU(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  double t0 = now_s();
  for (int e = 0; e < epochs; e++) {
    if (e) pv_cuda_loader_set_epoch(l, (uint64_t)e, 0);
    for (;;) {
      pv_cuda_batch *b;
      if (pv_cuda_loader_next(l, s, &b) != PV_OK) {
        fprintf(stderr, "cuda_bench: %s\n", pv_cuda_loader_last_error(l));
        exit(1);
      }
      if (!b) break;
      r.images += b->count;
      pv_cuda_loader_release(l, b, s);
    }
  }
  CU(cudaStreamSynchronize(s)); /* the last batch is on the device */
  r.wall_s = now_s() - t0;
  r.images_per_s = r.images / r.wall_s;
  pv_cuda_loader_get_stats(l, &r.st);
  pv_cuda_loader_destroy(l);
  CU(cudaStreamDestroy(s));
  return r;
}

static const char *dtype_name(int d) {
  static const char *const n[] = {"uint8", "float32", "float16", "bfloat16"};
  return d >= 0 && d <= 3 ? n[d] : "?";
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATASET [--batch N] [--size N] [--threads N] [--epochs N] "
                    "[--reps N] [--prefetch N] [--depth N] [--dtype u8|f32|f16|bf16] "
                    "[--layout nchw|nhwc]\n", argv[0]);
    return 2;
  }
  uint32_t batch = 256, size = 224, prefetch = 4, depth = 3;
  int threads = 0, epochs = 3, reps = 3;
  pv_cuda_dtype dtype = PV_CUDA_FLOAT32;
  pv_layout layout = PV_LAYOUT_NCHW;
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--batch")) batch = (uint32_t)atoi(v);
    else if (!strcmp(k, "--size")) size = (uint32_t)atoi(v);
    else if (!strcmp(k, "--threads")) threads = atoi(v);
    else if (!strcmp(k, "--epochs")) epochs = atoi(v);
    else if (!strcmp(k, "--reps")) reps = atoi(v);
    else if (!strcmp(k, "--prefetch")) prefetch = (uint32_t)atoi(v);
    else if (!strcmp(k, "--depth")) depth = (uint32_t)atoi(v);
    else if (!strcmp(k, "--dtype"))
      dtype = !strcmp(v, "u8") ? PV_CUDA_UINT8 : !strcmp(v, "f16") ? PV_CUDA_FLOAT16
              : !strcmp(v, "bf16") ? PV_CUDA_BFLOAT16 : PV_CUDA_FLOAT32;
    else if (!strcmp(k, "--layout")) layout = !strcmp(v, "nhwc") ? PV_LAYOUT_NHWC : PV_LAYOUT_NCHW;
    else {
      fprintf(stderr, "cuda_bench: unknown option %s\n", k);
      return 2;
    }
  }
  char err[512];
  int ndev = 0;
  if (pv_cuda_probe(&ndev, err, sizeof err) != PV_OK) {
    printf("cuda_bench: SKIP: %s\n", err);
    return 77;
  }
  int dev = pv_cuda_resolve_device(-1);
  CU(cudaSetDevice(dev));
  struct cudaDeviceProp p;
  CU(cudaGetDeviceProperties(&p, dev));
  printf("device %d: %s, sm_%d%d, %d SMs, %.1f GiB\n", dev, p.name, p.major, p.minor,
         p.multiProcessorCount, p.totalGlobalMem / 1073741824.0);

  pv_dataset *ds;
  if (pv_dataset_open(argv[1], NULL, &ds, err, sizeof err) != PV_OK) {
    fprintf(stderr, "cuda_bench: %s\n", err);
    return 1;
  }
  size_t batch_bytes = (size_t)batch * size * size * 3;

  /* (a) */
  size_t peak_bytes = batch_bytes > (256u << 20) ? batch_bytes : (256u << 20);
  double pk = h2d_peak(peak_bytes, PV_CUDA_HOST_PINNED);
  double pk_wc = h2d_peak(peak_bytes, PV_CUDA_HOST_WRITE_COMBINED);
  double pk_pg = h2d_peak(peak_bytes, PV_CUDA_HOST_PAGEABLE);
  double pk_b = h2d_peak(batch_bytes, PV_CUDA_HOST_PINNED);
  printf("(a) H2D cudaMemcpyAsync peak (%zu MiB copies): pinned %.1f GB/s, write-combined %.1f "
         "GB/s, pageable %.1f GB/s; one uint8 batch (%.1f MiB) pinned: %.1f GB/s\n",
         peak_bytes >> 20, pk, pk_wc, pk_pg, batch_bytes / 1048576.0, pk_b);
  fflush(stdout);

  /* (c) with (b) from the device runs */
  pv_loader_options ho;
  pv_loader_options_init(&ho);
  ho.batch_size = batch;
  ho.height = ho.width = size;
  ho.threads = threads;
  ho.prefetch = prefetch;
  ho.rank = 0;
  ho.world_size = 1;
  pv_cuda_loader_options co;
  pv_cuda_loader_options_init(&co);
  co.loader = ho;
  co.device = dev;
  co.dtype = dtype;
  co.layout = layout;
  co.depth = depth;
  run_host(ds, &ho, 1); /* warm the page cache and the allocator */
  run_result best_h = {0}, best_p = {0}, best_w = {0};
  for (int r = 0; r < reps; r++) {
    run_result h = run_host(ds, &ho, epochs);
    co.host_memory = PV_CUDA_HOST_PINNED;
    run_result dp = run_device(ds, &co, epochs);
    co.host_memory = PV_CUDA_HOST_WRITE_COMBINED;
    run_result dw = run_device(ds, &co, epochs);
    printf("    rep %d: host %.0f, device pinned %.0f, device write-combined %.0f images/s\n", r,
           h.images_per_s, dp.images_per_s, dw.images_per_s);
    fflush(stdout);
    if (h.images_per_s > best_h.images_per_s) best_h = h;
    if (dp.images_per_s > best_p.images_per_s) best_p = dp;
    if (dw.images_per_s > best_w.images_per_s) best_w = dw;
  }
  pv_loader_options hf = ho;
  hf.dtype = PV_DTYPE_FLOAT32;
  hf.layout = PV_LAYOUT_NCHW;
  run_result h32 = run_host(ds, &hf, epochs);

  const run_result *bd = best_p.images_per_s >= best_w.images_per_s ? &best_p : &best_w;
  const pv_cuda_loader_stats *st = &bd->st;
  printf("(b) loader H2D (%s ring): %.1f GB/s while copying (%.2f GB in %.3f s of copies, "
         "%llu batches) = %.2fx the pinned peak; %.2f GB/s averaged over the run\n",
         bd == &best_p ? "pinned" : "write-combined",
         st->h2d_s > 0 ? st->h2d_bytes / st->h2d_s / 1e9 : 0.0, st->h2d_bytes / 1e9, st->h2d_s,
         (unsigned long long)st->batches,
         st->h2d_s > 0 && pk > 0 ? st->h2d_bytes / st->h2d_s / 1e9 / pk : 0.0,
         st->h2d_bytes / bd->wall_s / 1e9);
  printf("    kernel %.3f s, feeder waiting for the CPU %.2f s, consumer waiting %.2f s, "
         "pinned %.1f MiB, device %.1f MiB\n",
         st->kernel_s, st->feeder_wait_s, st->wait_s, st->pinned_bytes / 1048576.0,
         st->device_bytes / 1048576.0);
  double ratio_p = best_p.images_per_s / best_h.images_per_s;
  double ratio_w = best_w.images_per_s / best_h.images_per_s;
  printf("(c) images/s, %u x %ux%u train batches, %d epochs, best of %d: host output (uint8 NHWC) "
         "%.0f; device output (%s %s) pinned ring %.0f = %.3fx, write-combined ring %.0f = "
         "%.3fx; target >= 0.95x: %s\n",
         batch, size, size, epochs, reps, best_h.images_per_s, dtype_name(dtype),
         layout == PV_LAYOUT_NCHW ? "NCHW" : "NHWC", best_p.images_per_s, ratio_p,
         best_w.images_per_s, ratio_w,
         (ratio_p > ratio_w ? ratio_p : ratio_w) >= 0.95 ? "MET" : "MISSED");
  printf("    faster ring memory here: %s; host output normalized on the CPU (float32 NCHW): "
         "%.0f images/s\n",
         ratio_p >= ratio_w ? "pinned (the default)" : "write-combined", h32.images_per_s);
  fflush(stdout);

  /* (d) */
  double d2d = d2d_bandwidth(batch_bytes * 4);
  printf("(d) device memory bandwidth (D2D cudaMemcpy, read+write): %.0f GB/s\n", d2d);
  for (int dt = 0; dt <= 3; dt++)
    for (int lay = 0; lay <= 1; lay++) {
      double k = kernel_bandwidth(batch, size, size, (pv_cuda_dtype)dt, (pv_layout)lay);
      printf("    normalize uint8 NHWC -> %-8s %s: %.0f GB/s = %.2fx D2D\n", dtype_name(dt),
             lay ? "NCHW" : "NHWC", k, k / d2d);
    }
  pv_dataset_close(ds);
  return 0;
}
