/* test_augment.c - reader/augment.c: RandomResizedCrop parameters (ranges,
 * fallback, torchvision's algorithm on fixed draws), eval geometry against
 * torchvision's formulas, partial JPEG decoding against the full-decode
 * reference, exact RAW/ZSTD and eval fast paths, corrupt input, bad
 * arguments. Records are built by hand around in-memory payloads. */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <zstd.h>

#include <jpeglib.h>

#include "augment.h"
#include "encode.h"
#include "jpeg_splice.h"
#include "testutil.h"

/* ---- fixtures ---------------------------------------------------------------- */

/* splitmix64 -> double in [0, 1) with 53 random bits; the Python generator
 * quoted above test_rrc_matches_torchvision is the same function. */
typedef struct rng {
  uint64_t s;
  unsigned calls;
} rng;

static uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double rng_uniform(void *ctx) {
  rng *r = ctx;
  r->calls++;
  return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static uint32_t rng_below(rng *r, uint32_t n) { return (uint32_t)(rng_next(r) % n); }

/* Always the same uniform: drives the fallback deterministically. */
static double const_uniform(void *ctx) {
  rng *r = ctx;
  r->calls++;
  return 0.999;
}

/* A smooth colour image: JPEG keeps it well and DCT scaling barely changes
 * it, so partial and full decodes must agree closely. */
static uint8_t *smooth_rgb(uint32_t w, uint32_t h, uint32_t seed) {
  uint8_t *p = malloc((size_t)w * h * 3);
  assert_non_null(p);
  const double a = 0.031 + 0.003 * (seed % 5), b = 0.023 + 0.002 * (seed % 7);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      uint8_t *q = p + ((size_t)y * w + x) * 3;
      q[0] = (uint8_t)(128 + 100 * sin(x * a + y * 0.011 + seed));
      q[1] = (uint8_t)(128 + 100 * cos(y * b - x * 0.007));
      q[2] = (uint8_t)(128 + 90 * sin((x + y) * 0.017 + 0.5 * seed));
    }
  return p;
}

/* JPEG of rgb with the given subsampling (TJSAMP_GRAY for a 1-component
 * file); malloc'ed. */
static uint8_t *encode(const uint8_t *rgb, uint32_t w, uint32_t h, int samp, int quality,
                       uint32_t *len) {
  tjhandle tj = tjInitCompress();
  assert_non_null(tj);
  unsigned char *out = NULL;
  unsigned long sz = 0;
  assert_int_equal(
      tjCompress2(tj, rgb, (int)w, 0, (int)h, TJPF_RGB, &out, &sz, samp, quality, 0), 0);
  tjDestroy(tj);
  uint8_t *copy = malloc(sz);
  assert_non_null(copy);
  memcpy(copy, out, sz);
  tjFree(out);
  *len = (uint32_t)sz;
  return copy;
}

static pv_record make_record(const uint8_t *data, uint32_t len, uint32_t w, uint32_t h,
                             int codec) {
  pv_record r;
  memset(&r, 0, sizeof r);
  r.data = data;
  r.length = len;
  r.width = w;
  r.height = h;
  r.codec = (uint8_t)codec;
  return r;
}

/* The whole JPEG decoded by TurboJPEG (default flags), malloc'ed. */
static uint8_t *tj_decode(const uint8_t *jpg, uint32_t len, uint32_t w, uint32_t h) {
  tjhandle tj = tjInitDecompress();
  assert_non_null(tj);
  uint8_t *px = malloc((size_t)w * h * 3);
  assert_non_null(px);
  assert_int_equal(tjDecompress2(tj, jpg, len, px, (int)w, 0, (int)h, TJPF_RGB, 0), 0);
  tjDestroy(tj);
  return px;
}

static void mirror(uint8_t *p, uint32_t w, uint32_t h) {
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w / 2; x++)
      for (int c = 0; c < 3; c++) {
        uint8_t *a = p + ((size_t)y * w + x) * 3 + c, *b = p + ((size_t)y * w + w - 1 - x) * 3 + c;
        uint8_t t = *a;
        *a = *b;
        *b = t;
      }
}

/* Mean absolute difference and PSNR (dB) of two n-byte images. */
static void compare(const uint8_t *a, const uint8_t *b, size_t n, double *mad, double *psnr) {
  double sa = 0, sq = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    sa += fabs(d);
    sq += d * d;
  }
  *mad = sa / n;
  *psnr = sq == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / (sq / n));
}

/* ---- RandomResizedCrop parameters ---------------------------------------------- */

static void test_rrc_ranges(void **state) {
  (void)state;
  rng r = {12345, 0};
  static const double scales[][2] = {{0.08, 1.0}, {0.5, 1.0}, {0.01, 0.1}, {1.0, 1.0}};
  static const double ratios[][2] = {{3.0 / 4.0, 4.0 / 3.0}, {1.0, 1.0}, {0.1, 10.0}};
  unsigned loops = 0;
  for (int i = 0; i < 100000; i++) {
    uint32_t W = 1 + rng_below(&r, i % 10 == 0 ? 20 : 2000);
    uint32_t H = 1 + rng_below(&r, i % 7 == 0 ? 20 : 2000);
    const double *sc = scales[i % 4], *ra = ratios[i % 3];
    pv_crop c;
    r.calls = 0;
    pv__rrc_params(W, H, sc[0], sc[1], ra[0], ra[1], rng_uniform, &r, &c);
    assert_true(c.w > 0 && c.w <= W);
    assert_true(c.h > 0 && c.h <= H);
    assert_true(c.x + c.w <= W && c.y + c.h <= H);
    /* The loop takes 2 draws per attempt and 2 for the offsets on success
     * (4, 6, ..., 22 draws); the fallback takes exactly 20, so 20 is
     * ambiguous and left out. */
    if (r.calls != 20) {
      assert_true(r.calls % 2 == 0 && r.calls >= 4 && r.calls <= 22);
      loops++;
      const double area = (double)W * H;
      /* w and h are each rounded from the exact values: allow half a pixel. */
      assert_true((c.w - 0.5) * (c.h - 0.5) <= sc[1] * area * (1 + 1e-12));
      assert_true((c.w + 0.5) * (c.h + 0.5) >= sc[0] * area * (1 - 1e-12));
      assert_true((c.w - 0.5) / (c.h + 0.5) <= ra[1] * (1 + 1e-12));
      assert_true((c.w + 0.5) / (c.h - 0.5 > 0 ? c.h - 0.5 : 1e-9) >= ra[0] * (1 - 1e-12));
    }
  }
  print_message("%u of 100000 draws succeeded in the loop\n", loops);
  assert_true(loops > 40000);
}

static void test_rrc_fallback(void **state) {
  (void)state;
  rng r = {7, 0};
  pv_crop c;
  /* 1000x10: a box of >= 8% of the area is at least 24 rows tall for any
   * aspect in [3/4, 4/3], so no draw fits: central crop, aspect clamped to
   * 4/3: h = 10, w = round(13.33) = 13. */
  for (int i = 0; i < 100; i++) {
    r.calls = 0;
    pv__rrc_params(1000, 10, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &c);
    assert_int_equal(r.calls, 20);
    assert_int_equal(c.w, 13);
    assert_int_equal(c.h, 10);
    assert_int_equal(c.x, (1000 - 13) / 2);
    assert_int_equal(c.y, 0);
  }
  /* The transpose: w = 10, h = round(10 / 0.75) = 13. */
  r.calls = 0;
  pv__rrc_params(10, 1000, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &c);
  assert_int_equal(r.calls, 20);
  assert_int_equal(c.w, 10);
  assert_int_equal(c.h, 13);
  assert_int_equal(c.x, 0);
  assert_int_equal(c.y, (1000 - 13) / 2);
  /* Aspect inside the range but a target area larger than the image: the
   * whole image. */
  r.calls = 0;
  pv__rrc_params(300, 200, 2.0, 3.0, 0.5, 2.0, rng_uniform, &r, &c);
  assert_int_equal(r.calls, 20);
  assert_int_equal(c.x, 0);
  assert_int_equal(c.y, 0);
  assert_int_equal(c.w, 300);
  assert_int_equal(c.h, 200);
  /* Draws that never fit (aspect exp(log 10) on a 100x100 image needs
   * w > 100 at this scale). */
  r.calls = 0;
  pv__rrc_params(100, 100, 0.9, 1.0, 0.1, 10.0, const_uniform, &r, &c);
  assert_int_equal(r.calls, 20);
  assert_int_equal(c.w, 100);
  assert_int_equal(c.h, 100);
  /* 1x1 image: always the single pixel. */
  pv__rrc_params(1, 1, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &c);
  assert_true(c.x == 0 && c.y == 0 && c.w == 1 && c.h == 1);
}

/* Expected values generated with this transcription of torchvision 0.15's
 * RandomResizedCrop.get_params (Python floats; torch.empty(1).uniform_(a, b)
 * replaced by a + (b - a) * u(), torch.randint(0, n) by floor(u() * n)), fed
 * by the splitmix64 stream of rng_uniform:
 *
 *   class Stream:
 *       def __init__(self, seed): self.s = seed & M        # M = 2**64 - 1
 *       def __call__(self):
 *           self.s = (self.s + 0x9E3779B97F4A7C15) & M
 *           z = self.s
 *           z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
 *           z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
 *           z ^= z >> 31
 *           return (z >> 11) * 2.0**-53
 *   def get_params(width, height, scale, ratio, u):
 *       area = height * width
 *       log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
 *       for _ in range(10):
 *           target_area = area * (scale[0] + (scale[1] - scale[0]) * u())
 *           aspect_ratio = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * u())
 *           w = int(round(math.sqrt(target_area * aspect_ratio)))
 *           h = int(round(math.sqrt(target_area / aspect_ratio)))
 *           if 0 < w <= width and 0 < h <= height:
 *               i = math.floor(u() * (height - h + 1))
 *               j = math.floor(u() * (width - w + 1))
 *               return i, j, h, w
 *       in_ratio = float(width) / float(height)
 *       if in_ratio < min(ratio): w = width; h = int(round(w / min(ratio)))
 *       elif in_ratio > max(ratio): h = height; w = int(round(h * max(ratio)))
 *       else: w = width; h = height
 *       return (height - h) // 2, (width - w) // 2, h, w
 *
 * Each row: four consecutive calls on one stream seeded with `seed`,
 * results as (i = y, j = x, h, w). */
static void test_rrc_matches_torchvision(void **state) {
  (void)state;
  static const struct {
    uint32_t W, H;
    double s0, s1, r0, r1;
    uint64_t seed;
    uint32_t yxhw[4][4];
  } cases[] = {
      {341, 256, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 1, {{42, 42, 213, 246}, {57, 62, 192, 223}, {39, 93, 159, 188}, {21, 22, 207, 210}}},
      {256, 341, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 2, {{74, 4, 217, 251}, {112, 63, 187, 171}, {63, 35, 154, 176}, {98, 7, 236, 219}}},
      {500, 375, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 3, {{122, 22, 176, 197}, {21, 233, 220, 238}, {65, 105, 282, 353}, {34, 162, 328, 298}}},
      {224, 224, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 4, {{74, 25, 138, 173}, {73, 32, 145, 153}, {91, 78, 110, 113}, {53, 35, 162, 180}}},
      {1000, 10, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 5, {{0, 493, 10, 13}, {0, 493, 10, 13}, {0, 493, 10, 13}, {0, 493, 10, 13}}},
      {64, 48, 0.5, 1.0, 1.0, 1.0, 6, {{4, 20, 40, 40}, {0, 19, 43, 43}, {1, 20, 42, 42}, {1, 9, 47, 47}}},
      {640, 480, 0.25, 0.5, 0.5, 2.0, 7, {{21, 237, 457, 234}, {39, 118, 397, 281}, {17, 348, 313, 278}, {158, 79, 297, 496}}},
      {7, 5, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 8, {{0, 1, 5, 5}, {3, 2, 2, 2}, {2, 4, 2, 2}, {0, 2, 5, 4}}},
      {20, 300, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, 9, {{136, 0, 27, 20}, {136, 0, 27, 20}, {136, 0, 27, 20}, {136, 0, 27, 20}}},
      {4000, 3000, 0.9, 1.0, 0.2, 5.0, 10, {{0, 0, 3000, 4000}, {87, 88, 2796, 3905}, {0, 0, 3000, 4000}, {0, 0, 3000, 4000}}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rng r = {cases[i].seed, 0};
    for (int k = 0; k < 4; k++) {
      pv_crop c;
      pv__rrc_params(cases[i].W, cases[i].H, cases[i].s0, cases[i].s1, cases[i].r0, cases[i].r1,
                     rng_uniform, &r, &c);
      const uint32_t *e = cases[i].yxhw[k];
      if (c.y != e[0] || c.x != e[1] || c.h != e[2] || c.w != e[3]) {
        print_error("case %zu draw %d: got (%u,%u,%u,%u) expected (%u,%u,%u,%u)\n", i, k, c.y,
                    c.x, c.h, c.w, e[0], e[1], e[2], e[3]);
        fail();
      }
    }
  }
}

/* ---- eval geometry --------------------------------------------------------------- */

/* Expected values from a transcription of torchvision's
 * _compute_resized_output_size (long side int(size * long / short)) and
 * F.center_crop (zero padding (c - n) // 2 on the left/top when the crop is
 * larger, else int(round((n - c) / 2.0)) with Python's ties-to-even). */
static void test_eval_geometry(void **state) {
  (void)state;
  static const struct {
    uint32_t w, h, size, cw, ch;
    pv_eval_geom g;
  } cases[] = {
      {500, 375, 256, 224, 224, {341, 256, 58, 16}},
      {375, 500, 256, 224, 224, {256, 341, 16, 58}},
      {256, 256, 256, 224, 224, {256, 256, 16, 16}},
      {341, 256, 256, 224, 224, {341, 256, 58, 16}},
      {257, 333, 256, 224, 224, {256, 331, 16, 54}},
      {100, 50, 0, 224, 224, {100, 50, -62, -87}},
      {640, 480, 200, 224, 224, {266, 200, 21, -12}},
      {301, 200, 0, 224, 224, {301, 200, 38, -12}},
      {333, 1000, 256, 224, 224, {256, 768, 16, 272}},
      {1000, 3, 256, 224, 224, {85333, 256, 42554, 16}},
      {4000, 3000, 480, 320, 200, {640, 480, 160, 140}},
      {225, 227, 0, 224, 224, {225, 227, 0, 2}}, /* round(0.5) = 0, round(1.5) = 2 */
      {10, 10, 0, 11, 13, {10, 10, 0, -1}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pv_eval_geom g;
    pv__eval_geometry(cases[i].w, cases[i].h, cases[i].size, cases[i].cw, cases[i].ch, &g);
    if (g.rw != cases[i].g.rw || g.rh != cases[i].g.rh || g.cx != cases[i].g.cx ||
        g.cy != cases[i].g.cy) {
      print_error("case %zu: got %ux%u at (%d,%d)\n", i, g.rw, g.rh, g.cx, g.cy);
      fail();
    }
  }
}

/* ---- train path ---------------------------------------------------------------- */

typedef struct jpeg_case {
  uint32_t w, h;
  int samp;
  uint32_t out_w, out_h;
} jpeg_case;

/* Partial decode (crop, skip, DCT scaling) against the full-decode
 * reference on many boxes: RRC boxes, whole image, boxes touching every
 * edge, tiny boxes; flip on and off. */
static void test_partial_matches_full(void **state) {
  (void)state;
  static const jpeg_case cases[] = {
      {341, 256, TJSAMP_420, 224, 224}, {256, 341, TJSAMP_420, 224, 224},
      {257, 333, TJSAMP_420, 224, 224}, {301, 203, TJSAMP_444, 224, 224},
      {256, 341, TJSAMP_GRAY, 224, 224}, {333, 257, TJSAMP_422, 224, 224},
      {341, 256, TJSAMP_420, 64, 64},   /* DCT scaling num/8 < 1 */
      {1003, 751, TJSAMP_420, 224, 224}, /* DCT scaling on a large record */
      {257, 333, TJSAMP_GRAY, 100, 37},  {47, 33, TJSAMP_420, 224, 224},
  };
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  rng r = {99, 0};
  double worst_psnr[2] = {99, 99}, worst_mad[2] = {0, 0};
  int scaled = 0;
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const jpeg_case *jc = &cases[ci];
    uint8_t *rgb = smooth_rgb(jc->w, jc->h, (uint32_t)ci);
    uint32_t len;
    uint8_t *jpg = encode(rgb, jc->w, jc->h, jc->samp, 95, &len);
    pv_record rec = make_record(jpg, len, jc->w, jc->h, PV_CODEC_JPEG);
    const size_t n = (size_t)jc->out_w * jc->out_h * 3;
    uint8_t *a = malloc(n), *b = malloc(n), *c = malloc(n);
    assert_true(a && b && c);
    for (int k = 0; k < 60; k++) {
      pv_crop box;
      switch (k % 6) {
      case 0: box = (pv_crop){0, 0, jc->w, jc->h}; break;
      case 1: /* touching the right and bottom edges */
        box.w = 1 + rng_below(&r, jc->w);
        box.h = 1 + rng_below(&r, jc->h);
        box.x = jc->w - box.w;
        box.y = jc->h - box.h;
        break;
      case 2: /* touching the left and top edges */
        box.w = 1 + rng_below(&r, jc->w);
        box.h = 1 + rng_below(&r, jc->h);
        box.x = box.y = 0;
        break;
      case 3: /* small */
        box.w = 1 + rng_below(&r, jc->w < 9 ? jc->w : 9);
        box.h = 1 + rng_below(&r, jc->h < 9 ? jc->h : 9);
        box.x = rng_below(&r, jc->w - box.w + 1);
        box.y = rng_below(&r, jc->h - box.h + 1);
        break;
      default:
        pv__rrc_params(jc->w, jc->h, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &box);
      }
      const int flip = k % 2;
      const pv_filter f = (pv_filter)(k % 3);
      /* DCT scaling applies when 7/8 of the box still covers the output. */
      const int dct = (uint64_t)box.w * 7 >= (uint64_t)jc->out_w * 8 &&
                      (uint64_t)box.h * 7 >= (uint64_t)jc->out_h * 8;
      scaled += dct;
      assert_int_equal(pv__sample_crop(s, &rec, box, jc->out_w, jc->out_h, flip, f, 0, a,
                                       (size_t)jc->out_w * 3),
                       PV_OK);
      assert_int_equal(pv__sample_crop(s, &rec, box, jc->out_w, jc->out_h, flip, f, 1, b,
                                       (size_t)jc->out_w * 3),
                       PV_OK);
      double mad, psnr;
      compare(a, b, n, &mad, &psnr);
      if (psnr < worst_psnr[dct]) worst_psnr[dct] = psnr;
      if (mad > worst_mad[dct]) worst_mad[dct] = mad;
      /* Without DCT scaling the partial decode gives the full decode's
       * bytes. With it, the box edges move by up to half a scaled pixel (at
       * most half an output pixel), which on these gradients costs up to
       * ~2.5 levels on average. */
      if (dct ? !(mad < 3.0 && psnr > 35.0) : memcmp(a, b, n) != 0) {
        print_error("%ux%u samp %d box (%u,%u %ux%u) -> %ux%u flip %d: mad %.3f psnr %.2f\n",
                    jc->w, jc->h, jc->samp, box.x, box.y, box.w, box.h, jc->out_w, jc->out_h,
                    flip, mad, psnr);
        fail();
      }
      /* flip is exactly the mirror of the unflipped output */
      assert_int_equal(pv__sample_crop(s, &rec, box, jc->out_w, jc->out_h, !flip, f, 0, c,
                                       (size_t)jc->out_w * 3),
                       PV_OK);
      mirror(c, jc->out_w, jc->out_h);
      assert_memory_equal(a, c, n);
    }
    free(a);
    free(b);
    free(c);
    free(jpg);
    free(rgb);
  }
  assert_true(scaled > 0);
  print_message("partial vs full decode, worst mean abs diff / PSNR: %.3f / %.2f dB at full "
                "scale, %.3f / %.2f dB with DCT scaling (%d boxes)\n",
                worst_mad[0], worst_psnr[0], worst_mad[1], worst_psnr[1], scaled);
  pv__sampler_destroy(s);
}

/* full_decode = 1 is exactly TurboJPEG's full decode + crop + resize. */
static void test_full_decode_is_reference(void **state) {
  (void)state;
  pv_sampler *s;
  pv_resampler *rs;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  assert_int_equal(pv__resampler_create(&rs), PV_OK);
  const uint32_t W = 341, H = 256;
  uint8_t *rgb = pvt_pattern_rgb(W, H, 3);
  assert_non_null(rgb);
  uint32_t len;
  uint8_t *jpg = encode(rgb, W, H, TJSAMP_420, 90, &len);
  uint8_t *px = tj_decode(jpg, len, W, H);
  pv_record rec = make_record(jpg, len, W, H, PV_CODEC_JPEG);
  rng r = {5, 0};
  const uint32_t ow = 224, oh = 224;
  uint8_t *a = malloc(ow * oh * 3), *b = malloc(ow * oh * 3);
  assert_true(a && b);
  for (int k = 0; k < 20; k++) {
    pv_crop box;
    pv__rrc_params(W, H, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &box);
    assert_int_equal(pv__sample_crop(s, &rec, box, ow, oh, 0, PV_FILTER_BILINEAR, 1, a, ow * 3),
                     PV_OK);
    assert_int_equal(pv__resample_rgb8(rs, PV_FILTER_BILINEAR, px, W, H, W * 3, box.x, box.y,
                                       box.w, box.h, b, ow, oh, ow * 3),
                     PV_OK);
    assert_memory_equal(a, b, ow * oh * 3);
  }
  free(a);
  free(b);
  free(px);
  free(jpg);
  free(rgb);
  pv__resampler_destroy(rs);
  pv__sampler_destroy(s);
}

/* RAW and ZSTD records: exactly the resampler on the pixels, flipped or not,
 * into a strided destination whose padding stays untouched. */
static void test_raw_zstd_exact(void **state) {
  (void)state;
  pv_sampler *s;
  pv_resampler *rs;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  assert_int_equal(pv__resampler_create(&rs), PV_OK);
  const uint32_t W = 97, H = 61;
  uint8_t *rgb = pvt_pattern_rgb(W, H, 11);
  assert_non_null(rgb);
  const size_t raw = (size_t)W * H * 3;
  size_t zcap = ZSTD_compressBound(raw);
  uint8_t *z = malloc(zcap);
  assert_non_null(z);
  size_t zlen = ZSTD_compress(z, zcap, rgb, raw, 3);
  assert_false(ZSTD_isError(zlen));
  pv_record recs[2] = {make_record(rgb, (uint32_t)raw, W, H, PV_CODEC_RAW),
                       make_record(z, (uint32_t)zlen, W, H, PV_CODEC_ZSTD)};
  const uint32_t ow = 32, oh = 40;
  const size_t stride = ow * 3 + 5;
  uint8_t *a = malloc(stride * oh), *b = malloc((size_t)ow * oh * 3);
  assert_true(a && b);
  rng r = {17, 0};
  for (int k = 0; k < 40; k++) {
    pv_crop box;
    pv__rrc_params(W, H, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &box);
    if (k == 0) box = (pv_crop){0, 0, W, H};
    const int flip = k % 2;
    memset(a, 0xEE, stride * oh);
    assert_int_equal(pv__sample_crop(s, &recs[k % 2 ? 1 : 0], box, ow, oh, flip,
                                     PV_FILTER_BICUBIC, k % 4 >= 2, a, stride),
                     PV_OK);
    assert_int_equal(pv__resample_rgb8(rs, PV_FILTER_BICUBIC, rgb, W, H, W * 3, box.x, box.y,
                                       box.w, box.h, b, ow, oh, ow * 3),
                     PV_OK);
    if (flip) mirror(b, ow, oh);
    for (uint32_t y = 0; y < oh; y++) {
      assert_memory_equal(a + y * stride, b + (size_t)y * ow * 3, ow * 3);
      for (int p = 0; p < 5; p++) assert_int_equal(a[y * stride + ow * 3 + p], 0xEE);
    }
  }
  /* Pipeline "none": the whole record at its own size is the record. */
  uint8_t *c = malloc(raw);
  assert_non_null(c);
  assert_int_equal(pv__sample_crop(s, &recs[1], (pv_crop){0, 0, W, H}, W, H, 0,
                                   PV_FILTER_LANCZOS, 0, c, W * 3),
                   PV_OK);
  assert_memory_equal(c, rgb, raw);
  free(c);
  free(a);
  free(b);
  free(z);
  free(rgb);
  pv__resampler_destroy(rs);
  pv__sampler_destroy(s);
}

/* ---- eval path ------------------------------------------------------------------- */

/* Expected eval output from full pixels: resize the whole to rw x rh with
 * the resampler (or not, when the size is already right), then the
 * zero-padded window. */
static void eval_reference(const uint8_t *px, uint32_t w, uint32_t h, uint32_t size,
                           uint32_t ow, uint32_t oh, pv_filter f, uint8_t *out) {
  pv_eval_geom g;
  pv__eval_geometry(w, h, size, ow, oh, &g);
  uint8_t *res = malloc((size_t)g.rw * g.rh * 3);
  assert_non_null(res);
  if (g.rw == w && g.rh == h) {
    memcpy(res, px, (size_t)w * h * 3);
  } else {
    pv_resampler *rs;
    assert_int_equal(pv__resampler_create(&rs), PV_OK);
    assert_int_equal(pv__resample_rgb8(rs, f, px, w, h, w * 3, 0, 0, w, h, res, g.rw, g.rh,
                                       (size_t)g.rw * 3),
                     PV_OK);
    pv__resampler_destroy(rs);
  }
  for (uint32_t y = 0; y < oh; y++)
    for (uint32_t x = 0; x < ow; x++) {
      int64_t sx = (int64_t)g.cx + x, sy = (int64_t)g.cy + y;
      uint8_t *o = out + ((size_t)y * ow + x) * 3;
      if (sx < 0 || sy < 0 || sx >= g.rw || sy >= g.rh) o[0] = o[1] = o[2] = 0;
      else memcpy(o, res + ((size_t)sy * g.rw + (size_t)sx) * 3, 3);
    }
  free(res);
}

/* Records already at the resized size: the output is the full decode's
 * bytes, window only, zero padding included; for every codec. */
static void test_eval_fast_path_exact(void **state) {
  (void)state;
  static const struct {
    uint32_t w, h, size, ow, oh;
    int samp;
  } cases[] = {
      {341, 256, 256, 224, 224, TJSAMP_420}, {256, 341, 256, 224, 224, TJSAMP_420},
      {256, 256, 256, 224, 224, TJSAMP_444}, {256, 331, 256, 224, 224, TJSAMP_GRAY},
      {100, 50, 0, 224, 224, TJSAMP_420},    {301, 200, 0, 224, 224, TJSAMP_422},
      {225, 227, 0, 224, 224, TJSAMP_420},   {333, 257, 0, 17, 300, TJSAMP_420},
      {40, 30, 0, 8, 8, TJSAMP_420},
  };
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const uint32_t w = cases[i].w, h = cases[i].h, ow = cases[i].ow, oh = cases[i].oh;
    uint8_t *rgb = pvt_pattern_rgb(w, h, (uint32_t)i);
    assert_non_null(rgb);
    uint32_t len;
    uint8_t *jpg = encode(rgb, w, h, cases[i].samp, 90, &len);
    uint8_t *px = tj_decode(jpg, len, w, h);
    const size_t raw = (size_t)w * h * 3, n = (size_t)ow * oh * 3;
    uint8_t *z = malloc(ZSTD_compressBound(raw));
    assert_non_null(z);
    size_t zlen = ZSTD_compress(z, ZSTD_compressBound(raw), rgb, raw, 1);
    assert_false(ZSTD_isError(zlen));
    uint8_t *exp_jpg = malloc(n), *exp_raw = malloc(n), *got = malloc(n);
    assert_true(exp_jpg && exp_raw && got);
    eval_reference(px, w, h, cases[i].size, ow, oh, PV_FILTER_BILINEAR, exp_jpg);
    eval_reference(rgb, w, h, cases[i].size, ow, oh, PV_FILTER_BILINEAR, exp_raw);
    pv_record recs[3] = {make_record(jpg, len, w, h, PV_CODEC_JPEG),
                         make_record(rgb, (uint32_t)raw, w, h, PV_CODEC_RAW),
                         make_record(z, (uint32_t)zlen, w, h, PV_CODEC_ZSTD)};
    for (int k = 0; k < 3; k++) {
      memset(got, 0x77, n);
      assert_int_equal(pv__sample_eval(s, &recs[k], cases[i].size, ow, oh, PV_FILTER_BILINEAR,
                                       got, (size_t)ow * 3),
                       PV_OK);
      if (memcmp(got, k == 0 ? exp_jpg : exp_raw, n) != 0) {
        print_error("case %zu codec %d: eval fast path differs\n", i, k);
        fail();
      }
    }
    free(exp_jpg);
    free(exp_raw);
    free(got);
    free(z);
    free(px);
    free(jpg);
    free(rgb);
  }
  pv__sampler_destroy(s);
}

/* Records that need the resize: RAW/ZSTD exact, JPEG (DCT-scaled decode)
 * close to the full-size reference. */
static void test_eval_resize(void **state) {
  (void)state;
  static const struct {
    uint32_t w, h, size, ow, oh;
  } cases[] = {
      {500, 375, 256, 224, 224}, {375, 500, 256, 224, 224}, {1003, 751, 256, 224, 224},
      {640, 480, 200, 224, 224}, {200, 150, 256, 224, 224}, /* upscale */
      {4000, 300, 128, 112, 112},
  };
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const uint32_t w = cases[i].w, h = cases[i].h, ow = cases[i].ow, oh = cases[i].oh;
    uint8_t *rgb = smooth_rgb(w, h, (uint32_t)i);
    uint32_t len;
    uint8_t *jpg = encode(rgb, w, h, TJSAMP_420, 95, &len);
    uint8_t *px = tj_decode(jpg, len, w, h);
    const size_t raw = (size_t)w * h * 3, n = (size_t)ow * oh * 3;
    uint8_t *exp_jpg = malloc(n), *exp_raw = malloc(n), *got = malloc(n);
    assert_true(exp_jpg && exp_raw && got);
    const pv_filter f = (pv_filter)(i % 3);
    eval_reference(px, w, h, cases[i].size, ow, oh, f, exp_jpg);
    eval_reference(rgb, w, h, cases[i].size, ow, oh, f, exp_raw);
    pv_record rr = make_record(rgb, (uint32_t)raw, w, h, PV_CODEC_RAW);
    assert_int_equal(pv__sample_eval(s, &rr, cases[i].size, ow, oh, f, got, (size_t)ow * 3),
                     PV_OK);
    assert_memory_equal(got, exp_raw, n);
    pv_record rj = make_record(jpg, len, w, h, PV_CODEC_JPEG);
    assert_int_equal(pv__sample_eval(s, &rj, cases[i].size, ow, oh, f, got, (size_t)ow * 3),
                     PV_OK);
    double mad, psnr;
    compare(got, exp_jpg, n, &mad, &psnr);
    if (!(mad < 2.0 && psnr > 35.0)) {
      print_error("case %zu: eval resize mad %.3f psnr %.2f\n", i, mad, psnr);
      fail();
    }
    free(exp_jpg);
    free(exp_raw);
    free(got);
    free(px);
    free(jpg);
    free(rgb);
  }
  pv__sampler_destroy(s);
}

/* The eval path as it was before it computed only the crop's window (the
 * reference the new path must reproduce byte for byte): the record decoded
 * whole (JPEG: libjpeg at the smallest DCT scale n/8, n in 1..7, that still
 * covers the resized size, else 8/8; ISLOW, fancy upsampling), resized whole
 * to rw x rh, then the zero-padded window. */
typedef struct old_jerr {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
} old_jerr;
static void old_on_error(j_common_ptr c) { longjmp(((old_jerr *)c->err)->jb, 1); }

static uint8_t *old_scaled_decode(const uint8_t *jpg, uint32_t len, int num, uint32_t *pw,
                                  uint32_t *ph) {
  struct jpeg_decompress_struct ci;
  old_jerr e;
  ci.err = jpeg_std_error(&e.pub);
  e.pub.error_exit = old_on_error;
  uint8_t *volatile px = NULL;
  if (setjmp(e.jb)) {
    jpeg_destroy_decompress(&ci);
    free(px);
    fail_msg("reference decode failed");
  }
  jpeg_create_decompress(&ci);
  jpeg_mem_src(&ci, jpg, len);
  jpeg_read_header(&ci, TRUE);
  ci.out_color_space = JCS_RGB;
  ci.dct_method = JDCT_ISLOW;
  ci.do_fancy_upsampling = TRUE;
  ci.scale_num = (unsigned)num;
  ci.scale_denom = 8;
  jpeg_start_decompress(&ci);
  *pw = ci.output_width;
  *ph = ci.output_height;
  px = malloc((size_t)*pw * *ph * 3);
  assert_non_null(px);
  while (ci.output_scanline < ci.output_height) {
    JSAMPROW row = px + (size_t)ci.output_scanline * *pw * 3;
    jpeg_read_scanlines(&ci, &row, 1);
  }
  jpeg_finish_decompress(&ci);
  jpeg_destroy_decompress(&ci);
  return px;
}

static void old_eval(const pv_record *rec, const uint8_t *rgb, uint32_t size, uint32_t ow,
                     uint32_t oh, pv_filter f, uint8_t *out) {
  pv_eval_geom g;
  pv__eval_geometry(rec->width, rec->height, size, ow, oh, &g);
  const uint8_t *px = rgb;
  uint8_t *dec = NULL;
  uint32_t pw = rec->width, ph = rec->height;
  if (rec->codec == PV_CODEC_JPEG) {
    int num = 8;
    for (int n = 1; n < 8; n++)
      if ((rec->width * (uint32_t)n + 7) / 8 >= g.rw && (rec->height * (uint32_t)n + 7) / 8 >= g.rh) {
        num = n;
        break;
      }
    px = dec = old_scaled_decode(rec->data, rec->length, num, &pw, &ph);
  }
  uint8_t *res = malloc((size_t)g.rw * g.rh * 3);
  assert_non_null(res);
  pv_resampler *rs;
  assert_int_equal(pv__resampler_create(&rs), PV_OK);
  assert_int_equal(pv__resample_rgb8(rs, f, px, pw, ph, (size_t)pw * 3, 0, 0, pw, ph, res, g.rw,
                                     g.rh, (size_t)g.rw * 3),
                   PV_OK);
  pv__resampler_destroy(rs);
  for (uint32_t y = 0; y < oh; y++)
    for (uint32_t x = 0; x < ow; x++) {
      int64_t sx = (int64_t)g.cx + x, sy = (int64_t)g.cy + y;
      uint8_t *o = out + ((size_t)y * ow + x) * 3;
      if (sx < 0 || sy < 0 || sx >= g.rw || sy >= g.rh) o[0] = o[1] = o[2] = 0;
      else memcpy(o, res + ((size_t)sy * g.rw + (size_t)sx) * 3, 3);
    }
  free(res);
  free(dec);
}

/* Item 7 of issue 9: the eval path now computes only the crop's window of
 * the resize; for ordinary images its bytes are those of the old
 * resize-everything-then-crop path, for every codec, filter, and the
 * padded (crop larger than the image) case. */
static void test_eval_window_matches_old_path(void **state) {
  (void)state;
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  uint32_t seed = 99;
#define RND(n) (seed = seed * 1103515245u + 12345u, (seed >> 8) % (n))
  int resized = 0;
  for (int it = 0; it < 120; it++) {
    const uint32_t w = 8 + RND(500), h = 8 + RND(400);
    uint32_t size = 16 + RND(300);
    const uint32_t ow = 8 + RND(240), oh = it % 4 ? ow : 8 + RND(240);
    if (it == 0) size = 256; /* the default: 256 then 224 */
    const pv_filter f = (pv_filter)(it % 3);
    uint8_t *rgb = it % 2 ? smooth_rgb(w, h, (uint32_t)it) : pvt_pattern_rgb(w, h, (uint32_t)it);
    assert_non_null(rgb);
    const size_t raw = (size_t)w * h * 3, n = (size_t)ow * oh * 3;
    uint32_t jlen;
    uint8_t *jpg = encode(rgb, w, h, it % 3 == 0 ? TJSAMP_444 : TJSAMP_420, 90, &jlen);
    uint8_t *z = malloc(ZSTD_compressBound(raw));
    assert_non_null(z);
    const size_t zlen = ZSTD_compress(z, ZSTD_compressBound(raw), rgb, raw, 1);
    assert_false(ZSTD_isError(zlen));
    pv_record recs[3] = {make_record(jpg, jlen, w, h, PV_CODEC_JPEG),
                         make_record(rgb, (uint32_t)raw, w, h, PV_CODEC_RAW),
                         make_record(z, (uint32_t)zlen, w, h, PV_CODEC_ZSTD)};
    pv_eval_geom g;
    pv__eval_geometry(w, h, size, ow, oh, &g);
    resized += g.rw != w || g.rh != h;
    uint8_t *want = malloc(n), *got = malloc(n);
    assert_true(want && got);
    for (int k = 0; k < 3; k++) {
      old_eval(&recs[k], rgb, size, ow, oh, f, want);
      memset(got, 0x77, n);
      assert_int_equal(pv__sample_eval(s, &recs[k], size, ow, oh, f, got, (size_t)ow * 3), PV_OK);
      if (memcmp(got, want, n)) {
        print_error("it %d: %ux%u codec %d Resize(%u) + CenterCrop(%ux%u) filter %d differs\n",
                    it, w, h, recs[k].codec, size, ow, oh, (int)f);
        fail();
      }
    }
    free(want);
    free(got);
    free(z);
    free(jpg);
    free(rgb);
  }
#undef RND
  assert_true(resized > 100); /* the general (resizing) path, not the fast one */
  pv__sampler_destroy(s);
}

/* ---- errors ---------------------------------------------------------------------- */

/* Truncated and damaged JPEGs: PV_ERR_DECODE with a reason, never a crash,
 * and the sampler keeps working afterwards. */
static void test_corrupt_jpeg(void **state) {
  (void)state;
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  const uint32_t W = 256, H = 192, ow = 64, oh = 64;
  uint8_t *rgb = pvt_pattern_rgb(W, H, 2);
  assert_non_null(rgb);
  uint32_t len;
  uint8_t *jpg = encode(rgb, W, H, TJSAMP_420, 90, &len);
  uint8_t *out = malloc(ow * oh * 3);
  assert_non_null(out);
  const pv_crop whole = {0, 0, W, H};
  for (uint32_t cut = 0; cut < len; cut += (cut < 700 ? 1 : 97)) {
    pv_record rec = make_record(jpg, cut, W, H, PV_CODEC_JPEG);
    for (int mode = 0; mode < 3; mode++) {
      pv_status st = mode == 2 ? pv__sample_eval(s, &rec, 0, ow, oh, PV_FILTER_BILINEAR, out,
                                                 ow * 3)
                               : pv__sample_crop(s, &rec, whole, ow, oh, 0, PV_FILTER_BILINEAR,
                                                 mode, out, ow * 3);
      if (cut < len / 2 || mode == 1) {
        if (st != PV_ERR_DECODE) {
          print_error("cut %u mode %d: status %d\n", cut, mode, st);
          fail();
        }
        assert_true(strlen(pv__sampler_last_error(s)) > 0);
      } else {
        assert_true(st == PV_OK || st == PV_ERR_DECODE);
      }
    }
  }
  /* Damaged bytes (a mutation per round): never a crash. */
  uint8_t *bad = malloc(len);
  assert_non_null(bad);
  rng r = {3, 0};
  for (int k = 0; k < 300; k++) {
    memcpy(bad, jpg, len);
    for (int m = 0; m < 1 + k % 4; m++) bad[rng_below(&r, len)] = (uint8_t)rng_next(&r);
    pv_record rec = make_record(bad, len, W, H, PV_CODEC_JPEG);
    pv_crop box;
    pv__rrc_params(W, H, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &box);
    pv_status st = pv__sample_crop(s, &rec, box, ow, oh, k % 2, PV_FILTER_BILINEAR, 0, out,
                                   ow * 3);
    assert_true(st == PV_OK || st == PV_ERR_DECODE);
  }
  /* Not a JPEG at all, and a JPEG whose size disagrees with the record. */
  pv_record junk = make_record(rgb, 1000, W, H, PV_CODEC_JPEG);
  assert_int_equal(pv__sample_crop(s, &junk, whole, ow, oh, 0, PV_FILTER_BILINEAR, 0, out, ow * 3),
                   PV_ERR_DECODE);
  pv_record wrong = make_record(jpg, len, W + 1, H, PV_CODEC_JPEG);
  assert_int_equal(pv__sample_crop(s, &wrong, whole, ow, oh, 0, PV_FILTER_BILINEAR, 0, out, ow * 3),
                   PV_ERR_DECODE);
  assert_non_null(strstr(pv__sampler_last_error(s), "record table"));
  /* Still works. */
  pv_record ok = make_record(jpg, len, W, H, PV_CODEC_JPEG);
  assert_int_equal(pv__sample_crop(s, &ok, whole, ow, oh, 0, PV_FILTER_BILINEAR, 0, out, ow * 3),
                   PV_OK);
  free(bad);
  free(out);
  free(jpg);
  free(rgb);
  pv__sampler_destroy(s);
}


/* ---- splicing at restart markers ------------------------------------------------ */

/* A JPEG with restart markers every `restart` MCUs: 4:2:0 from the packer's
 * encoder (restart = its restart_max), other subsamplings from TurboJPEG
 * asked through its TJ_RESTART variable ("NB" = every N MCUs). */
static uint8_t *encode_rst(const uint8_t *rgb, uint32_t w, uint32_t h, int samp,
                           uint32_t restart, uint32_t *len) {
  if (samp == TJSAMP_420) {
    pv_jpeg_encoder *e;
    assert_int_equal(pv__jpeg_encoder_create(&e), PV_OK);
    const uint8_t *d;
    size_t n;
    char err[128];
    assert_int_equal(pv__jpeg_encode(e, rgb, w, h, (size_t)w * 3, 90, restart, &d, &n, err,
                                     sizeof err),
                     PV_OK);
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, d, n);
    pv__jpeg_encoder_destroy(e);
    *len = (uint32_t)n;
    return copy;
  }
  char v[16];
  snprintf(v, sizeof v, "%uB", restart);
  setenv("TJ_RESTART", v, 1);
  uint8_t *jpg = encode(rgb, w, h, samp, 90, len);
  unsetenv("TJ_RESTART");
  return jpg;
}

/* The encoder's restart interval: the largest divisor of the MCUs per row
 * up to the maximum and to a sixteenth of the row. */
static void test_restart_interval(void **state) {
  (void)state;
  assert_int_equal(pv__jpeg_restart_interval(341, 4), 1);   /* 22 MCUs: < 32 */
  assert_int_equal(pv__jpeg_restart_interval(256, 4), 1);   /* 16 */
  assert_int_equal(pv__jpeg_restart_interval(40, 8), 1);    /* 3 MCUs */
  assert_int_equal(pv__jpeg_restart_interval(512, 4), 2);   /* 32 MCUs: 16 of 2 */
  assert_int_equal(pv__jpeg_restart_interval(600, 8), 2);   /* 38 = 2 x 19 */
  assert_int_equal(pv__jpeg_restart_interval(1024, 4), 4);  /* 64 */
  assert_int_equal(pv__jpeg_restart_interval(1536, 4), 4);  /* 96: cap 6, max 4 */
  assert_int_equal(pv__jpeg_restart_interval(1536, 5), 4);
  assert_int_equal(pv__jpeg_restart_interval(1536, 8), 6);
  assert_int_equal(pv__jpeg_restart_interval(2048, 8), 8);  /* 128 */
  assert_int_equal(pv__jpeg_restart_interval(1040, 4), 1);  /* 65 = 5 x 13: no divisor 2..4 */
  assert_int_equal(pv__jpeg_restart_interval(4000, 4), 2);  /* 250 = 2 x 5^3 */
  assert_int_equal(pv__jpeg_restart_interval(341, 0), 0);
  /* The layout parser sees what the encoder wrote. */
  uint8_t *rgb = pvt_pattern_rgb(341, 256, 1);
  uint32_t len;
  uint8_t *jpg = encode_rst(rgb, 341, 256, TJSAMP_420, 4, &len);
  pv_jpeg_layout L;
  assert_int_equal(pv__jpeg_layout(jpg, len, &L), 1);
  assert_int_equal(L.width, 341);
  assert_int_equal(L.height, 256);
  assert_int_equal(L.mcu_w, 16);
  assert_int_equal(L.mcu_h, 16);
  assert_int_equal(L.mcus_per_row, 22);
  assert_int_equal(L.mcu_rows, 16);
  assert_int_equal(L.restart, 1); /* 22 MCUs: fewer than 16 x 2 */
  free(jpg);
  /* A row long enough for the maximum: 64 MCUs, 16 intervals of 4. */
  uint8_t *wide = pvt_pattern_rgb(1024, 48, 2);
  jpg = encode_rst(wide, 1024, 48, TJSAMP_420, 4, &len);
  assert_int_equal(pv__jpeg_layout(jpg, len, &L), 1);
  assert_int_equal(L.mcus_per_row, 64);
  assert_int_equal(L.restart, 4);
  free(wide);
  free(jpg);
  /* Without restart markers, or with an interval that does not divide the
   * row, the JPEG is not spliceable. */
  jpg = encode_rst(rgb, 341, 256, TJSAMP_420, 0, &len);
  assert_int_equal(pv__jpeg_layout(jpg, len, &L), 0);
  free(jpg);
  jpg = encode_rst(rgb, 341, 256, TJSAMP_444, 3, &len); /* 43 MCUs of 8 */
  assert_int_equal(pv__jpeg_layout(jpg, len, &L), 0);
  free(jpg);
  free(rgb);
}

/* Decoding from a splice gives exactly the bytes of the plain partial
 * decode (itself the full decode's bytes at full scale), for every
 * subsampling, restart interval, scale, filter, flip and box position. */
static void test_splice_matches_plain(void **state) {
  (void)state;
  typedef struct {
    uint32_t w, h;
    int samp;
    uint32_t restart;
    uint32_t out_w, out_h;
  } sc;
  static const sc cases[] = {
      {341, 256, TJSAMP_420, 4, 224, 224}, {256, 341, TJSAMP_420, 4, 224, 224},
      {272, 257, TJSAMP_420, 1, 224, 224}, {333, 250, TJSAMP_420, 8, 64, 64},
      {1003, 751, TJSAMP_420, 4, 224, 224}, {300, 201, TJSAMP_444, 19, 224, 224},
      {333, 257, TJSAMP_422, 3, 128, 96},  {257, 333, TJSAMP_GRAY, 11, 100, 37},
      {40, 24, TJSAMP_420, 1, 224, 224},   {302, 205, TJSAMP_440, 19, 48, 48},
  };
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  rng r = {2024, 0};
  uint64_t boxes = 0;
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const sc *c = &cases[ci];
    uint8_t *rgb = pvt_pattern_rgb(c->w, c->h, (uint32_t)ci + 7);
    assert_non_null(rgb);
    uint32_t len;
    uint8_t *jpg = encode_rst(rgb, c->w, c->h, c->samp, c->restart, &len);
    pv_jpeg_layout L;
    if (!pv__jpeg_layout(jpg, len, &L)) {
      print_error("case %zu (%ux%u samp %d restart %u) is not spliceable\n", ci, c->w, c->h,
                  c->samp, c->restart);
      fail();
    }
    pv_record rec = make_record(jpg, len, c->w, c->h, PV_CODEC_JPEG);
    const size_t n = (size_t)c->out_w * c->out_h * 3;
    uint8_t *a = malloc(n), *b = malloc(n);
    assert_true(a && b);
    for (int k = 0; k < 80; k++) {
      pv_crop box;
      if (k % 4 == 3) {
        box.w = 1 + rng_below(&r, c->w);
        box.h = 1 + rng_below(&r, c->h);
        box.x = rng_below(&r, c->w - box.w + 1);
        box.y = rng_below(&r, c->h - box.h + 1);
      } else {
        pv__rrc_params(c->w, c->h, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &box);
      }
      const int flip = k % 2;
      const pv_filter f = (pv_filter)(k % 3);
      pv__sampler_set_splice(s, 1);
      assert_int_equal(pv__sample_crop(s, &rec, box, c->out_w, c->out_h, flip, f, 0, a,
                                       (size_t)c->out_w * 3),
                       PV_OK);
      pv__sampler_set_splice(s, 0);
      assert_int_equal(pv__sample_crop(s, &rec, box, c->out_w, c->out_h, flip, f, 0, b,
                                       (size_t)c->out_w * 3),
                       PV_OK);
      if (memcmp(a, b, n) != 0) {
        print_error("%ux%u samp %d restart %u box (%u,%u %ux%u) -> %ux%u: splice differs\n",
                    c->w, c->h, c->samp, c->restart, box.x, box.y, box.w, box.h, c->out_w,
                    c->out_h);
        fail();
      }
      boxes++;
    }
    /* The eval path's window decode too. */
    pv__sampler_set_splice(s, 1);
    assert_int_equal(pv__sample_eval(s, &rec, 0, c->out_w / 2 + 1, c->out_h / 2 + 1,
                                     PV_FILTER_BILINEAR, a, (size_t)c->out_w * 3),
                     PV_OK);
    pv__sampler_set_splice(s, 0);
    assert_int_equal(pv__sample_eval(s, &rec, 0, c->out_w / 2 + 1, c->out_h / 2 + 1,
                                     PV_FILTER_BILINEAR, b, (size_t)c->out_w * 3),
                     PV_OK);
    for (uint32_t y = 0; y < c->out_h / 2 + 1; y++)
      assert_memory_equal(a + (size_t)y * c->out_w * 3, b + (size_t)y * c->out_w * 3,
                          (size_t)(c->out_w / 2 + 1) * 3);
    free(a);
    free(b);
    free(jpg);
    free(rgb);
  }
  /* Most boxes are smaller than the image, so most decodes were spliced. */
  const uint64_t spliced = pv__sampler_splices(s);
  print_message("%llu boxes, %llu decodes from a splice\n", (unsigned long long)boxes,
                (unsigned long long)spliced);
  assert_true(spliced > boxes / 2);
  pv__sampler_destroy(s);
}

/* jpeg_decode=fast (pv__sampler_set_jpeg_fast): a crop is exactly
 * TurboJPEG's TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE decode of the whole
 * record, cropped and resized (the full_decode reference too), for every
 * chroma sampling, with and without restart markers and splicing, flipped
 * or not; and it is not the accurate decode (the flag takes effect), while
 * staying close to it. Boxes are never twice the output, so no DCT scaling
 * applies (num = 8: the full decode is the reference). Eval windows too. */
static void test_fast_decode_exact(void **state) {
  (void)state;
  typedef struct {
    uint32_t w, h;
    int samp;
    uint32_t restart; /* 0: plain encode at q90 */
  } fc;
  static const fc cases[] = {{200, 150, TJSAMP_420, 4}, {200, 150, TJSAMP_420, 0},
                             {181, 203, TJSAMP_422, 0}, {150, 150, TJSAMP_444, 0},
                             {170, 97, TJSAMP_440, 0},  {133, 190, TJSAMP_GRAY, 0},
                             {221, 179, TJSAMP_420, 1}};
  const uint32_t ow = 224, oh = 224;
  pv_sampler *s;
  pv_resampler *rs;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  assert_int_equal(pv__resampler_create(&rs), PV_OK);
  tjhandle tj = tjInitDecompress();
  assert_non_null(tj);
  uint8_t *a = malloc(ow * oh * 3), *b = malloc(ow * oh * 3), *c = malloc(ow * oh * 3);
  assert_true(a && b && c);
  rng r = {99, 0};
  int differs = 0;
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    const fc *k = &cases[ci];
    uint8_t *rgb = pvt_pattern_rgb(k->w, k->h, (uint32_t)ci + 21);
    uint32_t len;
    uint8_t *jpg = k->restart ? encode_rst(rgb, k->w, k->h, k->samp, k->restart, &len)
                              : encode(rgb, k->w, k->h, k->samp, 90, &len);
    uint8_t *fast = malloc((size_t)k->w * k->h * 3);
    assert_non_null(fast);
    assert_int_equal(tjDecompress2(tj, jpg, len, fast, (int)k->w, 0, (int)k->h, TJPF_RGB,
                                   TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE),
                     0);
    uint8_t *acc = tj_decode(jpg, len, k->w, k->h);
    double sse = 0;
    for (size_t q = 0; q < (size_t)k->w * k->h * 3; q++)
      sse += ((double)fast[q] - acc[q]) * ((double)fast[q] - acc[q]);
    if (sse > 0) differs = 1;
    /* Close to the accurate decode: these synthetic patterns of saturated
     * colour edges are plain upsampling's worst case (27-51 dB here; photos
     * 42 dB on average, bench/jpeg_fast_bench.c); a wrong colour conversion
     * or IDCT would be far below. */
    if (sse > 0)
      assert_true(10.0 * log10(255.0 * 255.0 * (double)k->w * k->h * 3 / sse) > 24.0);
    pv_record rec = make_record(jpg, len, k->w, k->h, PV_CODEC_JPEG);
    pv__sampler_set_jpeg_fast(s, 1);
    for (int n = 0; n < 24; n++) {
      pv_crop box;
      pv__rrc_params(k->w, k->h, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &box);
      const int flip = n % 2;
      const pv_filter f = (pv_filter)(n % 3);
      assert_int_equal((flip ? pv__resample_rgb8_flip : pv__resample_rgb8)(
                           rs, f, fast, k->w, k->h, (size_t)k->w * 3, box.x, box.y, box.w, box.h,
                           c, ow, oh, ow * 3),
                       PV_OK);
      for (int splice = 0; splice < 2; splice++) {
        pv__sampler_set_splice(s, splice);
        assert_int_equal(pv__sample_crop(s, &rec, box, ow, oh, flip, f, 0, a, ow * 3), PV_OK);
        assert_int_equal(pv__sample_crop(s, &rec, box, ow, oh, flip, f, 1, b, ow * 3), PV_OK);
        if (memcmp(a, c, ow * oh * 3) != 0 || memcmp(b, c, ow * oh * 3) != 0) {
          print_error("%ux%u samp %d restart %u box (%u,%u %ux%u) flip %d splice %d: the fast "
                      "crop is not the fast full decode's\n",
                      k->w, k->h, k->samp, k->restart, box.x, box.y, box.w, box.h, flip, splice);
          fail();
        }
      }
    }
    /* An eval window (no resize): the fast decode's pixels. */
    const uint32_t ew = k->w / 2 + 1, eh = k->h / 2 + 1;
    pv_eval_geom g;
    pv__eval_geometry(k->w, k->h, 0, ew, eh, &g);
    assert_true(g.rw == k->w && g.rh == k->h && g.cx >= 0 && g.cy >= 0);
    const uint32_t cx = (uint32_t)g.cx, cy = (uint32_t)g.cy;
    for (int splice = 0; splice < 2; splice++) {
      pv__sampler_set_splice(s, splice);
      assert_int_equal(pv__sample_eval(s, &rec, 0, ew, eh, PV_FILTER_BILINEAR, a, (size_t)ew * 3),
                       PV_OK);
      for (uint32_t y = 0; y < eh; y++)
        if (memcmp(a + (size_t)y * ew * 3, fast + ((size_t)(cy + y) * k->w + cx) * 3,
                   (size_t)ew * 3) != 0) {
          print_error("%ux%u samp %d: eval window row %u is not the fast decode's\n", k->w,
                      k->h, k->samp, y);
          fail();
        }
    }
    /* Off again: the accurate decode's pixels. */
    pv__sampler_set_jpeg_fast(s, 0);
    assert_int_equal(pv__sample_eval(s, &rec, 0, ew, eh, PV_FILTER_BILINEAR, a, (size_t)ew * 3),
                     PV_OK);
    for (uint32_t y = 0; y < eh; y++)
      assert_memory_equal(a + (size_t)y * ew * 3, acc + ((size_t)(cy + y) * k->w + cx) * 3,
                          (size_t)ew * 3);
    free(acc);
    free(fast);
    free(jpg);
    free(rgb);
  }
  assert_true(differs);
  free(a);
  free(b);
  free(c);
  tjDestroy(tj);
  pv__resampler_destroy(rs);
  pv__sampler_destroy(s);
}

/* Damage in a JPEG with restart markers: a misnumbered or missing marker,
 * truncation, random bytes. The splice is refused or fails to decode and
 * the plain decode decides: the same status and bytes as without splicing,
 * never a crash. */
static void test_splice_damage(void **state) {
  (void)state;
  const uint32_t W = 341, H = 256, ow = 224, oh = 224;
  uint8_t *rgb = pvt_pattern_rgb(W, H, 4);
  uint32_t len;
  uint8_t *jpg = encode_rst(rgb, W, H, TJSAMP_420, 4, &len);
  pv_jpeg_layout L;
  assert_int_equal(pv__jpeg_layout(jpg, len, &L), 1);
  uint8_t *bad = malloc(len), *a = malloc(ow * oh * 3), *b = malloc(ow * oh * 3);
  assert_true(bad && a && b);
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  /* Find the restart markers. */
  uint32_t rst[512], nrst = 0;
  for (uint32_t i = (uint32_t)L.header_len; i + 1 < len && nrst < 512; i++)
    if (jpg[i] == 0xFF && jpg[i + 1] >= 0xD0 && jpg[i + 1] <= 0xD7) rst[nrst++] = i;
  assert_int_equal(nrst, L.mcus_per_row / L.restart * L.mcu_rows - 1);
  rng r = {77, 0};
  pv_jpeg_splice_buf sb = {0};
  for (int k = 0; k < 400; k++) {
    memcpy(bad, jpg, len);
    uint32_t blen = len;
    switch (k % 4) {
    case 0: bad[rst[rng_below(&r, nrst)] + 1] ^= 0x01; break; /* misnumbered */
    case 1: bad[rst[rng_below(&r, nrst)] + 1] = 0x00; break;  /* marker gone */
    case 2: blen = (uint32_t)L.header_len + rng_below(&r, len - (uint32_t)L.header_len); break;
    default:
      for (int m = 0; m < 1 + k % 3; m++) bad[rng_below(&r, len)] = (uint8_t)rng_next(&r);
    }
    pv_record rec = make_record(bad, blen, W, H, PV_CODEC_JPEG);
    pv_crop box;
    pv__rrc_params(W, H, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &r, &box);
    pv__sampler_set_splice(s, 1);
    pv_status sa = pv__sample_crop(s, &rec, box, ow, oh, 0, PV_FILTER_BILINEAR, 0, a, ow * 3);
    assert_true(sa == PV_OK || sa == PV_ERR_DECODE);
    pv__sampler_set_splice(s, 0);
    pv_status sb2 = pv__sample_crop(s, &rec, box, ow, oh, 0, PV_FILTER_BILINEAR, 0, b, ow * 3);
    assert_true(sb2 == PV_OK || sb2 == PV_ERR_DECODE);
    /* Where both decode, they agree unless the damage lies outside the
     * spliced rectangle but inside what the plain decode reads (rows above
     * the box): then the plain decode fails and the splice need not. */
    if (sa == PV_OK && sb2 == PV_OK) assert_memory_equal(a, b, ow * oh * 3);
    if (k % 4 < 2) {
      /* A broken marker sequence: splices that reach past it are refused. */
      pv_jpeg_layout L2;
      if (pv__jpeg_layout(bad, blen, &L2)) {
        size_t olen;
        uint32_t w, h;
        assert_int_equal(pv__jpeg_splice(bad, blen, &L2, 0, L2.mcus_per_row, L2.mcu_rows - 1,
                                         L2.mcu_rows, &sb, &olen, &w, &h),
                         0);
      }
    }
  }
  /* Arguments the splicer refuses. */
  size_t olen;
  uint32_t w, h;
  assert_int_equal(pv__jpeg_splice(jpg, len, &L, 0, 0, 0, 1, &sb, &olen, &w, &h), 0);
  {
    /* Columns off the restart grid (intervals of 4 MCUs: a 1024-wide row). */
    uint8_t *wrgb = pvt_pattern_rgb(1024, 32, 5);
    uint32_t wlen;
    uint8_t *wide = encode_rst(wrgb, 1024, 32, TJSAMP_420, 4, &wlen);
    pv_jpeg_layout WL;
    assert_int_equal(pv__jpeg_layout(wide, wlen, &WL), 1);
    assert_int_equal(WL.restart, 4);
    assert_int_equal(pv__jpeg_splice(wide, wlen, &WL, 1, 4, 0, 1, &sb, &olen, &w, &h), 0);
    assert_int_equal(pv__jpeg_splice(wide, wlen, &WL, 0, 6, 0, 1, &sb, &olen, &w, &h), 0);
    assert_int_equal(pv__jpeg_splice(wide, wlen, &WL, 4, 8, 0, 1, &sb, &olen, &w, &h), 1);
    free(wide);
    free(wrgb);
  }
  assert_int_equal(pv__jpeg_splice(jpg, len, &L, 0, 2, 3, 3, &sb, &olen, &w, &h), 0);
  assert_int_equal(
      pv__jpeg_splice(jpg, len, &L, 0, L.mcus_per_row + 2, 0, 1, &sb, &olen, &w, &h), 0);
  /* A splice of everything is a valid JPEG of the same image. */
  assert_int_equal(pv__jpeg_splice(jpg, len, &L, 0, L.mcus_per_row, 0, L.mcu_rows, &sb, &olen,
                                   &w, &h),
                   1);
  assert_int_equal(w, W);
  assert_int_equal(h, H);
  uint8_t *p1 = tj_decode(jpg, len, W, H), *p2 = tj_decode(sb.out, (uint32_t)olen, W, H);
  assert_memory_equal(p1, p2, (size_t)W * H * 3);
  /* And a corner of it decodes to the corner of the image. */
  assert_int_equal(pv__jpeg_splice(jpg, len, &L, 2, 6, 3, 9, &sb, &olen, &w, &h), 1);
  assert_int_equal(w, 64);
  assert_int_equal(h, 96);
  uint8_t *p3 = tj_decode(sb.out, (uint32_t)olen, w, h);
  for (uint32_t y = 2; y < h - 2; y++) /* away from the re-upsampled edges */
    assert_memory_equal(p3 + ((size_t)y * w + 2) * 3, p1 + ((size_t)(48 + y) * W + 34) * 3,
                        (size_t)(w - 4) * 3);
  free(p1);
  free(p2);
  free(p3);
  pv__jpeg_splice_buf_free(&sb);
  pv__sampler_destroy(s);
  free(bad);
  free(a);
  free(b);
  free(jpg);
  free(rgb);
}

static void test_invalid_args(void **state) {
  (void)state;
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  const uint32_t W = 50, H = 40;
  uint8_t *rgb = pvt_pattern_rgb(W, H, 1);
  assert_non_null(rgb);
  pv_record rec = make_record(rgb, W * H * 3, W, H, PV_CODEC_RAW);
  uint8_t out[16 * 16 * 3];
  const pv_crop bad[] = {{0, 0, W + 1, H}, {1, 0, W, H}, {0, 1, W, H},     {0, 0, 0, 5},
                         {0, 0, 5, 0},     {W, 0, 1, 1}, {0, H, 1, 1},     {UINT32_MAX, 0, 2, 2},
                         {0, UINT32_MAX, 2, 2}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    for (int full = 0; full < 2; full++)
      assert_int_equal(
          pv__sample_crop(s, &rec, bad[i], 16, 16, 0, PV_FILTER_BILINEAR, full, out, 48),
          PV_ERR_INVALID_ARG);
  const pv_crop good = {0, 0, W, H};
  assert_int_equal(pv__sample_crop(s, &rec, good, 16, 16, 0, PV_FILTER_BILINEAR, 0, out, 47),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(pv__sample_crop(s, &rec, good, 0, 16, 0, PV_FILTER_BILINEAR, 0, out, 48),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(pv__sample_crop(s, NULL, good, 16, 16, 0, PV_FILTER_BILINEAR, 0, out, 48),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(pv__sample_crop(s, &rec, good, 16, 16, 0, PV_FILTER_BILINEAR, 0, NULL, 48),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(pv__sample_crop(NULL, &rec, good, 16, 16, 0, PV_FILTER_BILINEAR, 0, out, 48),
                   PV_ERR_INVALID_ARG);
  assert_int_equal(pv__sample_eval(s, &rec, 256, 16, 0, PV_FILTER_BILINEAR, out, 48),
                   PV_ERR_INVALID_ARG);
  /* A JPEG record with a box outside: refused before decoding. */
  pv_record jrec = make_record(rgb, 100, W, H, PV_CODEC_JPEG);
  assert_int_equal(pv__sample_crop(s, &jrec, bad[0], 16, 16, 0, PV_FILTER_BILINEAR, 0, out, 48),
                   PV_ERR_INVALID_ARG);
  /* Payloads that disagree with the record's size are decode errors. */
  pv_record shortraw = make_record(rgb, W * H * 3 - 1, W, H, PV_CODEC_RAW);
  assert_int_equal(pv__sample_crop(s, &shortraw, good, 16, 16, 0, PV_FILTER_BILINEAR, 0, out, 48),
                   PV_ERR_DECODE);
  assert_int_equal(pv__sample_eval(s, &shortraw, 0, 16, 16, PV_FILTER_BILINEAR, out, 48),
                   PV_ERR_DECODE);
  pv_record notzstd = make_record(rgb, 100, W, H, PV_CODEC_ZSTD);
  assert_int_equal(pv__sample_crop(s, &notzstd, good, 16, 16, 0, PV_FILTER_BILINEAR, 0, out, 48),
                   PV_ERR_DECODE);
  pv_record badcodec = make_record(rgb, W * H * 3, W, H, 9);
  assert_int_equal(pv__sample_crop(s, &badcodec, good, 16, 16, 0, PV_FILTER_BILINEAR, 0, out, 48),
                   PV_ERR_DECODE);
  assert_true(strlen(pv__sampler_last_error(s)) > 0);
  pv__sampler_destroy(s);
  pv__sampler_destroy(NULL);
  free(rgb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rrc_ranges),
      cmocka_unit_test(test_rrc_fallback),
      cmocka_unit_test(test_rrc_matches_torchvision),
      cmocka_unit_test(test_eval_geometry),
      cmocka_unit_test(test_partial_matches_full),
      cmocka_unit_test(test_full_decode_is_reference),
      cmocka_unit_test(test_fast_decode_exact),
      cmocka_unit_test(test_raw_zstd_exact),
      cmocka_unit_test(test_eval_fast_path_exact),
      cmocka_unit_test(test_eval_resize),
      cmocka_unit_test(test_eval_window_matches_old_path),
      cmocka_unit_test(test_corrupt_jpeg),
      cmocka_unit_test(test_restart_interval),
      cmocka_unit_test(test_splice_matches_plain),
      cmocka_unit_test(test_splice_damage),
      cmocka_unit_test(test_invalid_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
