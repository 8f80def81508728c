/* train_loop_cuda.c - a C training-loop skeleton over the GPU path: every
 * batch arrives on the GPU, normalized (float32 NCHW), ordered on the
 * training stream, while the CPU workers decode the next ones.
 *
 *   cc train_loop_cuda.c $(pkg-config --cflags --libs pvpack) \
 *      -I/usr/local/cuda/include -L/usr/local/cuda/lib64 -lcudart -o train_loop_cuda
 *   LOCAL_RANK=0 ./train_loop_cuda /data/train.pvpack [epochs]
 *
 * Where a real program launches its forward and backward kernels on
 * `stream`, this one enqueues a device-to-device copy of the batch into the
 * "model input" buffer and, every few steps, a copy of one value back to
 * the host, so the data is really consumed on the device. Nothing blocks on
 * the host per step: next() makes the stream wait for the batch, release()
 * records that the stream is done with it. One process per GPU: LOCAL_RANK
 * picks the device, RANK / WORLD_SIZE split the data.
 *
 * Without a GPU (or a pvpack built without CUDA) it prints why and exits 0,
 * so scripts can run it anywhere. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <cuda_runtime_api.h>
#include <pvpack.h>
#include <pvpack_cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define CU(call)                                                                  \
  do {                                                                            \
    cudaError_t e_ = (call);                                                      \
    if (e_ != cudaSuccess) {                                                      \
      fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(e_));                 \
      rc = 1;                                                                     \
      goto out;                                                                   \
    }                                                                             \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATASET_DIR [epochs]\n", argv[0]);
    return 2;
  }
  int epochs = argc > 2 ? atoi(argv[2]) : 1;
  char err[512];
  pv_status st = pv_cuda_probe(NULL, err, sizeof err);
  if (st != PV_OK) {
    printf("train_loop_cuda: no GPU path here (%s); nothing to do\n", err);
    return 0;
  }
  pv_dataset *ds;
  if ((st = pv_dataset_open(argv[1], NULL, &ds, err, sizeof err)) != PV_OK) {
    fprintf(stderr, "open: %s: %s\n", pv_strerror(st), err);
    return 1;
  }
  pv_cuda_loader_options o;
  pv_cuda_loader_options_init(&o);
  o.loader.batch_size = 64;
  o.loader.height = o.loader.width = 224;
  o.loader.seed = 1234;
  o.dtype = PV_CUDA_FLOAT32;
  o.layout = PV_LAYOUT_NCHW;
  pv_cuda_loader *l = NULL;
  if ((st = pv_cuda_loader_create(ds, &o, &l, err, sizeof err)) != PV_OK) {
    fprintf(stderr, "loader: %s: %s\n", pv_strerror(st), err);
    pv_dataset_close(ds);
    return 1;
  }
  int rc = 0;
  cudaStream_t stream = NULL;
  void *model_input = NULL;
  float *probe = NULL; /* pinned, for the occasional host read-back */
  size_t in_bytes = (size_t)o.loader.batch_size * 3 * 224 * 224 * sizeof(float);
  /* The loader's device is this thread's device for our own allocations. */
  CU(cudaSetDevice(pv_cuda_loader_device(l)));
  CU(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CU(cudaMalloc(&model_input, in_bytes));
  CU(cudaHostAlloc((void **)&probe, sizeof *probe, cudaHostAllocDefault));
  printf("device %d, %llu batches per epoch on this rank\n", pv_cuda_loader_device(l),
         (unsigned long long)pv_cuda_loader_batches_per_epoch(l));
  for (int e = 0; e < epochs && rc == 0; e++) {
    if (e) pv_cuda_loader_set_epoch(l, (uint64_t)e, 0);
    double t0 = now_s();
    uint64_t images = 0, step = 0;
    for (;;) {
      pv_cuda_batch *b;
      if ((st = pv_cuda_loader_next(l, stream, &b)) != PV_OK) {
        fprintf(stderr, "epoch %d: %s\n", e, pv_cuda_loader_last_error(l));
        rc = 1;
        break;
      }
      if (!b) break; /* end of epoch */
      /* "training step": kernels reading b->images and b->labels go here,
       * on `stream`. */
      CU(cudaMemcpyAsync(model_input, b->images, (size_t)b->count * 3 * 224 * 224 * sizeof(float),
                         cudaMemcpyDeviceToDevice, stream));
      if (step++ % 16 == 0)
        CU(cudaMemcpyAsync(probe, model_input, sizeof *probe, cudaMemcpyDeviceToHost, stream));
      images += b->count;
      /* The stream has not run the copy yet; release is stream-ordered. */
      pv_cuda_loader_release(l, b, stream);
    }
    CU(cudaStreamSynchronize(stream));
    double el = now_s() - t0;
    printf("epoch %d: %llu images, %.0f images/s, first normalized value %.4f\n", e,
           (unsigned long long)images, el > 0 ? images / el : 0.0, (double)*probe);
  }
out:
  pv_cuda_loader_destroy(l);
  if (model_input) cudaFree(model_input);
  if (probe) cudaFreeHost(probe);
  if (stream) cudaStreamDestroy(stream);
  pv_dataset_close(ds);
  return rc;
}
