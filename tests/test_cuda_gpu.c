/* test_cuda_gpu.c - the GPU path on a real device (built with the CUDA path
 * only; without a usable GPU the suite prints the reason and exits 77,
 * which ctest reports as skipped):
 *   - the normalize kernel, vector and per-pixel variants, every dtype and
 *     layout, bit-exact against the host reference (pv_cuda_math.h);
 *   - device batch k == CPU batch k of the same options, converted by the
 *     reference (bit-exact for every dtype, uint8 included), labels on the
 *     device and on the host, across set_epoch and a resumed start;
 *   - slot reuse never races: the caller's stream is stalled by a host
 *     function while it still reads a batch it has already released; the
 *     loader must not overwrite the buffer before the stream gets there;
 *   - held buffers (PV_ERR_LIMIT), release errors, next_sync, memory
 *     limits, device choice.
 * Run it under compute-sanitizer (memcheck, racecheck) from cuda/check.sh.
 * The same file also builds as test_cuda_mock, over tests/cuda_mock.c (an
 * asynchronous CPU stand-in for the CUDA Runtime), so CI runs it too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "pv_cuda_math.h"
#include "pv_pack.h"
#include "pvpack.h"
#include "pvpack_cuda.h"
#include "testutil.h"

#define N_IMAGES 37

#define CU(call)                                                                          \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) fail_msg("%s: %s", #call, cudaGetErrorString(e_));             \
  } while (0)

typedef pvt_ds_fixture fixture;

static int setup(void **state) {
  *state = pvt_ds_fixture_new("cudagpu", N_IMAGES, 4, 90, 150, 80, 160);
  return 0;
}

static int teardown(void **state) {
  pvt_ds_fixture_free(*state);
  return 0;
}

static uint32_t rnd(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

/* ---- the kernel alone ---------------------------------------------------- */

static void check_kernel(uint32_t n, uint32_t h, uint32_t w, size_t dst_offset) {
  size_t hw = (size_t)h * w, in = n * hw * 3;
  uint8_t *src = malloc(in);
  uint32_t s = n * 131 + h * 7 + w;
  for (size_t i = 0; i < in; i++) src[i] = (uint8_t)rnd(&s);
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  void *dsrc, *ddst;
  CU(cudaMalloc(&dsrc, in));
  CU(cudaMalloc(&ddst, in * 4 + 64));
  CU(cudaMemcpy(dsrc, src, in, cudaMemcpyHostToDevice));
  for (int dt = 0; dt <= 3; dt++)
    for (int layout = 0; layout <= 1; layout++) {
      size_t bytes = in * pv_cuda_dtype_size((pv_cuda_dtype)dt);
      uint8_t *ref = malloc(bytes), *got = malloc(bytes);
      pv__nm_reference(src, ref, n, hw, dt, layout, mean, std);
      uint8_t *dst = (uint8_t *)ddst + dst_offset;
      CU(cudaMemset(ddst, 0xa5, in * 4 + 64));
      assert_int_equal(pv_cuda_normalize(dsrc, dst, n, h, w, (pv_cuda_dtype)dt,
                                         (pv_layout)layout, mean, std, NULL),
                       PV_OK);
      CU(cudaDeviceSynchronize());
      CU(cudaMemcpy(got, dst, bytes, cudaMemcpyDeviceToHost));
      if (memcmp(ref, got, bytes) != 0)
        fail_msg("kernel %ux%ux%u dtype %d layout %d offset %zu differs from the reference", n, h,
                 w, dt, layout, dst_offset);
      free(ref);
      free(got);
    }
  CU(cudaFree(dsrc));
  CU(cudaFree(ddst));
  free(src);
}

static void test_kernel_matches_reference(void **state) {
  (void)state;
  check_kernel(3, 8, 6, 0);    /* vector path */
  check_kernel(2, 224, 224, 0);
  check_kernel(3, 5, 7, 0);    /* hw % 4 != 0: per-pixel path */
  check_kernel(4, 8, 8, 4);    /* destination not 16-byte aligned: per-pixel path */
  check_kernel(1, 1, 1, 0);
  assert_int_equal(pv_cuda_normalize(NULL, NULL, 1, 1, 1, PV_CUDA_FLOAT32, PV_LAYOUT_NCHW, NULL,
                                     NULL, NULL),
                   PV_ERR_INVALID_ARG);
  void *d;
  CU(cudaMalloc(&d, 64));
  assert_int_equal(pv_cuda_normalize(d, (char *)d + 2, 1, 2, 2, PV_CUDA_FLOAT32, PV_LAYOUT_NCHW,
                                     NULL, NULL, NULL),
                   PV_ERR_INVALID_ARG); /* misaligned float destination */
  CU(cudaFree(d));
}

/* ---- the loader against the CPU loader ------------------------------------------ */

static void base_opts(pv_cuda_loader_options *o) {
  pv_cuda_loader_options_init(o);
  o->device = 0;
  o->loader.batch_size = 8;
  o->loader.height = 40;
  o->loader.width = 36;
  o->loader.threads = 2;
  o->loader.prefetch = 3;
  o->loader.rank = 0;
  o->loader.world_size = 1;
  o->loader.seed = 99;
  o->mean[1] = 0.5f;
  o->std[0] = 0.3f;
}

static pv_cuda_loader *make(const pv_dataset *ds, const pv_cuda_loader_options *o) {
  pv_cuda_loader *l = NULL;
  char err[512] = "";
  pv_status st = pv_cuda_loader_create(ds, o, &l, err, sizeof err);
  if (st != PV_OK) fail_msg("pv_cuda_loader_create: %s: %s", pv_strerror(st), err);
  return l;
}

/* The CPU loader's uint8 NHWC batches of one epoch (from start_batch on),
 * concatenated, with labels and records. */
typedef struct cpu_run {
  uint8_t *images;
  int64_t *labels;
  uint64_t *records;
  size_t samples, batches;
} cpu_run;

static cpu_run cpu_epoch(const pv_dataset *ds, const pv_cuda_loader_options *co, uint64_t epoch,
                         uint64_t start) {
  pv_loader_options o = co->loader;
  o.dtype = PV_DTYPE_UINT8;
  o.layout = PV_LAYOUT_NHWC;
  o.epoch = epoch;
  o.start_batch = start;
  pv_loader *l = NULL;
  char err[256];
  if (pv_loader_create(ds, &o, &l, err, sizeof err) != PV_OK) fail_msg("cpu loader: %s", err);
  size_t per = (size_t)o.height * o.width * 3, n = pv_loader_samples_per_epoch(l);
  cpu_run r = {malloc(n * per), malloc(n * 8), malloc(n * 8), 0, 0};
  for (;;) {
    pv_batch *b;
    assert_int_equal(pv_loader_next(l, &b), PV_OK);
    if (!b) break;
    memcpy(r.images + r.samples * per, b->images, b->count * per);
    memcpy(r.labels + r.samples, b->labels, b->count * 8);
    memcpy(r.records + r.samples, b->records, b->count * 8);
    r.samples += b->count;
    r.batches++;
    pv_loader_release(l, b);
  }
  pv_loader_destroy(l);
  return r;
}

static void cpu_free(cpu_run *r) {
  free(r->images);
  free(r->labels);
  free(r->records);
}

/* Consumes one epoch of l on stream s (NULL = next_sync) and compares every
 * batch with the CPU run converted by the reference. */
static void compare_epoch(pv_cuda_loader *l, const pv_cuda_loader_options *o, const cpu_run *r,
                          cudaStream_t s, int use_sync) {
  size_t hw = (size_t)o->loader.height * o->loader.width;
  size_t esz = pv_cuda_dtype_size(o->dtype), per_in = hw * 3, per_out = hw * 3 * esz;
  uint8_t *got = malloc(o->loader.batch_size * per_out);
  uint8_t *ref = malloc(o->loader.batch_size * per_out);
  int64_t *dl = malloc(o->loader.batch_size * 8);
  size_t done = 0, batches = 0;
  for (;;) {
    pv_cuda_batch *b;
    pv_status st = use_sync ? pv_cuda_loader_next_sync(l, &b) : pv_cuda_loader_next(l, s, &b);
    if (st != PV_OK) fail_msg("next: %s: %s", pv_strerror(st), pv_cuda_loader_last_error(l));
    if (!b) break;
    assert_true(done + b->count <= r->samples);
    assert_int_equal(b->dtype, o->dtype);
    assert_int_equal(b->layout, o->layout);
    assert_int_equal(b->images_bytes, o->loader.batch_size * per_out);
    CU(cudaMemcpyAsync(got, b->images, b->count * per_out, cudaMemcpyDeviceToHost, s));
    CU(cudaMemcpyAsync(dl, b->labels, b->count * 8, cudaMemcpyDeviceToHost, s));
    CU(cudaStreamSynchronize(s));
    pv__nm_reference(r->images + done * per_in, ref, b->count, hw, (int)o->dtype,
                     (int)o->layout, o->mean, o->std);
    if (memcmp(got, ref, b->count * per_out) != 0)
      fail_msg("batch %llu (dtype %d layout %d) differs from the CPU path",
               (unsigned long long)b->index, o->dtype, o->layout);
    assert_memory_equal(dl, r->labels + done, b->count * 8);
    assert_memory_equal(b->host_labels, r->labels + done, b->count * 8);
    assert_memory_equal(b->host_records, r->records + done, b->count * 8);
    done += b->count;
    batches++;
    assert_int_equal(use_sync ? pv_cuda_loader_release_sync(l, b) : pv_cuda_loader_release(l, b, s),
                     PV_OK);
  }
  assert_int_equal(done, r->samples);
  assert_int_equal(batches, r->batches);
  free(got);
  free(ref);
  free(dl);
}

static void test_loader_matches_cpu(void **state) {
  fixture *f = *state;
  cudaStream_t s;
  CU(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  for (int dt = 0; dt <= 3; dt++)
    for (int layout = 0; layout <= 1; layout++) {
      pv_cuda_loader_options o;
      base_opts(&o);
      o.dtype = (pv_cuda_dtype)dt;
      o.layout = (pv_layout)layout;
      cpu_run r0 = cpu_epoch(f->ds, &o, 0, 0), r1 = cpu_epoch(f->ds, &o, 1, 0);
      pv_cuda_loader *l = make(f->ds, &o);
      assert_int_equal(pv_cuda_loader_batches_per_epoch(l), r0.batches);
      compare_epoch(l, &o, &r0, s, 0);
      assert_int_equal(pv_cuda_loader_set_epoch(l, 1, 0), PV_OK);
      compare_epoch(l, &o, &r1, s, dt == 1); /* the blocking variant once */
      pv_cuda_loader_stats st;
      pv_cuda_loader_get_stats(l, &st);
      assert_int_equal(st.batches, r0.batches + r1.batches);
      assert_true(st.h2d_bytes >= (r0.samples + r1.samples) * o.loader.height * o.loader.width * 3);
      pv_cuda_loader_destroy(l);
      cpu_free(&r0);
      cpu_free(&r1);
    }
  CU(cudaStreamDestroy(s));
}

static void test_resume_and_epoch_switch_midway(void **state) {
  fixture *f = *state;
  pv_cuda_loader_options o;
  base_opts(&o);
  o.loader.epoch = 2;
  o.loader.start_batch = 2;
  cpu_run r = cpu_epoch(f->ds, &o, 2, 2);
  pv_cuda_loader *l = make(f->ds, &o);
  compare_epoch(l, &o, &r, NULL, 0); /* legacy default stream */
  cpu_free(&r);
  /* Switch epochs with batches prepared and one held. */
  assert_int_equal(pv_cuda_loader_set_epoch(l, 4, 0), PV_OK);
  pv_cuda_batch *held;
  assert_int_equal(pv_cuda_loader_next(l, NULL, &held), PV_OK);
  assert_non_null(held);
  assert_int_equal(held->epoch, 4);
  assert_int_equal(pv_cuda_loader_set_epoch(l, 3, 1), PV_OK);
  r = cpu_epoch(f->ds, &o, 3, 1);
  compare_epoch(l, &o, &r, NULL, 0);
  assert_int_equal(pv_cuda_loader_release(l, held, NULL), PV_OK);
  cpu_free(&r);
  pv_cuda_loader_destroy(l);
}

/* ---- slot reuse against a slow consumer ------------------------------------------- */

static void CUDART_CB stall(void *ms) {
  struct timespec ts = {0, (long)(intptr_t)ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* The consumer releases each batch right after enqueueing its read, but its
 * stream is stalled before the read; with depth 2 the loader wants the
 * buffer back immediately. Every copy must still see its own batch. */
static void slow_consumer(const pv_dataset *ds, pv_cuda_dtype dt, pv_layout layout) {
  pv_cuda_loader_options o;
  base_opts(&o);
  o.dtype = dt;
  o.layout = layout;
  o.depth = 2;
  o.loader.batch_size = 4;
  cpu_run r = cpu_epoch(ds, &o, 0, 0);
  size_t hw = (size_t)o.loader.height * o.loader.width, per_in = hw * 3;
  size_t per_out = per_in * pv_cuda_dtype_size(dt);
  uint8_t *copies;
  CU(cudaMalloc((void **)&copies, r.samples * per_out));
  cudaStream_t s;
  CU(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  pv_cuda_loader *l = make(ds, &o);
  size_t done = 0;
  for (;;) {
    pv_cuda_batch *b;
    assert_int_equal(pv_cuda_loader_next(l, s, &b), PV_OK);
    if (!b) break;
    CU(cudaLaunchHostFunc(s, stall, (void *)(intptr_t)15));
    CU(cudaMemcpyAsync(copies + done * per_out, b->images, b->count * per_out,
                       cudaMemcpyDeviceToDevice, s));
    done += b->count;
    assert_int_equal(pv_cuda_loader_release(l, b, s), PV_OK);
  }
  CU(cudaStreamSynchronize(s));
  uint8_t *got = malloc(r.samples * per_out), *ref = malloc(r.samples * per_out);
  CU(cudaMemcpy(got, copies, r.samples * per_out, cudaMemcpyDeviceToHost));
  pv__nm_reference(r.images, ref, r.samples, hw, (int)dt, (int)layout, o.mean, o.std);
  for (size_t i = 0; i < r.samples; i++)
    if (memcmp(got + i * per_out, ref + i * per_out, per_out) != 0)
      fail_msg("sample %zu (dtype %d layout %d) was overwritten before the consumer read it", i,
               dt, layout);
  free(got);
  free(ref);
  pv_cuda_loader_destroy(l);
  CU(cudaStreamDestroy(s));
  CU(cudaFree(copies));
  cpu_free(&r);
}

static void test_slot_reuse_waits_for_consumer(void **state) {
  fixture *f = *state;
  slow_consumer(f->ds, PV_CUDA_UINT8, PV_LAYOUT_NHWC);   /* copied in place */
  slow_consumer(f->ds, PV_CUDA_FLOAT32, PV_LAYOUT_NCHW); /* staged + kernel */
  slow_consumer(f->ds, PV_CUDA_BFLOAT16, PV_LAYOUT_NHWC);
}

/* ---- ownership, errors, limits, devices ---------------------------------------------- */

static void test_held_buffers_and_errors(void **state) {
  fixture *f = *state;
  pv_cuda_loader_options o;
  base_opts(&o);
  o.depth = 2;
  o.loader.batch_size = 3;
  pv_cuda_loader *l = make(f->ds, &o);
  pv_cuda_batch *a, *b, *c;
  assert_int_equal(pv_cuda_loader_next_sync(l, &a), PV_OK);
  assert_int_equal(pv_cuda_loader_next_sync(l, &b), PV_OK);
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(pv_cuda_loader_next_sync(l, &c), PV_ERR_LIMIT);
  assert_null(c);
  assert_non_null(strstr(pv_cuda_loader_last_error(l), "release"));
  assert_int_equal(pv_cuda_loader_release_sync(l, a), PV_OK);
  assert_int_equal(pv_cuda_loader_release_sync(l, a), PV_ERR_INVALID_ARG); /* twice */
  pv_cuda_batch fake = *b;
  assert_int_equal(pv_cuda_loader_release(l, &fake, NULL), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_cuda_loader_next(l, NULL, &c), PV_OK);
  assert_non_null(c);
  assert_int_equal(c->index, 2);
  assert_int_equal(pv_cuda_loader_release(l, b, NULL), PV_OK);
  assert_int_equal(pv_cuda_loader_release(l, c, NULL), PV_OK);
  assert_int_equal(pv_cuda_loader_device(l), 0);
  pv_cuda_loader_stats st;
  pv_cuda_loader_get_stats(l, &st);
  assert_true(st.device_bytes >= 2 * 3 * 40 * 36 * 3 * 4);
  assert_true(st.pinned_bytes >= 3 * 3 * 40 * 36 * 3);
  pv_cuda_loader_destroy(l); /* with prepared batches pending */
}

/* Keeping every batch of an epoch with a 2-slot ring: detach hands the
 * buffers over (same bytes as the CPU run), the ring never runs dry, wait()
 * reports readiness, and a second stream reads after pv_cuda_stream_wait. */
static void test_detach_wait_and_stream_wait(void **state) {
  fixture *f = *state;
  pv_cuda_loader_options o;
  base_opts(&o);
  o.depth = 2;
  o.dtype = PV_CUDA_FLOAT16;
  cpu_run r = cpu_epoch(f->ds, &o, 0, 0);
  pv_cuda_loader *l = make(f->ds, &o);
  cudaStream_t s1, s2;
  CU(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CU(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  size_t hw = (size_t)o.loader.height * o.loader.width, per_out = hw * 3 * 2;
  void *imgs[64];
  int64_t *labs[64];
  uint32_t counts[64];
  size_t nb = 0;
  pv_cuda_loader_stats st0;
  pv_cuda_loader_get_stats(l, &st0);
  for (;;) {
    int ready = 0;
    for (int k = 0; k < 200 && !ready; k++) ready = pv_cuda_loader_wait(l, 50);
    assert_true(ready);
    pv_cuda_batch *b;
    assert_int_equal(pv_cuda_loader_next(l, s1, &b), PV_OK);
    if (!b) break;
    assert_true(nb < 64);
    counts[nb] = b->count;
    pv_cuda_batch *same = b;
    assert_int_equal(pv_cuda_loader_detach(l, b, &imgs[nb], &labs[nb]), PV_OK);
    assert_int_equal(pv_cuda_loader_detach(l, same, &imgs[nb], &labs[nb]), PV_ERR_INVALID_ARG);
    assert_int_equal(pv_cuda_loader_release(l, same, s1), PV_ERR_INVALID_ARG);
    nb++;
  }
  assert_int_equal(nb, r.batches);
  pv_cuda_loader_stats st1;
  pv_cuda_loader_get_stats(l, &st1);
  assert_true(st1.device_bytes > st0.device_bytes); /* the detached buffers count */
  /* Read everything on s2, ordered after s1 (where next() made the batches
   * ready) only through pv_cuda_stream_wait. */
  assert_int_equal(pv_cuda_stream_wait(l, s2, s1), PV_OK);
  uint8_t *got = malloc(o.loader.batch_size * per_out), *ref = malloc(o.loader.batch_size * per_out);
  int64_t dl[64];
  size_t done = 0;
  for (size_t k = 0; k < nb; k++) {
    CU(cudaMemcpyAsync(got, imgs[k], counts[k] * per_out, cudaMemcpyDeviceToHost, s2));
    CU(cudaMemcpyAsync(dl, labs[k], counts[k] * 8, cudaMemcpyDeviceToHost, s2));
    CU(cudaStreamSynchronize(s2));
    pv__nm_reference(r.images + done * hw * 3, ref, counts[k], hw, (int)o.dtype, (int)o.layout,
                     o.mean, o.std);
    if (memcmp(got, ref, counts[k] * per_out) != 0)
      fail_msg("detached batch %zu differs from the CPU path", k);
    assert_memory_equal(dl, r.labels + done, counts[k] * 8);
    done += counts[k];
    pv_cuda_loader_free_detached(l, imgs[k], labs[k], s2);
  }
  assert_int_equal(done, r.samples);
  pv_cuda_loader_stats st2;
  pv_cuda_loader_get_stats(l, &st2);
  assert_int_equal(st2.device_bytes, st0.device_bytes);
  /* Without detach, holding both slots: wait() says next would not block
   * (it returns PV_ERR_LIMIT). */
  assert_int_equal(pv_cuda_loader_set_epoch(l, 1, 0), PV_OK);
  pv_cuda_batch *a, *b, *c;
  assert_int_equal(pv_cuda_loader_next_sync(l, &a), PV_OK);
  assert_int_equal(pv_cuda_loader_next_sync(l, &b), PV_OK);
  assert_true(pv_cuda_loader_wait(l, 10000));
  assert_int_equal(pv_cuda_loader_next(l, s1, &c), PV_ERR_LIMIT);
  assert_int_equal(pv_cuda_loader_release_sync(l, a), PV_OK);
  assert_int_equal(pv_cuda_loader_release_sync(l, b), PV_OK);
  assert_int_equal(pv_cuda_stream_wait(NULL, s1, s2), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_cuda_stream_wait(l, s1, s1), PV_OK);
  assert_int_equal(pv_cuda_stream_synchronize(l, s1), PV_OK);
  assert_int_equal(pv_cuda_stream_synchronize(NULL, s1), PV_ERR_INVALID_ARG);
  free(got);
  free(ref);
  cpu_free(&r);
  pv_cuda_loader_destroy(l);
  CU(cudaStreamDestroy(s1));
  CU(cudaStreamDestroy(s2));
}

static void test_limits_and_devices(void **state) {
  fixture *f = *state;
  pv_cuda_loader_options o;
  pv_cuda_loader *l = NULL;
  char err[512];
  base_opts(&o);
  o.max_device_bytes = 1000;
  assert_int_equal(pv_cuda_loader_create(f->ds, &o, &l, err, sizeof err), PV_ERR_LIMIT);
  base_opts(&o);
  o.max_pinned_bytes = 1000;
  assert_int_equal(pv_cuda_loader_create(f->ds, &o, &l, err, sizeof err), PV_ERR_LIMIT);
  int n = 0;
  assert_int_equal(pv_cuda_probe(&n, NULL, 0), PV_OK);
  base_opts(&o);
  o.device = n; /* one past the last */
  assert_int_equal(pv_cuda_loader_create(f->ds, &o, &l, err, sizeof err), PV_ERR_CUDA);
  print_message("device %d: %s\n", n, err);
  char v[16];
  snprintf(v, sizeof v, "%d", n - 1);
  setenv("LOCAL_RANK", v, 1);
  base_opts(&o);
  o.device = -1;
  l = make(f->ds, &o);
  assert_int_equal(pv_cuda_loader_device(l), n - 1);
  pv_cuda_loader_destroy(l);
  unsetenv("LOCAL_RANK");
  /* Write-combined and pageable host memory give the same batches. */
  for (int hm = PV_CUDA_HOST_WRITE_COMBINED; hm <= PV_CUDA_HOST_PAGEABLE; hm++) {
    base_opts(&o);
    o.host_memory = (pv_cuda_host_memory)hm;
    cpu_run r = cpu_epoch(f->ds, &o, 0, 0);
    l = make(f->ds, &o);
    compare_epoch(l, &o, &r, NULL, 0);
    pv_cuda_loader_destroy(l);
    cpu_free(&r);
  }
}

/* Options structs of other sizes (format/opts_copy.h): a caller from before
 * max_device_bytes (the last field) gets its default (no limit) whatever
 * lies past its size; a newer caller's set field, or embedded loader options
 * of another version (they fix where the later fields lie), are refused. */
static void test_option_sizes(void **state) {
  fixture *f = *state;
  pv_cuda_loader *l = NULL;
  char err[512];
  struct {
    pv_cuda_loader_options o;
    uint64_t newer;
  } w;
  memset(&w, 0, sizeof w);
  base_opts(&w.o);
  w.o.max_device_bytes = 1000;
  assert_int_equal(pv_cuda_loader_create(f->ds, &w.o, &l, err, sizeof err), PV_ERR_LIMIT);
  w.o.size = offsetof(pv_cuda_loader_options, max_device_bytes);
  l = make(f->ds, &w.o);
  pv_cuda_loader_destroy(l);
  l = NULL;
  base_opts(&w.o);
  w.o.size = sizeof w;
  l = make(f->ds, &w.o);
  pv_cuda_loader_destroy(l);
  l = NULL;
  w.newer = 1;
  assert_int_equal(pv_cuda_loader_create(f->ds, &w.o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_null(l);
  base_opts(&w.o);
  w.o.loader.size = offsetof(pv_loader_options, allocator);
  assert_int_equal(pv_cuda_loader_create(f->ds, &w.o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_null(l);
  print_message("embedded loader options of another size: %s\n", err);
}

int main(void) {
  char err[512];
  int n = 0;
  if (pv_cuda_probe(&n, err, sizeof err) != PV_OK) {
    printf("SKIP test_cuda_gpu: %s\n", err);
    return 77;
  }
  struct cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, 0) == cudaSuccess)
    printf("test_cuda_gpu: %d device(s), device 0: %s (sm_%d%d)\n", n, p.name, p.major, p.minor);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kernel_matches_reference),
      cmocka_unit_test(test_loader_matches_cpu),
      cmocka_unit_test(test_resume_and_epoch_switch_midway),
      cmocka_unit_test(test_slot_reuse_waits_for_consumer),
      cmocka_unit_test(test_held_buffers_and_errors),
      cmocka_unit_test(test_limits_and_devices),
      cmocka_unit_test(test_option_sizes),
      cmocka_unit_test(test_detach_wait_and_stream_wait),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
