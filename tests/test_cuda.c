/* test_cuda.c - the GPU path's host-side contract, runnable everywhere (no
 * GPU, no driver, or a build without CUDA):
 *   - the normalize kernel's per-element math (cuda/pv_cuda_math.h, the
 *     same functions the kernel runs) against independent references:
 *     float16 and bfloat16 round-to-nearest-even over a sweep of float bit
 *     patterns, and the CPU loader's own FLOAT32 / uint8 NCHW batches for
 *     every layout (bit-exact);
 *   - options, LOCAL_RANK device choice, dtype sizes;
 *   - without a usable GPU: pv_cuda_probe and pv_cuda_loader_create return
 *     PV_ERR_CUDA with a reason, promptly, and nothing crashes.
 * The tests that need a GPU are in test_cuda_gpu.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv_cuda_math.h"
#include "pv_pack.h"
#include "pvpack.h"
#include "pvpack_cuda.h"
#include "testutil.h"

#define N_IMAGES 21

typedef pvt_ds_fixture fixture;

static int setup(void **state) {
  *state = pvt_ds_fixture_new("cuda", N_IMAGES, 3, 90, 120, 80, 130);
  return 0;
}

static int teardown(void **state) {
  pvt_ds_fixture_free(*state);
  return 0;
}

/* ---- float16 / bfloat16 rounding against a double-precision reference ---- */

/* The correctly rounded (nearest, ties to even) value of x in a binary
 * format with `mant` stored mantissa bits, minimum normal exponent emin and
 * overflow threshold `inf_at` (the smallest magnitude that rounds to
 * infinity), as a float. rint() rounds to nearest even in the default
 * rounding mode. */
static float ref_round(float x, int mant, int emin, double inf_at) {
  double a = fabs((double)x);
  if (a >= inf_at) return copysignf(INFINITY, x);
  if (a == 0) return x;
  int k;
  frexp(a, &k); /* a = m * 2^k, m in [0.5, 1) */
  int e = k - 1 < emin ? emin : k - 1;
  double ulp = ldexp(1.0, e - mant);
  double r = rint(a / ulp) * ulp;
  return copysignf((float)r, x);
}

static int same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

static void check_one(float x) {
  float h = pv__f16_to_f32(pv__f32_to_f16(x));
  float b = pv__bf16_to_f32(pv__f32_to_bf16(x));
  if (isnan(x)) {
    assert_true(isnan(h));
    assert_true(isnan(b));
    return;
  }
  /* binary16: 10 mantissa bits, emin -14, max 65504, inf from 65520.
   * bfloat16: 7 mantissa bits, emin -126, inf from (2 - 2^-8) 2^127. */
  float rh = ref_round(x, 10, -14, 65520.0);
  float rb = ref_round(x, 7, -126, ldexp(2.0 - ldexp(1.0, -8), 127));
  if (!same_float(h, rh)) fail_msg("f16(%a) = %a, expected %a", (double)x, (double)h, (double)rh);
  if (!same_float(b, rb)) fail_msg("bf16(%a) = %a, expected %a", (double)x, (double)b, (double)rb);
}

static void test_half_rounding(void **state) {
  (void)state;
  /* A sweep over all exponents and many mantissas, both signs. */
  for (uint64_t u = 0; u <= 0xffffffffull; u += 1201) check_one(pv__bits_f32((uint32_t)u));
  /* Exact ties and their neighbours around every binary16 / bfloat16
   * rounding boundary of interest: subnormals, the normal range, overflow. */
  static const float edges[] = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 65536.0f,
                                5.9604645e-8f /* 2^-24 */, 2.9802322e-8f /* 2^-25 */,
                                6.1035156e-5f /* 2^-14 */, 1.0f, 1.5f, 3.4028235e38f};
  for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
    uint32_t u = pv__f32_bits(edges[i]);
    for (int d = -4100; d <= 4100; d++) check_one(pv__bits_f32(u + (uint32_t)d));
  }
  for (uint32_t h = 0; h < 0x7c00u; h++) { /* every finite half, and halfway points */
    float v = pv__f16_to_f32((uint16_t)h);
    assert_int_equal(pv__f32_to_f16(v), h);
    float next = pv__f16_to_f32((uint16_t)(h + 1));
    check_one((v + next) / 2); /* exact in float */
  }
  check_one(NAN);
  check_one(INFINITY);
  check_one(-INFINITY);
  assert_int_equal(pv__f32_to_f16(INFINITY), 0x7c00);
  assert_int_equal(pv__f32_to_bf16(-INFINITY), 0xff80);
#if defined(__FLT16_MAX__) && defined(__x86_64__)
  /* The compiler's own conversion as a second reference. */
  for (uint64_t u = 0; u <= 0xffffffffull; u += 4099) {
    float x = pv__bits_f32((uint32_t)u);
    if (isnan(x)) continue;
    _Float16 c = (_Float16)x;
    uint16_t cb;
    memcpy(&cb, &c, 2);
    assert_int_equal(pv__f32_to_f16(x), cb);
  }
#endif
}

/* Every possible output value: 256 pixel values x 3 channels x a few
 * mean/std sets, float16/bfloat16 within half an ulp of the float32. */
static void test_all_pixel_values(void **state) {
  (void)state;
  static const float means[][3] = {{0.485f, 0.456f, 0.406f}, {0.5f, 0.5f, 0.5f}, {0, 0, 0}};
  static const float stds[][3] = {{0.229f, 0.224f, 0.225f}, {0.5f, 0.5f, 0.5f}, {1, 1, 1}};
  for (int m = 0; m < 3; m++) {
    float scale[3], bias[3];
    pv__nm_params(means[m], stds[m], scale, bias);
    for (int c = 0; c < 3; c++)
      for (uint32_t x = 0; x < 256; x++) {
        float v = pv__nm_f32(x, scale[c], bias[c]);
        float expect = ((float)x / 255.0f - means[m][c]) / stds[m][c];
        assert_true(fabsf(v - expect) <= 1e-5f * (1 + fabsf(expect)));
        float h = pv__f16_to_f32(pv__f32_to_f16(v)), b = pv__bf16_to_f32(pv__f32_to_bf16(v));
        assert_true(fabsf(h - v) <= ldexpf(1, -11) * fmaxf(fabsf(v), ldexpf(1, -14)));
        assert_true(fabsf(b - v) <= ldexpf(1, -8) * fabsf(v));
      }
  }
}

/* ---- the reference against the CPU loader's own conversions ---------------- */

static void base_opts(pv_loader_options *o) {
  pv_loader_options_init(o);
  o->batch_size = 6;
  o->height = 36;
  o->width = 28;
  o->threads = 2;
  o->rank = 0;
  o->world_size = 1;
  o->seed = 77;
  o->mean[0] = 0.4f;
  o->std[2] = 0.31f; /* not the defaults, so every coefficient is exercised */
}

/* Runs one epoch of the CPU loader; returns the concatenated images
 * (count-trimmed) and the sample count. */
static uint8_t *cpu_epoch(const pv_dataset *ds, const pv_loader_options *o, size_t *samples) {
  pv_loader *l = NULL;
  char err[256] = "";
  pv_status st = pv_loader_create(ds, o, &l, err, sizeof err);
  if (st != PV_OK) fail_msg("pv_loader_create: %s", err);
  size_t per = (size_t)o->height * o->width * 3 * (o->dtype == PV_DTYPE_FLOAT32 ? 4 : 1);
  size_t cap = pv_loader_samples_per_epoch(l) * per, n = 0;
  uint8_t *all = malloc(cap);
  for (;;) {
    pv_batch *b;
    assert_int_equal(pv_loader_next(l, &b), PV_OK);
    if (!b) break;
    memcpy(all + n * per, b->images, b->count * per);
    n += b->count;
    pv_loader_release(l, b);
  }
  pv_loader_destroy(l);
  *samples = n;
  return all;
}

static void test_reference_equals_cpu_loader(void **state) {
  fixture *f = *state;
  pv_loader_options o;
  base_opts(&o);
  size_t n = 0, n2 = 0;
  uint8_t *u8 = cpu_epoch(f->ds, &o, &n);
  size_t hw = (size_t)o.height * o.width, elems = n * hw * 3;
  for (int layout = 0; layout <= 1; layout++) {
    /* uint8 NCHW and float32 in both layouts are produced by the CPU loader
     * too; the kernel's math must give the very same bits. */
    for (int dt = 0; dt <= 1; dt++) {
      if (dt == 0 && layout == 0) continue;
      pv_loader_options c = o;
      c.layout = (pv_layout)layout;
      c.dtype = dt ? PV_DTYPE_FLOAT32 : PV_DTYPE_UINT8;
      uint8_t *cpu = cpu_epoch(f->ds, &c, &n2);
      assert_int_equal(n2, n);
      size_t bytes = elems * (dt ? 4 : 1);
      uint8_t *ref = malloc(bytes);
      pv__nm_reference(u8, ref, n, hw, dt ? PV__NM_F32 : PV__NM_U8, layout, o.mean, o.std);
      assert_memory_equal(ref, cpu, bytes);
      free(ref);
      free(cpu);
    }
    /* float16 / bfloat16: the rounding of the float32 reference. */
    float *f32 = malloc(elems * 4);
    uint16_t *h = malloc(elems * 2), *b = malloc(elems * 2);
    pv__nm_reference(u8, f32, n, hw, PV__NM_F32, layout, o.mean, o.std);
    pv__nm_reference(u8, h, n, hw, PV__NM_F16, layout, o.mean, o.std);
    pv__nm_reference(u8, b, n, hw, PV__NM_BF16, layout, o.mean, o.std);
    for (size_t i = 0; i < elems; i++) {
      assert_int_equal(h[i], pv__f32_to_f16(f32[i]));
      assert_int_equal(b[i], pv__f32_to_bf16(f32[i]));
    }
    free(f32);
    free(h);
    free(b);
  }
  free(u8);
}

/* ---- options and the no-GPU behaviour ------------------------------------------ */

static void test_options_and_device_choice(void **state) {
  (void)state;
  pv_cuda_loader_options o;
  pv_cuda_loader_options_init(&o);
  assert_int_equal(o.size, sizeof o);
  assert_int_equal(o.loader.size, sizeof o.loader);
  assert_int_equal(o.device, -1);
  assert_int_equal(o.dtype, PV_CUDA_FLOAT32);
  assert_int_equal(o.layout, PV_LAYOUT_NCHW);
  assert_true(o.depth >= 1);
  assert_int_equal(pv_cuda_dtype_size(PV_CUDA_UINT8), 1);
  assert_int_equal(pv_cuda_dtype_size(PV_CUDA_FLOAT32), 4);
  assert_int_equal(pv_cuda_dtype_size(PV_CUDA_FLOAT16), 2);
  assert_int_equal(pv_cuda_dtype_size(PV_CUDA_BFLOAT16), 2);
  assert_int_equal(pv_cuda_dtype_size((pv_cuda_dtype)9), 0);
  unsetenv("LOCAL_RANK");
  assert_int_equal(pv_cuda_resolve_device(-1), 0);
  assert_int_equal(pv_cuda_resolve_device(5), 5);
  setenv("LOCAL_RANK", "3", 1);
  assert_int_equal(pv_cuda_resolve_device(-1), 3);
  assert_int_equal(pv_cuda_resolve_device(1), 1);
  setenv("LOCAL_RANK", "x1", 1);
  assert_int_equal(pv_cuda_resolve_device(-1), -1);
  unsetenv("LOCAL_RANK");
  assert_int_equal(pv_cuda_built(), PV_TEST_HAVE_CUDA);
}

static void test_without_gpu(void **state) {
  fixture *f = *state;
  char err[256] = "";
  int count = -1;
  pv_status st = pv_cuda_probe(&count, err, sizeof err);
  if (st == PV_OK) {
    print_message("a CUDA device is present (%d): the no-GPU checks do not apply\n", count);
    skip();
  }
  assert_int_equal(st, PV_ERR_CUDA);
  assert_int_equal(count, 0);
  print_message("pv_cuda_probe: %s\n", err);
  assert_true(strstr(err, PV_TEST_HAVE_CUDA ? "no CUDA device" : "built without CUDA") != NULL);
  /* create fails cleanly (also with a NULL err), leaves *out NULL */
  pv_cuda_loader *l = (pv_cuda_loader *)1;
  err[0] = 0;
  assert_int_equal(pv_cuda_loader_create(f->ds, NULL, &l, err, sizeof err), PV_ERR_CUDA);
  assert_null(l);
  assert_true(err[0] != 0);
  assert_int_equal(pv_cuda_loader_create(f->ds, NULL, &l, NULL, 0), PV_ERR_CUDA);
  /* argument checks come first and need no GPU */
  assert_int_equal(pv_cuda_loader_create(NULL, NULL, &l, NULL, 0), PV_ERR_INVALID_ARG);
  pv_cuda_batch *b = (pv_cuda_batch *)1;
  assert_int_equal(pv_cuda_loader_next(NULL, NULL, &b), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_cuda_loader_release(NULL, NULL, NULL), PV_ERR_INVALID_ARG);
  assert_int_equal(pv_cuda_loader_set_epoch(NULL, 0, 0), PV_ERR_INVALID_ARG);
  pv_cuda_loader_destroy(NULL);
  /* the CPU loader keeps working in the same process afterwards */
  pv_loader_options o;
  base_opts(&o);
  size_t n = 0;
  free(cpu_epoch(f->ds, &o, &n));
  assert_int_equal(n, N_IMAGES);
}

static void test_bad_options(void **state) {
  fixture *f = *state;
  pv_cuda_loader_options o;
  pv_cuda_loader *l = NULL;
  char err[256];
  pv_cuda_loader_options_init(&o);
  o.size = 3;
  assert_int_equal(pv_cuda_loader_create(f->ds, &o, &l, err, sizeof err),
                   pv_cuda_built() ? PV_ERR_INVALID_ARG : PV_ERR_CUDA);
  if (!pv_cuda_built()) return;
  pv_cuda_loader_options_init(&o);
  o.depth = 0;
  assert_int_equal(pv_cuda_loader_create(f->ds, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  pv_cuda_loader_options_init(&o);
  o.std[1] = 0;
  assert_int_equal(pv_cuda_loader_create(f->ds, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  pv_cuda_loader_options_init(&o);
  o.dtype = (pv_cuda_dtype)7;
  assert_int_equal(pv_cuda_loader_create(f->ds, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  pv_cuda_loader_options_init(&o);
  setenv("LOCAL_RANK", "-2", 1);
  assert_int_equal(pv_cuda_loader_create(f->ds, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "LOCAL_RANK"));
  unsetenv("LOCAL_RANK");
  assert_null(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_half_rounding),
      cmocka_unit_test(test_all_pixel_values),
      cmocka_unit_test(test_reference_equals_cpu_loader),
      cmocka_unit_test(test_options_and_device_choice),
      cmocka_unit_test(test_without_gpu),
      cmocka_unit_test(test_bad_options),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
