/* test_resample.c - image/resample.c: exactness, quality, SIMD == scalar
 * reference, argument checks, edge sizes, and agreement with PIL. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resample.h"
#include "testutil.h"

static const pv_filter all_filters[] = {PV_FILTER_BILINEAR, PV_FILTER_BICUBIC, PV_FILTER_LANCZOS};
#define NFILTERS 3

/* Resizes the whole of src; asserts success. */
static void resize_full(pv_resampler *r, pv_filter f, const uint8_t *src, uint32_t sw, uint32_t sh,
                        uint8_t *dst, uint32_t dw, uint32_t dh) {
  assert_int_equal(pv__resample_rgb8(r, f, src, sw, sh, (size_t)sw * 3, 0, 0, sw, sh, dst, dw, dh,
                                     (size_t)dw * 3),
                   PV_OK);
}

/* Fast path and scalar reference on the same input; asserts equal bytes and
 * that a second fast run reproduces the first. */
static void check_one_level(pv_resampler *r, pv_filter f, const uint8_t *src, uint32_t sw,
                            uint32_t sh, uint32_t bx, uint32_t by, uint32_t bw, uint32_t bh,
                            uint32_t dw, uint32_t dh, int level) {
  size_t n = (size_t)dw * dh * 3;
  uint8_t *a = malloc(n), *b = malloc(n), *c = malloc(n);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  memset(a, 0xA5, n);
  memset(b, 0x5A, n);
  memset(c, 0x33, n);
  assert_int_equal(pv__resample_rgb8(r, f, src, sw, sh, (size_t)sw * 3, bx, by, bw, bh, a, dw, dh,
                                     (size_t)dw * 3),
                   PV_OK);
  assert_int_equal(pv__resample_rgb8_reference(r, f, src, sw, sh, (size_t)sw * 3, bx, by, bw, bh,
                                               b, dw, dh, (size_t)dw * 3),
                   PV_OK);
  assert_int_equal(pv__resample_rgb8(r, f, src, sw, sh, (size_t)sw * 3, bx, by, bw, bh, c, dw, dh,
                                     (size_t)dw * 3),
                   PV_OK);
  if (memcmp(a, b, n) != 0) {
    for (size_t i = 0; i < n; i++)
      if (a[i] != b[i]) {
        print_error("%s level %d %ux%u box(%u,%u,%u,%u) -> %ux%u: byte %zu fast %u ref %u\n",
                    pv__filter_name(f), level, sw, sh, bx, by,
                    bw, bh, dw, dh, i, a[i], b[i]);
        break;
      }
    fail();
  }
  assert_memory_equal(a, c, n);
  free(a);
  free(b);
  free(c);
}

/* The comparison above at every kernel level this build and CPU offer
 * (AVX2, SSE2, portable scalar), then back to the default. */
static void check_against_reference(pv_resampler *r, pv_filter f, const uint8_t *src, uint32_t sw,
                                    uint32_t sh, uint32_t bx, uint32_t by, uint32_t bw,
                                    uint32_t bh, uint32_t dw, uint32_t dh) {
  int prev = -1;
  for (int level = 2; level >= 0; level--) {
    int got = pv__resampler_set_simd(r, level);
    assert_true(got >= 0 && got <= level);
    if (got == prev) continue;
    prev = got;
    check_one_level(r, f, src, sw, sh, bx, by, bw, bh, dw, dh, got);
  }
  pv__resampler_set_simd(r, 2);
}

static void test_filter_names(void **state) {
  (void)state;
  assert_int_equal(pv__filter_from_name("bilinear"), PV_FILTER_BILINEAR);
  assert_int_equal(pv__filter_from_name("bicubic"), PV_FILTER_BICUBIC);
  assert_int_equal(pv__filter_from_name("lanczos"), PV_FILTER_LANCZOS);
  assert_int_equal(pv__filter_from_name("LANCZOS"), PV_FILTER_LANCZOS);
  assert_int_equal(pv__filter_from_name("nearest"), -1);
  assert_int_equal(pv__filter_from_name(""), -1);
  assert_int_equal(pv__filter_from_name(NULL), -1);
  for (int i = 0; i < NFILTERS; i++)
    assert_int_equal(pv__filter_from_name(pv__filter_name(all_filters[i])), (int)all_filters[i]);
}

static void test_identity_is_exact_copy(void **state) {
  (void)state;
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  const uint32_t w = 37, h = 23;
  uint8_t *src = pvt_pattern_rgb(w, h, 7);
  uint8_t *dst = malloc((size_t)w * h * 3);
  assert_non_null(src);
  assert_non_null(dst);
  for (int f = 0; f < NFILTERS; f++) {
    memset(dst, 0, (size_t)w * h * 3);
    resize_full(r, all_filters[f], src, w, h, dst, w, h);
    assert_memory_equal(src, dst, (size_t)w * h * 3);
  }
  /* One axis unchanged: that axis must be exact, e.g. 37x23 -> 37x11 equals
   * a vertical-only reference, and the reference agrees with the fast path. */
  for (int f = 0; f < NFILTERS; f++) {
    check_against_reference(r, all_filters[f], src, w, h, 0, 0, w, h, w, 11);
    check_against_reference(r, all_filters[f], src, w, h, 0, 0, w, h, 13, h);
  }
  free(src);
  free(dst);
  pv__resampler_destroy(r);
}

static void test_constant_stays_constant(void **state) {
  (void)state;
  static const uint32_t sizes[][4] = {
      {64, 48, 17, 13}, {17, 13, 64, 48}, {256, 341, 224, 224}, {5, 7, 1, 1}, {1, 1, 9, 4},
      {100, 3, 7, 40},  {3, 100, 40, 7},  {31, 29, 30, 28},     {2, 2, 3, 3}, {1000, 10, 3, 3},
  };
  static const uint8_t colours[][3] = {{0, 0, 0}, {255, 255, 255}, {137, 3, 250}, {1, 254, 128}};
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    uint32_t sw = sizes[s][0], sh = sizes[s][1], dw = sizes[s][2], dh = sizes[s][3];
    uint8_t *src = malloc((size_t)sw * sh * 3), *dst = malloc((size_t)dw * dh * 3);
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t c = 0; c < sizeof colours / sizeof colours[0]; c++) {
      for (size_t i = 0; i < (size_t)sw * sh; i++) memcpy(src + i * 3, colours[c], 3);
      for (int f = 0; f < NFILTERS; f++) {
        resize_full(r, all_filters[f], src, sw, sh, dst, dw, dh);
        for (size_t i = 0; i < (size_t)dw * dh; i++) assert_memory_equal(dst + i * 3, colours[c], 3);
      }
    }
    free(src);
    free(dst);
  }
  pv__resampler_destroy(r);
}

/* A linear ramp is reproduced exactly by any normalised symmetric kernel, so
 * away from the borders the result must match the ramp evaluated at each
 * output pixel's centre, up to rounding. */
static void test_gradient_matches_analytic(void **state) {
  (void)state;
  const uint32_t sw = 240, sh = 180, dw = 60, dh = 45; /* 4x down */
  uint8_t *src = malloc((size_t)sw * sh * 3), *dst = malloc((size_t)dw * dh * 3);
  assert_non_null(src);
  assert_non_null(dst);
  for (uint32_t y = 0; y < sh; y++)
    for (uint32_t x = 0; x < sw; x++) {
      uint8_t *p = src + ((size_t)y * sw + x) * 3;
      p[0] = (uint8_t)(x * 255 / (sw - 1)); /* not exactly linear: integer steps */
      p[1] = (uint8_t)(y * 255 / (sh - 1));
      p[2] = (uint8_t)((x + y) / 2);
    }
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  for (int f = 0; f < NFILTERS; f++) {
    resize_full(r, all_filters[f], src, sw, sh, dst, dw, dh);
    const double margin = 4; /* output pixels kept clear of the borders */
    double worst = 0;
    for (uint32_t y = (uint32_t)margin; y < dh - margin; y++)
      for (uint32_t x = (uint32_t)margin; x < dw - margin; x++) {
        double cx = (x + 0.5) * ((double)sw / dw) - 0.5; /* centre in pixel indices */
        double cy = (y + 0.5) * ((double)sh / dh) - 0.5;
        double want[3] = {cx * 255.0 / (sw - 1), cy * 255.0 / (sh - 1), (cx + cy) / 2};
        const uint8_t *p = dst + ((size_t)y * dw + x) * 3;
        for (int c = 0; c < 3; c++) {
          double e = fabs(p[c] - want[c]);
          if (e > worst) worst = e;
        }
      }
    /* Integer truncation of the source ramp costs up to 1, rounding 0.5. */
    if (worst > 1.5) {
      print_error("%s: worst error %.2f\n", pv__filter_name(all_filters[f]), worst);
      fail();
    }
  }
  free(src);
  free(dst);
  pv__resampler_destroy(r);
}

static void test_box_equals_crop_then_resize(void **state) {
  (void)state;
  const uint32_t sw = 64, sh = 48;
  static const uint32_t boxes[][4] = {{7, 5, 30, 20}, {0, 0, 64, 48}, {63, 47, 1, 1},
                                      {10, 0, 54, 48}, {0, 13, 17, 35}};
  static const uint32_t outs[][2] = {{13, 11}, {45, 33}, {30, 20}, {1, 1}, {100, 2}};
  uint8_t *src = pvt_pattern_rgb(sw, sh, 3);
  assert_non_null(src);
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  for (size_t b = 0; b < sizeof boxes / sizeof boxes[0]; b++) {
    uint32_t bx = boxes[b][0], by = boxes[b][1], bw = boxes[b][2], bh = boxes[b][3];
    uint8_t *crop = malloc((size_t)bw * bh * 3);
    assert_non_null(crop);
    for (uint32_t y = 0; y < bh; y++)
      memcpy(crop + (size_t)y * bw * 3, src + ((size_t)(by + y) * sw + bx) * 3, (size_t)bw * 3);
    for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++) {
      uint32_t dw = outs[o][0], dh = outs[o][1];
      size_t n = (size_t)dw * dh * 3;
      uint8_t *a = malloc(n), *c = malloc(n);
      assert_non_null(a);
      assert_non_null(c);
      for (int f = 0; f < NFILTERS; f++) {
        assert_int_equal(pv__resample_rgb8(r, all_filters[f], src, sw, sh, (size_t)sw * 3, bx, by,
                                           bw, bh, a, dw, dh, (size_t)dw * 3),
                         PV_OK);
        resize_full(r, all_filters[f], crop, bw, bh, c, dw, dh);
        assert_memory_equal(a, c, n);
      }
      free(a);
      free(c);
    }
    free(crop);
  }
  free(src);
  pv__resampler_destroy(r);
}

/* Many shapes - partial 16-row blocks, widths that leave SIMD tails, up and
 * down, one axis unchanged - against the scalar reference. */
static void test_fast_path_equals_reference(void **state) {
  (void)state;
  const uint32_t sw = 300, sh = 257;
  uint8_t *src = pvt_pattern_rgb(sw, sh, 11);
  assert_non_null(src);
  /* Add high-frequency detail so negative lobes and clamping get exercised. */
  for (size_t i = 0; i < (size_t)sw * sh * 3; i += 7) src[i] = (i / 7) % 3 ? 255 : 0;
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  static const uint32_t cases[][6] = {
      /* bx, by, bw, bh, dw, dh */
      {0, 0, 300, 257, 224, 224}, {0, 0, 256, 257, 224, 224}, {13, 9, 256, 241, 224, 224},
      {1, 2, 97, 55, 224, 224},   {0, 0, 300, 257, 17, 33},   {0, 0, 300, 257, 5, 16},
      {5, 5, 6, 5, 31, 47},       {0, 0, 300, 257, 300, 100}, {0, 0, 300, 257, 150, 257},
      {0, 0, 16, 16, 16, 15},     {0, 0, 300, 257, 1, 1},     {0, 0, 21, 19, 22, 18},
      {100, 0, 200, 257, 199, 256},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int f = 0; f < NFILTERS; f++)
      check_against_reference(r, all_filters[f], src, sw, sh, cases[c][0], cases[c][1],
                              cases[c][2], cases[c][3], cases[c][4], cases[c][5]);
  /* Pseudo-random crops, as the loader makes them. */
  uint32_t s = 99;
  for (int i = 0; i < 60; i++) {
    s = s * 1664525u + 1013904223u;
    uint32_t bw = 1 + (s >> 8) % sw;
    s = s * 1664525u + 1013904223u;
    uint32_t bh = 1 + (s >> 8) % sh;
    s = s * 1664525u + 1013904223u;
    uint32_t bx = (s >> 8) % (sw - bw + 1), by = (s >> 16) % (sh - bh + 1);
    s = s * 1664525u + 1013904223u;
    uint32_t dw = 1 + (s >> 8) % 80, dh = 1 + (s >> 20) % 80;
    check_against_reference(r, all_filters[i % NFILTERS], src, sw, sh, bx, by, bw, bh, dw, dh);
  }
  free(src);
  pv__resampler_destroy(r);
}

/* pv__resample_rgb8_flip == pv__resample_rgb8 mirrored row by row, at every
 * kernel level, for shapes that hit the AVX2 four-pixel groups and their
 * tail, the transposed blocks, and the vertical-only (identity horizontal)
 * path; a destination stride wider than the row checks nothing past each
 * row is written. */
static void test_flip_is_mirror(void **state) {
  (void)state;
  const uint32_t sw = 211, sh = 97;
  uint8_t *src = pvt_pattern_rgb(sw, sh, 5);
  assert_non_null(src);
  for (size_t i = 0; i < (size_t)sw * sh * 3; i += 5) src[i] = (i / 5) % 3 ? 255 : 0;
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  static const uint32_t cases[][6] = {
      /* bx, by, bw, bh, dw, dh */
      {0, 0, 211, 97, 224, 224}, {3, 4, 150, 80, 224, 224}, {10, 2, 60, 40, 224, 224},
      {0, 0, 211, 97, 57, 33},   {1, 1, 100, 90, 1, 7},     {1, 1, 100, 90, 2, 5},
      {0, 0, 211, 97, 3, 3},     {0, 0, 211, 97, 5, 17},    {7, 3, 100, 50, 100, 70},
      {0, 0, 211, 97, 211, 97},  {2, 2, 9, 9, 13, 6},       {0, 0, 1, 1, 6, 4},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int f = 0; f < NFILTERS; f++) {
      const uint32_t bx = cases[c][0], by = cases[c][1], bw = cases[c][2], bh = cases[c][3];
      const uint32_t dw = cases[c][4], dh = cases[c][5];
      const size_t row = (size_t)dw * 3, stride = row + 7, n = stride * dh;
      uint8_t *ref = malloc(row * dh), *want = malloc(n), *got = malloc(n);
      assert_non_null(ref);
      assert_non_null(want);
      assert_non_null(got);
      assert_int_equal(pv__resample_rgb8_reference(r, all_filters[f], src, sw, sh, (size_t)sw * 3,
                                                   bx, by, bw, bh, ref, dw, dh, row),
                       PV_OK);
      memset(want, 0xC3, n);
      for (uint32_t y = 0; y < dh; y++)
        for (uint32_t x = 0; x < dw; x++)
          memcpy(want + y * stride + (size_t)(dw - 1 - x) * 3, ref + y * row + (size_t)x * 3, 3);
      int prev = -1;
      for (int level = 2; level >= 0; level--) {
        const int lv = pv__resampler_set_simd(r, level);
        if (lv == prev) continue;
        prev = lv;
        memset(got, 0xC3, n);
        assert_int_equal(pv__resample_rgb8_flip(r, all_filters[f], src, sw, sh, (size_t)sw * 3,
                                                bx, by, bw, bh, got, dw, dh, stride),
                         PV_OK);
        if (memcmp(got, want, n) != 0) {
          print_error("%s level %d box(%u,%u,%u,%u) -> %ux%u: flip is not the mirror\n",
                      pv__filter_name(all_filters[f]), lv, bx, by, bw, bh, dw, dh);
          fail();
        }
      }
      pv__resampler_set_simd(r, 2);
      free(ref);
      free(want);
      free(got);
    }
  free(src);
  pv__resampler_destroy(r);
}

/* Upscaling (two taps per output: the AVX2 two-tap pass) and a slight
 * shrink (three taps: the pair kernel) at every output width from 1 to 70 -
 * every tail of the 8-byte chunks and 4-pixel groups - plain and mirrored,
 * into rows with spare bytes that must stay untouched, at every level,
 * against the reference; a row of alternating 0/255 makes the extremes of
 * p1 - p0. */
static void test_two_tap_widths(void **state) {
  (void)state;
  const uint32_t sw = 90, sh = 9;
  uint8_t *src = pvt_pattern_rgb(sw, sh, 17);
  assert_non_null(src);
  for (uint32_t x = 0; x < sw * 3; x++) src[x] = (x / 3) % 2 ? 255 : 0;
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  const size_t cap = (70 * 3 + 5) * 6;
  uint8_t *ref = malloc(cap), *want = malloc(cap), *got = malloc(cap);
  assert_non_null(ref);
  assert_non_null(want);
  assert_non_null(got);
  for (uint32_t dw = 1; dw <= 70; dw++)
    for (int k = 0; k < 3; k++) {
      /* a box a third narrower, a few pixels narrower, or a bit wider */
      const uint32_t bw = k == 0 ? (dw * 2 + 2) / 3 : k == 1 ? (dw > 3 ? dw - 3 : 1) : dw + dw / 8 + 1;
      if (bw > sw) continue;
      const uint32_t bx = (dw * 7) % (sw - bw + 1), dh = 6;
      const pv_filter f = k == 2 && dw % 2 ? PV_FILTER_BICUBIC : PV_FILTER_BILINEAR;
      const size_t row = (size_t)dw * 3, stride = row + 5, n = stride * dh;
      assert_int_equal(pv__resample_rgb8_reference(r, f, src, sw, sh, (size_t)sw * 3, bx, 1, bw,
                                                   7, ref, dw, dh, row),
                       PV_OK);
      for (int flip = 0; flip < 2; flip++) {
        memset(want, 0xC3, n);
        for (uint32_t y = 0; y < dh; y++)
          for (uint32_t x = 0; x < dw; x++)
            memcpy(want + y * stride + (size_t)(flip ? dw - 1 - x : x) * 3,
                   ref + y * row + (size_t)x * 3, 3);
        int prev = -1;
        for (int level = 2; level >= 0; level--) {
          const int lv = pv__resampler_set_simd(r, level);
          if (lv == prev) continue;
          prev = lv;
          memset(got, 0xC3, n);
          assert_int_equal(
              (flip ? pv__resample_rgb8_flip : pv__resample_rgb8)(
                  r, f, src, sw, sh, (size_t)sw * 3, bx, 1, bw, 7, got, dw, dh, stride),
              PV_OK);
          if (memcmp(got, want, n) != 0) {
            print_error("%s level %d flip %d %u -> %u: not the reference\n", pv__filter_name(f),
                        lv, flip, bw, dw);
            fail();
          }
        }
        pv__resampler_set_simd(r, 2);
      }
    }
  free(ref);
  free(want);
  free(got);
  free(src);
  pv__resampler_destroy(r);
}

/* Cached tables must not leak between sizes: A, B, A again equals a fresh A. */
static void test_cache_reuse(void **state) {
  (void)state;
  uint8_t *src = pvt_pattern_rgb(120, 90, 5);
  assert_non_null(src);
  uint8_t a1[40 * 30 * 3], a2[40 * 30 * 3], b[70 * 20 * 3];
  pv_resampler *r, *fresh;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  assert_int_equal(pv__resampler_create(&fresh), PV_OK);
  resize_full(fresh, PV_FILTER_LANCZOS, src, 120, 90, a1, 40, 30);
  resize_full(r, PV_FILTER_LANCZOS, src, 120, 90, a2, 40, 30);
  resize_full(r, PV_FILTER_BILINEAR, src, 120, 90, b, 70, 20);
  resize_full(r, PV_FILTER_BICUBIC, src, 120, 90, b, 70, 20);
  resize_full(r, PV_FILTER_LANCZOS, src, 120, 90, a2, 40, 30);
  assert_memory_equal(a1, a2, sizeof a1);
  pv__resampler_destroy(r);
  pv__resampler_destroy(fresh);
  free(src);
}

static void test_strides(void **state) {
  (void)state;
  const uint32_t sw = 50, sh = 40, dw = 23, dh = 19;
  const size_t sstride = sw * 3 + 13, dstride = dw * 3 + 7;
  uint8_t *tight = pvt_pattern_rgb(sw, sh, 9);
  uint8_t *padded = malloc(sstride * sh);
  uint8_t want[23 * 19 * 3];
  uint8_t *got = malloc(dstride * dh);
  assert_non_null(tight);
  assert_non_null(padded);
  assert_non_null(got);
  memset(padded, 0xEE, sstride * sh);
  for (uint32_t y = 0; y < sh; y++) memcpy(padded + y * sstride, tight + (size_t)y * sw * 3, sw * 3);
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  for (int f = 0; f < NFILTERS; f++) {
    resize_full(r, all_filters[f], tight, sw, sh, want, dw, dh);
    memset(got, 0x77, dstride * dh);
    assert_int_equal(pv__resample_rgb8(r, all_filters[f], padded, sw, sh, sstride, 0, 0, sw, sh,
                                       got, dw, dh, dstride),
                     PV_OK);
    for (uint32_t y = 0; y < dh; y++) {
      assert_memory_equal(got + y * dstride, want + (size_t)y * dw * 3, dw * 3);
      for (size_t k = dw * 3; k < dstride; k++) assert_int_equal(got[y * dstride + k], 0x77);
    }
  }
  pv__resampler_destroy(r);
  free(tight);
  free(padded);
  free(got);
}

static void test_invalid_args(void **state) {
  (void)state;
  assert_int_equal(pv__resampler_create(NULL), PV_ERR_INVALID_ARG);
  pv__resampler_destroy(NULL);
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  uint8_t src[8 * 6 * 3] = {0}, dst[4 * 3 * 3];
  const pv_filter L = PV_FILTER_LANCZOS;
#define RS(rr, f, s, sw, sh, ss, bx, by, bw, bh, d, dw, dh, ds)                                     \
  pv__resample_rgb8(rr, f, s, sw, sh, ss, bx, by, bw, bh, d, dw, dh, ds)
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, 0, 8, 6, dst, 4, 3, 12), PV_OK);
  assert_int_equal(RS(NULL, L, src, 8, 6, 24, 0, 0, 8, 6, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, NULL, 8, 6, 24, 0, 0, 8, 6, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, 0, 8, 6, NULL, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, (pv_filter)3, src, 8, 6, 24, 0, 0, 8, 6, dst, 4, 3, 12),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, (pv_filter)-1, src, 8, 6, 24, 0, 0, 8, 6, dst, 4, 3, 12),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 0, 6, 24, 0, 0, 0, 6, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 0, 24, 0, 0, 8, 0, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, 0, 0, 6, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, 0, 8, 0, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, 0, 8, 6, dst, 0, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, 0, 8, 6, dst, 4, 0, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 1, 0, 8, 6, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, 1, 8, 6, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 8, 0, 1, 6, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, UINT32_MAX, 0, 2, 6, dst, 4, 3, 12),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, UINT32_MAX, 8, 2, dst, 4, 3, 12),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 23, 0, 0, 8, 6, dst, 4, 3, 12), PV_ERR_INVALID_ARG);
  assert_int_equal(RS(r, L, src, 8, 6, 24, 0, 0, 8, 6, dst, 4, 3, 11), PV_ERR_INVALID_ARG);
  assert_int_equal(pv__resample_rgb8_reference(r, L, src, 8, 6, 24, 0, 0, 9, 6, dst, 4, 3, 12),
                   PV_ERR_INVALID_ARG);
  /* Still usable after errors. */
  assert_int_equal(RS(r, L, src, 8, 6, 24, 2, 1, 5, 4, dst, 4, 3, 12), PV_OK);
#undef RS
  pv__resampler_destroy(r);
}

static void test_thin_edge_sizes(void **state) {
  (void)state;
  uint8_t *src = pvt_pattern_rgb(50, 50, 4);
  assert_non_null(src);
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  static const uint32_t cases[][6] = {
      /* box w, h -> out w, h, all from (0, 0) */
      {1, 50, 1, 7, 0, 0},  {50, 1, 7, 1, 0, 0},   {1, 50, 5, 9, 0, 0}, {50, 1, 9, 5, 0, 0},
      {1, 1, 5, 5, 0, 0},   {5, 5, 1, 1, 0, 0},    {1, 1, 1, 1, 0, 0},  {50, 50, 1, 50, 0, 0},
      {50, 50, 50, 1, 0, 0}, {2, 50, 1, 100, 0, 0}, {1, 2, 40, 3, 0, 0},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int f = 0; f < NFILTERS; f++)
      check_against_reference(r, all_filters[f], src, 50, 50, 0, 0, cases[c][0], cases[c][1],
                              cases[c][2], cases[c][3]);
  /* A 1x1 source upscaled is that pixel everywhere. */
  uint8_t out[5 * 5 * 3];
  for (int f = 0; f < NFILTERS; f++) {
    assert_int_equal(pv__resample_rgb8(r, all_filters[f], src, 50, 50, 150, 3, 4, 1, 1, out, 5, 5,
                                       15),
                     PV_OK);
    for (int i = 0; i < 25; i++) assert_memory_equal(out + i * 3, src + (4 * 50 + 3) * 3, 3);
  }
  free(src);
  pv__resampler_destroy(r);
}

static void test_large_scale_factors(void **state) {
  (void)state;
  const uint32_t n = 4000;
  uint8_t *wide = pvt_pattern_rgb(n, 2, 8), *tall = pvt_pattern_rgb(2, n, 8);
  assert_non_null(wide);
  assert_non_null(tall);
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  for (int f = 0; f < NFILTERS; f++) {
    check_against_reference(r, all_filters[f], wide, n, 2, 0, 0, n, 2, 3, 1);
    check_against_reference(r, all_filters[f], tall, 2, n, 0, 0, 2, n, 1, 3);
    check_against_reference(r, all_filters[f], wide, n, 2, 0, 0, 1, 2, 3000, 2); /* 3000x up */
    check_against_reference(r, all_filters[f], wide, n, 2, 0, 0, n, 2, 1, 1);
  }
  /* Shrinking a constant 4000 -> 3 still gives the constant exactly. */
  memset(wide, 200, (size_t)n * 2 * 3);
  uint8_t out[3 * 3];
  for (int f = 0; f < NFILTERS; f++) {
    resize_full(r, all_filters[f], wide, n, 2, out, 3, 1);
    for (int i = 0; i < 9; i++) assert_int_equal(out[i], 200);
  }
  free(wide);
  free(tall);
  pv__resampler_destroy(r);
}

/* Expected bytes produced here with PIL 9.4 (Debian's python3-pil):
 *   im = Image.frombytes('RGB', (8, 6), <pattern below>)
 *   im.resize((3, 2), Image.BILINEAR, reducing_gap=None).tobytes()
 * PIL runs the horizontal pass first with 22-bit weights; we run the
 * vertical pass first with 14-bit weights, so rounding may differ by 1.
 * Only cases without ringing are pinned at +-1: when a Lanczos or cubic pass
 * overshoots, each library clamps its 8-bit intermediate after a different
 * pass, and on this high-contrast pattern an upscale (8x6 -> 5x9 Lanczos)
 * then differs by up to 7 at a few near-black or near-white bytes. The PSNR
 * benchmark (tests/oracles/resize_psnr.py) measures the difference on photographs. */
static uint8_t pil_pattern(uint32_t x, uint32_t y, uint32_t c) {
  return (uint8_t)((x * 37 + y * 59 + c * 83 + (c == 1 ? x * y * 11 : 0) +
                    ((x + y) % 3 == 0 ? 40 : 0)) &
                   255);
}

static const uint8_t pil_bilinear_3x2[] = {125, 118, 124, 139, 128, 133, 77,  142, 167,
                                           138, 107, 110, 135, 112, 104, 153, 128, 134};
static const uint8_t pil_bicubic_3x2[] = {125, 115, 128, 142, 132, 133, 72,  143, 168,
                                          143, 105, 106, 134, 109, 105, 155, 133, 136};
static const uint8_t pil_lanczos_3x2[] = {129, 113, 129, 141, 132, 134, 69,  146, 167,
                                          147, 103, 102, 132, 109, 104, 157, 136, 140};
static const uint8_t pil_bilinear_5x9[] = {
    39,  122, 205, 79,  162, 197, 148, 220, 69,  132, 73,  108, 4,   87,  170, 57,  142,
    170, 116, 115, 130, 165, 139, 86,  96,  113, 144, 26,  145, 192, 87,  158, 122, 160,
    67,  70,  174, 76,  114, 59,  158, 186, 61,  185, 201, 137, 141, 73,  192, 69,  102,
    145, 151, 164, 58,  179, 216, 115, 118, 156, 183, 97,  93,  204, 108, 138, 109, 155,
    200, 88,  150, 150, 155, 164, 118, 204, 63,  132, 185, 130, 147, 86,  131, 190, 131,
    124, 81,  188, 202, 98,  158, 89,  155, 96,  68,  69,  107, 102, 57,  178, 164, 96,
    217, 109, 127, 109, 136, 147, 97,  86,  41,  150, 86,  60,  179, 129, 122, 137, 87,
    175, 71,  176, 132, 121, 120, 31,  187, 78,  97,  168, 84,  144, 50,  89,  216};
/* pv__resample_rgb8_window is the crop of the whole resize, byte for byte:
 * for random sources, boxes, destination sizes (shrinking, enlarging, mixed,
 * identity axes) and windows (whole, edges, interior, single pixels), every
 * filter and every SIMD level, and for destinations past the 2^20 limit
 * that only a window may have. */
static void test_window_equals_full_then_crop(void **state) {
  (void)state;
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  uint32_t seed = 12345;
#define RND(n) (seed = seed * 1103515245u + 12345u, (seed >> 8) % (n))
  for (int it = 0; it < 400; it++) {
    const uint32_t sw = 1 + RND(120), sh = 1 + RND(90);
    uint8_t *src = pvt_pattern_rgb(sw, sh, (uint32_t)it);
    assert_non_null(src);
    const uint32_t bw = 1 + RND(sw), bh = 1 + RND(sh);
    const uint32_t bx = RND(sw - bw + 1), by = RND(sh - bh + 1);
    uint32_t dw = 1 + RND(200), dh = 1 + RND(150);
    if (it % 7 == 0) dw = bw; /* identity axes */
    if (it % 11 == 0) dh = bh;
    const uint32_t ww = 1 + RND(dw), wh = 1 + RND(dh);
    uint32_t wx = RND(dw - ww + 1), wy = RND(dh - wh + 1);
    if (it % 5 == 0) wx = 0, wy = dh - wh; /* edges */
    const pv_filter f = all_filters[it % NFILTERS];
    const int level = it % 3;
    pv__resampler_set_simd(r, level);
    uint8_t *full = malloc((size_t)dw * dh * 3), *win = malloc((size_t)ww * wh * 3 + 7);
    assert_true(full && win);
    assert_int_equal(pv__resample_rgb8(r, f, src, sw, sh, (size_t)sw * 3, bx, by, bw, bh, full,
                                       dw, dh, (size_t)dw * 3),
                     PV_OK);
    memset(win, 0xEE, (size_t)ww * wh * 3 + 7);
    assert_int_equal(pv__resample_rgb8_window(r, f, src, sw, sh, (size_t)sw * 3, bx, by, bw, bh,
                                              dw, dh, wx, wy, win, ww, wh, (size_t)ww * 3),
                     PV_OK);
    for (uint32_t y = 0; y < wh; y++)
      if (memcmp(win + (size_t)y * ww * 3, full + ((size_t)(wy + y) * dw + wx) * 3,
                 (size_t)ww * 3)) {
        print_error("it %d: %ux%u box (%u,%u %ux%u) -> %ux%u window (%u,%u %ux%u) filter %d "
                    "level %d: row %u differs\n",
                    it, sw, sh, bx, by, bw, bh, dw, dh, wx, wy, ww, wh, (int)f, level, y);
        fail();
      }
    for (int k = 0; k < 7; k++) assert_int_equal(win[(size_t)ww * wh * 3 + k], 0xEE);
    free(full);
    free(win);
    free(src);
  }
#undef RND
  /* A destination far beyond 2^20 columns: only a window of it exists. The
   * single source row is stretched to every output row, so rows are equal,
   * and a window far along equals the same window computed at a smaller
   * offset only where the scale maps it there: check row equality and
   * determinism. */
  uint8_t *row = pvt_pattern_rgb(65500, 1, 9);
  uint8_t *a = malloc(224 * 224 * 3), *b = malloc(224 * 224 * 3);
  assert_true(row && a && b);
  pv__resampler_set_simd(r, 2);
  assert_int_equal(pv__resample_rgb8_window(r, PV_FILTER_BILINEAR, row, 65500, 1, 65500 * 3, 0,
                                            0, 65500, 1, 16768000, 256, 8383888, 16, a, 224,
                                            224, 224 * 3),
                   PV_OK);
  for (uint32_t y = 1; y < 224; y++) assert_memory_equal(a, a + (size_t)y * 224 * 3, 224 * 3);
  pv__resampler_set_simd(r, 0);
  assert_int_equal(pv__resample_rgb8_window(r, PV_FILTER_BILINEAR, row, 65500, 1, 65500 * 3, 0,
                                            0, 65500, 1, 16768000, 256, 8383888, 16, b, 224,
                                            224, 224 * 3),
                   PV_OK);
  assert_memory_equal(a, b, 224 * 224 * 3);
  /* A window outside the destination is refused. */
  assert_int_equal(pv__resample_rgb8_window(r, PV_FILTER_BILINEAR, row, 65500, 1, 65500 * 3, 0,
                                            0, 65500, 1, 16768000, 256, 16767900, 16, b, 224,
                                            224, 224 * 3),
                   PV_ERR_INVALID_ARG);
  free(a);
  free(b);
  free(row);
  pv__resampler_destroy(r);
}

static void test_matches_pil(void **state) {
  (void)state;
  uint8_t src[8 * 6 * 3];
  for (uint32_t y = 0; y < 6; y++)
    for (uint32_t x = 0; x < 8; x++)
      for (uint32_t c = 0; c < 3; c++) src[(y * 8 + x) * 3 + c] = pil_pattern(x, y, c);
  static const struct {
    pv_filter f;
    uint32_t w, h;
    const uint8_t *want;
  } cases[] = {
      {PV_FILTER_BILINEAR, 3, 2, pil_bilinear_3x2}, {PV_FILTER_BICUBIC, 3, 2, pil_bicubic_3x2},
      {PV_FILTER_LANCZOS, 3, 2, pil_lanczos_3x2},   {PV_FILTER_BILINEAR, 5, 9, pil_bilinear_5x9},
  };
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    uint8_t out[5 * 9 * 3];
    size_t n = (size_t)cases[c].w * cases[c].h * 3;
    resize_full(r, cases[c].f, src, 8, 6, out, cases[c].w, cases[c].h);
    for (size_t i = 0; i < n; i++) {
      int d = (int)out[i] - (int)cases[c].want[i];
      if (d < -1 || d > 1) {
        print_error("%s %ux%u byte %zu: got %u, PIL %u\n", pv__filter_name(cases[c].f),
                    cases[c].w, cases[c].h, i, out[i], cases[c].want[i]);
        fail();
      }
    }
  }
  pv__resampler_destroy(r);
}

/* ---- batch elements in their final dtype and layout (issue 13) ---------------- */

static const float t_mean[3] = {0.485f, 0.456f, 0.406f}, t_std[3] = {0.229f, 0.224f, 0.225f};

/* The definition of each format, written out here: element (y, x, c) of a
 * w x h sample from RGB8 pixels px. */
static void expect_format(pv_pix_format f, const uint8_t *px, uint32_t w, uint32_t h, void *out) {
  float sc[3], bi[3];
  for (int c = 0; c < 3; c++) {
    sc[c] = 1.0f / (255.0f * t_std[c]);
    bi[c] = -t_mean[c] / t_std[c];
  }
  const size_t hw = (size_t)w * h;
  for (size_t i = 0; i < hw; i++)
    for (int c = 0; c < 3; c++) {
      const uint8_t v = px[3 * i + c];
      const float fv = (float)v * sc[c] + bi[c];
      switch (f) {
      case PV_PIX_RGB8: ((uint8_t *)out)[3 * i + c] = v; break;
      case PV_PIX_RGB8_PLANAR: ((uint8_t *)out)[c * hw + i] = v; break;
      case PV_PIX_F32: ((float *)out)[3 * i + c] = fv; break;
      case PV_PIX_F32_PLANAR: ((float *)out)[c * hw + i] = fv; break;
      }
    }
}

static size_t format_bytes(pv_pix_format f, uint32_t w, uint32_t h) {
  const size_t n = (size_t)w * h * 3;
  return f == PV_PIX_F32 || f == PV_PIX_F32_PLANAR ? n * 4 : n;
}

/* pv__pix_out_rows at every SIMD level, row groups of every size and odd
 * widths (the vector loops' tails), against the definition above; a
 * misaligned destination too (the AVX2 path's stores). */
static void test_pix_out_rows_levels(void **state) {
  (void)state;
  static const uint32_t widths[] = {1, 5, 7, 8, 9, 16, 17, 23, 83, 224};
  for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
    const uint32_t w = widths[wi], h = 6;
    uint8_t *px = pvt_pattern_rgb(w, h, (int)wi + 1);
    assert_non_null(px);
    for (size_t i = 0; i < (size_t)w * h * 3; i += 7) px[i] = (uint8_t)(i % 2 ? 255 : 0);
    for (int f = PV_PIX_RGB8; f <= PV_PIX_F32_PLANAR; f++) {
      const size_t nb = format_bytes((pv_pix_format)f, w, h);
      uint8_t *want = malloc(nb), *mem = malloc(nb + 8);
      assert_non_null(want);
      assert_non_null(mem);
      expect_format((pv_pix_format)f, px, w, h, want);
      for (int mis = 0; mis <= 4; mis += 4) {
        uint8_t *got = mem + mis;
        int prev = -1;
        for (int level = 2; level >= 0; level--) {
          pv_pix_out o;
          pv__pix_out_init(&o, (pv_pix_format)f, got, w, h, 0, t_mean, t_std);
          const int lv = pv__pix_out_set_simd(&o, level);
          assert_true(lv >= 0 && lv <= level);
          if (lv == prev) continue;
          prev = lv;
          memset(got, 0xE7, nb);
          /* rows in groups of 1, 2 and 3 */
          pv__pix_out_rows(&o, 0, 1, px, (size_t)w * 3);
          pv__pix_out_rows(&o, 1, 2, px + (size_t)w * 3, (size_t)w * 3);
          pv__pix_out_rows(&o, 3, 3, px + (size_t)w * 9, (size_t)w * 3);
          if (memcmp(got, want, nb) != 0) {
            print_error("format %d width %u level %d misaligned %d: differs\n", f, w, lv, mis);
            fail();
          }
        }
      }
      if (f == PV_PIX_F32 || f == PV_PIX_F32_PLANAR) { /* the whole-sample helper */
        memset(mem, 0, nb);
        pv__rgb8_normalize(px, (size_t)w * h, t_mean, t_std, f == PV_PIX_F32_PLANAR,
                           (float *)(void *)mem);
        assert_memory_equal(mem, want, nb);
      } else if (f == PV_PIX_RGB8_PLANAR) {
        memset(mem, 0, nb);
        pv__rgb8_to_planar(px, (size_t)w * h, mem);
        assert_memory_equal(mem, want, nb);
      }
      free(want);
      free(mem);
    }
    free(px);
  }
}

/* pv__resample_rgb8_out gives, at every resampler level, for every format,
 * with and without flip and for windows, the bytes of the scalar reference
 * resample followed by the format's definition. */
static void test_resample_out_equals_resample_then_convert(void **state) {
  (void)state;
  const uint32_t sw = 173, sh = 91;
  uint8_t *src = pvt_pattern_rgb(sw, sh, 11);
  assert_non_null(src);
  for (size_t i = 0; i < (size_t)sw * sh * 3; i += 11) src[i] = (uint8_t)(i % 3 ? 255 : 0);
  pv_resampler *r;
  assert_int_equal(pv__resampler_create(&r), PV_OK);
  static const uint32_t cases[][10] = {
      /* bx, by, bw, bh, fw, fh, wx, wy, dw, dh (fw == 0: whole, fw = dw, fh = dh) */
      {0, 0, 173, 91, 0, 0, 0, 0, 224, 224}, {5, 3, 120, 70, 0, 0, 0, 0, 83, 61},
      {1, 2, 40, 30, 0, 0, 0, 0, 97, 45},    {0, 0, 173, 91, 0, 0, 0, 0, 173, 91},
      {0, 0, 173, 91, 0, 0, 0, 0, 173, 40},  {0, 0, 173, 91, 0, 0, 0, 0, 9, 91},
      {2, 2, 9, 9, 0, 0, 0, 0, 1, 17},       {0, 0, 173, 91, 300, 158, 38, 11, 224, 136},
      {0, 0, 173, 91, 256, 134, 16, 5, 224, 124},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
    for (int fl = 0; fl < NFILTERS; fl++)
      for (int flip = 0; flip < 2; flip++) {
        const uint32_t *k = cases[c];
        const int window = k[4] != 0;
        if (window && flip) continue;
        const uint32_t dw = k[8], dh = k[9];
        const uint32_t fw = window ? k[4] : dw, fh = window ? k[5] : dh;
        const pv_filter f = all_filters[fl];
        const size_t row = (size_t)dw * 3;
        uint8_t *rgb = malloc(row * dh);
        assert_non_null(rgb);
        pv__resampler_set_simd(r, 0);
        if (window)
          assert_int_equal(pv__resample_rgb8_window(r, f, src, sw, sh, (size_t)sw * 3, k[0], k[1],
                                                    k[2], k[3], fw, fh, k[6], k[7], rgb, dw, dh,
                                                    row),
                           PV_OK);
        else
          assert_int_equal(pv__resample_rgb8_reference(r, f, src, sw, sh, (size_t)sw * 3, k[0],
                                                       k[1], k[2], k[3], rgb, dw, dh, row),
                           PV_OK);
        if (flip) /* the mirror of every row */
          for (uint32_t y = 0; y < dh; y++)
            for (uint32_t x = 0; x < dw / 2; x++)
              for (int ch = 0; ch < 3; ch++) {
                uint8_t *a = rgb + y * row + (size_t)x * 3 + ch;
                uint8_t *b = rgb + y * row + (size_t)(dw - 1 - x) * 3 + ch;
                const uint8_t t = *a;
                *a = *b;
                *b = t;
              }
        for (int pf = PV_PIX_RGB8; pf <= PV_PIX_F32_PLANAR; pf++) {
          const size_t nb = format_bytes((pv_pix_format)pf, dw, dh);
          uint8_t *want = malloc(nb), *got = malloc(nb);
          assert_non_null(want);
          assert_non_null(got);
          expect_format((pv_pix_format)pf, rgb, dw, dh, want);
          int prev = -1;
          for (int level = 2; level >= 0; level--) {
            const int lv = pv__resampler_set_simd(r, level);
            if (lv == prev) continue;
            prev = lv;
            pv_pix_out o;
            pv__pix_out_init(&o, (pv_pix_format)pf, got, dw, dh, 0, t_mean, t_std);
            memset(got, 0x6B, nb);
            assert_int_equal(pv__resample_rgb8_out(r, f, src, sw, sh, (size_t)sw * 3, k[0], k[1],
                                                   k[2], k[3], fw, fh, window ? k[6] : 0,
                                                   window ? k[7] : 0, flip, &o),
                             PV_OK);
            if (memcmp(got, want, nb) != 0) {
              print_error("%s level %d case %zu flip %d format %d: differs\n", pv__filter_name(f),
                          lv, c, flip, pf);
              fail();
            }
          }
          free(want);
          free(got);
        }
        free(rgb);
      }
  pv__resampler_set_simd(r, 2);
  /* Arguments: no element, an empty one, a mirrored partial window. */
  float buf[48];
  pv_pix_out o;
  pv__pix_out_init(&o, PV_PIX_F32_PLANAR, buf, 4, 4, 0, t_mean, t_std);
  assert_int_equal(pv__resample_rgb8_out(r, PV_FILTER_BILINEAR, src, sw, sh, (size_t)sw * 3, 0, 0,
                                         sw, sh, 4, 4, 0, 0, 0, NULL),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(pv__resample_rgb8_out(r, PV_FILTER_BILINEAR, src, sw, sh, (size_t)sw * 3, 0, 0,
                                         sw, sh, 8, 8, 2, 2, 1, &o),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(pv__resample_rgb8_out(r, PV_FILTER_BILINEAR, src, sw, sh, (size_t)sw * 3, 0, 0,
                                         sw, sh, 8, 8, 2, 2, 0, &o),
                   PV_OK);
  o.width = 0;
  assert_int_equal(pv__resample_rgb8_out(r, PV_FILTER_BILINEAR, src, sw, sh, (size_t)sw * 3, 0, 0,
                                         sw, sh, 4, 4, 0, 0, 0, &o),
                   PV_ERR_INVALID_ARG);
  pv__resampler_destroy(r);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_names),
      cmocka_unit_test(test_identity_is_exact_copy),
      cmocka_unit_test(test_constant_stays_constant),
      cmocka_unit_test(test_gradient_matches_analytic),
      cmocka_unit_test(test_box_equals_crop_then_resize),
      cmocka_unit_test(test_fast_path_equals_reference),
      cmocka_unit_test(test_flip_is_mirror),
      cmocka_unit_test(test_two_tap_widths),
      cmocka_unit_test(test_cache_reuse),
      cmocka_unit_test(test_strides),
      cmocka_unit_test(test_invalid_args),
      cmocka_unit_test(test_thin_edge_sizes),
      cmocka_unit_test(test_large_scale_factors),
      cmocka_unit_test(test_matches_pil),
      cmocka_unit_test(test_window_equals_full_then_crop),
      cmocka_unit_test(test_pix_out_rows_levels),
      cmocka_unit_test(test_resample_out_equals_resample_then_convert),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
