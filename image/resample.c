/* resample.c - antialiased separable resize of RGB8 images (see resample.h).
 *
 * The math (written from the definitions, PIL's Image.resize with
 * reducing_gap=None is the family it matches): along one axis, an input span
 * of n_in pixels maps onto n_out output pixels with scale = n_in / n_out.
 * Output pixel i is centred at (i + 0.5) * scale in input coordinates; the
 * kernel is stretched by fscale = max(scale, 1) when shrinking, so its
 * support is S * fscale (S = 1, 2, 3 for triangle, cubic a=-0.5,
 * Lanczos-3); input pixel x (centre x + 0.5) gets weight
 * f((x + 0.5 - centre) / fscale); taps outside [0, n_in) are dropped and the
 * rest are normalised to sum 1. Weights are then rounded to Q14 integers and
 * the rounding residual is added to the largest tap, so every output's taps
 * sum exactly to 1 << 14 and a constant image stays constant.
 *
 * Unlike PIL, which lets the kernel read outside the box, the box behaves as
 * a crop: resizing box B of src equals cropping B first and resizing that
 * (torchvision's RandomResizedCrop semantics, which the loader implements).
 *
 * Pipeline: the vertical pass runs first (it shrinks the row count, so the
 * horizontal pass - the expensive one - touches fewer rows), rounding to 8
 * bits in between, as PIL does between its two passes. Output rows are made
 * in blocks of 16: the vertical pass writes 16 rows, a 16x16 byte transpose
 * turns each source byte column into a 16-byte vector, so the horizontal pass
 * becomes the same "weighted sum of byte rows" kernel as the vertical one,
 * and a second transpose writes the 16 output rows. Every step is exact
 * integer arithmetic, so the SSE2 path and the scalar reference
 * (pv__resample_rgb8_reference) give identical bytes; the test checks it.
 *
 * An axis whose size does not change has identity weights and is skipped.
 */
#include "resample.h"
#include "convert.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define PV_RS_SSE2 1
#else
#define PV_RS_SSE2 0
#endif
/* AVX2 is compiled with a function-level target attribute and chosen at run
 * time, so the build stays at the x86-64 baseline (SSE2). */
#if PV_RS_SSE2 && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PV_RS_AVX2 1
#else
#define PV_RS_AVX2 0
#endif

#define PV_RS_BITS 14                       /* fractional bits of the weights */
#define PV_RS_ONE (1 << PV_RS_BITS)
#define PV_RS_HALF (1 << (PV_RS_BITS - 1))
#define PV_RS_BLOCK 16                      /* output rows per transposed block */
#define PV_RS_MAX_DIM (1u << 20)
#define PV_RS_LUT_RES 1024                  /* filter table samples per unit */            /* keeps every size product far from overflow */

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Coefficients of one axis: output i reads n[i] consecutive input pixels from
 * start[i] with Q14 weights w[i * stride ...]; pairs[] holds the same weights
 * packed two per int32 (low half = even tap), the operand layout of pmaddwd.
 * w[n[i]] is zero, so an odd tap count pairs with a zero; slots past that are
 * never read. */
typedef struct pv_axis {
  uint32_t n_in, n_out;
  uint32_t n_full, o0;  /* the mapping is n_in -> n_full; the table holds its
                           outputs [o0, o0 + n_out) (a window of them: see
                           pv__resample_rgb8_window) */
  uint32_t in0, in_span; /* inputs the table reads: [in0, in0 + in_span);
                           start[] is relative to in0 (0 and n_in for a
                           whole mapping) */
  int filter;           /* -1: not built */
  int identity;         /* every output copies input i */
  size_t stride;        /* weight slots per output, even */
  size_t cap_out, cap_w; /* allocated entries (grow-only) */
  uint32_t *start;
  uint32_t *n;
  int16_t *w;
  int32_t *pairs;
  uint32_t maxpairs;    /* max over outputs of (n + 1) / 2; pairs past n are zero up to stride / 2 */
  /* The AVX2 two-tap tables of this axis used horizontally (see hr2_get),
   * one per orientation (0 plain, 1 mirrored), made on first use and
   * dropped whenever the axis is rebuilt. */
  uint8_t hr2_state[2]; /* 0 not made, 1 made, 2 not applicable */
  uint32_t hr2_n[2];    /* chunks in use (even) */
  size_t hr2_cap[2];    /* chunks allocated (grow-only) */
  struct pv_hr2_chunk *hr2[2];
} pv_axis;

/* Coefficient tables are cached per axis, direct-mapped on (n_in, n_out,
 * filter, and the window n_full, o0): the loader's random crops keep
 * revisiting the same few hundred box sizes, so steady state rebuilds
 * nothing. Tables only depend on the extents (they are relative to the box
 * start), never on the box offset. */
#define PV_RS_CACHE 256

typedef void (*pv_conv_fn)(uint8_t *out, size_t len, const uint8_t *base, size_t step,
                           const int16_t *w, const int32_t *pairs, uint32_t n);

/* The horizontal pass over one transposed block: for every output pixel x,
 * 48 bytes (3 channels x 16 rows) weighing h->n[x] consecutive 48-byte input
 * pixels from h->start[x]. */
typedef void (*pv_hpass_fn)(uint8_t *obuf, const uint8_t *tbuf, const pv_axis *h, uint32_t dw);

struct pv_resampler {
  pv_axis hc[PV_RS_CACHE], vc[PV_RS_CACHE];
  uint8_t *rbuf;  /* AVX2 path: two vertical-pass rows, each padded with zeros */
  size_t rbuf_cap;
  int simd;        /* 0 scalar, 1 SSE2, 2 AVX2: see pv__resampler_set_simd */
  pv_conv_fn conv; /* the kernel for that level */
  pv_hpass_fn hpass; /* the horizontal pass for that level */
  uint8_t *vbuf;  /* 16 rows of vertical-pass output, row = 3 * bw bytes */
  size_t vbuf_cap;
  uint8_t *tbuf;  /* transposed block: 3 * bw byte columns of 16 rows */
  size_t tbuf_cap;
  uint8_t *obuf;  /* horizontal output, transposed: 3 * dw columns of 16 */
  uint8_t *sbuf;  /* up to 16 output rows on their way to a pv_pix_out */
  size_t sbuf_cap;
  double *lut[3]; /* per filter, f(j / PV_RS_LUT_RES) for j = 0 .. S * RES + 1 */
  size_t obuf_cap;
};

static void set_level(pv_resampler *r, int level);

/* ---- filter names --------------------------------------------------------- */

static int name_eq(const char *a, const char *b) {
  for (;; a++, b++) {
    int ca = (unsigned char)*a, cb = (unsigned char)*b;
    if (ca >= 'A' && ca <= 'Z') ca += 'a' - 'A';
    if (ca != cb) return 0;
    if (ca == 0) return 1;
  }
}

int pv__filter_from_name(const char *name) {
  if (!name) return -1;
  if (name_eq(name, "bilinear")) return PV_FILTER_BILINEAR;
  if (name_eq(name, "bicubic")) return PV_FILTER_BICUBIC;
  if (name_eq(name, "lanczos")) return PV_FILTER_LANCZOS;
  return -1;
}

const char *pv__filter_name(pv_filter f) {
  switch (f) {
  case PV_FILTER_BILINEAR: return "bilinear";
  case PV_FILTER_BICUBIC: return "bicubic";
  case PV_FILTER_LANCZOS: return "lanczos";
  }
  return "unknown";
}

/* The filters as an option's choices (build and loader options tables). */
const pv_option_choice pv__filter_choices[] = {{"bilinear", PV_FILTER_BILINEAR},
                                               {"bicubic", PV_FILTER_BICUBIC},
                                               {"lanczos", PV_FILTER_LANCZOS},
                                               {NULL, 0}};

int pv_filter_from_name(const char *name) { return pv__filter_from_name(name); }
const char *pv_filter_name(pv_filter f) { return pv__filter_name(f); }

/* ---- create / destroy ------------------------------------------------------ */

pv_status pv__resampler_create(pv_resampler **out) {
  if (!out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pv_resampler *r = calloc(1, sizeof *r);
  if (!r) return PV_ERR_NOMEM;
  for (int i = 0; i < PV_RS_CACHE; i++) r->hc[i].filter = r->vc[i].filter = -1;
  set_level(r, 2);
  *out = r;
  return PV_OK;
}

static void axis_free(pv_axis *a) {
  free(a->start);
  free(a->n);
  free(a->w);
  free(a->pairs);
  free(a->hr2[0]);
  free(a->hr2[1]);
}

void pv__resampler_destroy(pv_resampler *r) {
  if (!r) return;
  for (int i = 0; i < PV_RS_CACHE; i++) {
    axis_free(&r->hc[i]);
    axis_free(&r->vc[i]);
  }
  free(r->rbuf);
  free(r->vbuf);
  free(r->tbuf);
  free(r->obuf);
  free(r->sbuf);
  for (int i = 0; i < 3; i++) free(r->lut[i]);
  free(r);
}

/* Grows *buf to at least need bytes (contents not kept); 0 on success. */
static int grow(void **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  void *p = malloc(need);
  if (!p) return -1;
  free(*buf);
  *buf = p;
  *cap = need;
  return 0;
}

/* ---- coefficients ------------------------------------------------------------ */

static double filter_support(int f) {
  return f == PV_FILTER_BILINEAR ? 1.0 : f == PV_FILTER_BICUBIC ? 2.0 : 3.0;
}

static double cubic(double x) {
  const double a = -0.5;
  x = fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

/* sin(pi t) and cos(pi t) by range reduction to |r| <= 1/4 and Taylor
 * series (error < 1e-11, far below the Q14 rounding of the weights). Our own
 * code rather than libm so the tables - hence the output bytes - do not
 * depend on the C library, and because it is several times faster. */
static void sincospi(double t, double *s, double *c) {
  double n = floor(2.0 * t + 0.5); /* t = n/2 + r */
  double r = (t - 0.5 * n) * M_PI, r2 = r * r;
  double sr = r * (1 - r2 / 6 * (1 - r2 / 20 * (1 - r2 / 42 * (1 - r2 / 72 * (1 - r2 / 110)))));
  double cr = 1 - r2 / 2 * (1 - r2 / 12 * (1 - r2 / 30 * (1 - r2 / 56 * (1 - r2 / 90 * (1 - r2 / 132)))));
  switch ((int)(n - 4.0 * floor(n / 4.0))) { /* n mod 4 */
  case 0: *s = sr, *c = cr; break;
  case 1: *s = cr, *c = -sr; break;
  case 2: *s = -sr, *c = -cr; break;
  default: *s = -cr, *c = sr; break;
  }
}

/* Fills k[0..n) with the unnormalised filter at x0 + j * step.
 * Lanczos-3 uses sinc(x) sinc(x/3) = 3 s^2 (3 - 4 s^2) / (pi x)^2 with
 * s = sin(pi x / 3) (triple-angle formula), and s steps from tap to tap by
 * an angle-addition rotation: no trigonometry per tap, because the loader
 * rebuilds the tables for every random crop. Drift over a few thousand
 * steps is ~1e-13. */
static void filter_taps(int f, double x0, double step, double rot_s, double rot_c, uint32_t n,
                        double *k) {
  if (f == PV_FILTER_BILINEAR) {
    for (uint32_t j = 0; j < n; j++) {
      double x = fabs(x0 + j * step);
      k[j] = x < 1.0 ? 1.0 - x : 0.0;
    }
  } else if (f == PV_FILTER_BICUBIC) {
    for (uint32_t j = 0; j < n; j++) k[j] = cubic(x0 + j * step);
  } else {
    double s, c;
    sincospi(x0 / 3.0, &s, &c);
    for (uint32_t j = 0; j < n; j++) {
      double x = x0 + j * step;
      if (fabs(x) >= 3.0) k[j] = 0.0;
      else if (fabs(x) < 1e-9) k[j] = 1.0;
      else k[j] = 3.0 * s * s * (3.0 - 4.0 * s * s) / (M_PI * M_PI * x * x);
      double t = s * rot_c + c * rot_s;
      c = c * rot_c - s * rot_s;
      s = t;
    }
  }
}

/* Filter sampled every 1/1024 from 0 to its support, for linear
 * interpolation: the loader rebuilds tables for every random crop and a
 * table lookup is several times cheaper than the exact Lanczos or cubic
 * evaluation per tap. Interpolation error < 1e-6, a few thousandths of a
 * Q14 step; integer arguments (scale 1) hit table points exactly. */
static pv_status lut_get(pv_resampler *r, int f, const double **out) {
  *out = NULL;
  if (f == PV_FILTER_BILINEAR) return PV_OK; /* the formula is cheaper */
  if (!r->lut[f]) {
    const uint32_t n = (uint32_t)filter_support(f) * PV_RS_LUT_RES + 2;
    double *t = malloc(n * sizeof *t);
    if (!t) return PV_ERR_NOMEM;
    for (uint32_t j = 0; j < n; j++) filter_taps(f, (double)j / PV_RS_LUT_RES, 0.0, 0.0, 1.0, 1, t + j);
    t[n - 1] = t[n - 2] = 0.0; /* at and past the support */
    r->lut[f] = t;
  }
  *out = r->lut[f];
  return PV_OK;
}

static inline double lut_eval(const double *t, double limit, double x) {
  x = fabs(x) * PV_RS_LUT_RES;
  if (x >= limit) return 0.0;
  uint32_t i = (uint32_t)x;
  double fr = x - i;
  return t[i] + fr * (t[i + 1] - t[i]);
}

/* Builds (or keeps, when unchanged) the tables of outputs [o0, o0 + n_out)
 * of the mapping n_in -> n_full. Output i's taps depend only on (i, n_in,
 * n_full, f), so a window's table holds exactly the entries of the whole
 * mapping's table, rebased to the first input the window reads. */
static pv_status axis_build(pv_axis *a, uint32_t n_in, uint32_t n_full, uint32_t o0,
                            uint32_t n_out, int f, const double *lut) {
  if (a->filter == f && a->n_in == n_in && a->n_out == n_out && a->n_full == n_full &&
      a->o0 == o0)
    return PV_OK;
  a->filter = -1; /* stays invalid if anything below fails */
  a->hr2_state[0] = a->hr2_state[1] = 0;

  const double scale = (double)n_in / n_full;
  const double fscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter_support(f) * fscale;
  const double inv = 1.0 / fscale;
  size_t kmax = (size_t)ceil(support) * 2 + 1;
  if (kmax > n_in) kmax = n_in;
  const size_t stride = (kmax + 2) & ~(size_t)1; /* room for a zero pad, even */

  if (n_out > a->cap_out) {
    uint32_t *s = malloc((size_t)n_out * sizeof *s);
    uint32_t *n = malloc((size_t)n_out * sizeof *n);
    if (!s || !n) {
      free(s);
      free(n);
      return PV_ERR_NOMEM;
    }
    free(a->start);
    free(a->n);
    a->start = s;
    a->n = n;
    a->cap_out = n_out;
  }
  const size_t nw = (size_t)n_out * stride;
  if (nw > a->cap_w) {
    int16_t *w = malloc(nw * sizeof *w);
    int32_t *p = malloc(nw / 2 * sizeof *p);
    if (!w || !p) {
      free(w);
      free(p);
      return PV_ERR_NOMEM;
    }
    free(a->w);
    free(a->pairs);
    a->w = w;
    a->pairs = p;
    a->cap_w = nw;
  }
  /* Float scratch for one output's taps: on the stack for ordinary kernels,
   * on the heap only for extreme shrink factors (> ~40x with Lanczos). */
  double stackk[256];
  double *k = stackk;
  if (kmax > 256) {
    k = malloc(kmax * sizeof *k);
    if (!k) return PV_ERR_NOMEM;
  }

  double rot_s, rot_c; /* rotation by pi * inv / 3 for the Lanczos recurrence */
  sincospi(inv / 3.0, &rot_s, &rot_c);
  int identity = n_in == n_full;
  uint32_t maxpairs = 0;
  for (uint32_t e = 0; e < n_out; e++) {
    const uint32_t i = o0 + e; /* output index in the whole mapping; e: table entry */
    const double centre = (i + 0.5) * scale;
    double lo = centre - support + 0.5, hi = centre + support + 0.5;
    int64_t xmin = lo <= 0.0 ? 0 : (int64_t)lo;
    int64_t xmax = hi >= (double)n_in ? (int64_t)n_in : (int64_t)hi;
    if (xmin > (int64_t)n_in - 1) xmin = (int64_t)n_in - 1;
    if (xmax <= xmin) xmax = xmin + 1;
    uint32_t cnt = (uint32_t)(xmax - xmin);
    if (cnt > kmax) cnt = (uint32_t)kmax; /* cannot happen; keeps the table in bounds */

    const double x0 = ((double)xmin + 0.5 - centre) * inv;
    if (lut) {
      const double limit = filter_support(f) * PV_RS_LUT_RES;
      for (uint32_t j = 0; j < cnt; j++) k[j] = lut_eval(lut, limit, x0 + j * inv);
    } else {
      filter_taps(f, x0, inv, rot_s, rot_c, cnt, k);
    }
    double sum = 0.0;
    for (uint32_t j = 0; j < cnt; j++) sum += k[j];
    const double norm = sum != 0.0 ? PV_RS_ONE / sum : 0.0;

    int16_t *w = a->w + (size_t)e * stride;
    int32_t total = 0;
    uint32_t big = 0;
    int32_t bigabs = -1;
    for (uint32_t j = 0; j < cnt; j++) {
      double v = sum != 0.0 ? k[j] * norm : (j == 0 ? PV_RS_ONE : 0.0);
      if (v > 32767.0) v = 32767.0;
      if (v < -32768.0) v = -32768.0;
      /* floor(v + 0.5) without a libm call: truncation of a positive value */
      int32_t iv = (int32_t)(v + 65536.5) - 65536;
      w[j] = (int16_t)iv;
      total += iv;
      int32_t av = iv < 0 ? -iv : iv;
      if (av > bigabs) {
        bigabs = av;
        big = j;
      }
    }
    int32_t fixed = w[big] + (PV_RS_ONE - total);
    w[big] = (int16_t)(fixed > 32767 ? 32767 : fixed < -32768 ? -32768 : fixed);

    /* Drop taps that rounded to zero at both ends: less work, same result. */
    uint32_t first = 0, last = cnt;
    while (last > first + 1 && w[last - 1] == 0) last--;
    while (first + 1 < last && w[first] == 0) first++;
    if (first) /* a few taps: a loop beats the libc call */
      for (uint32_t j = first; j < last; j++) w[j - first] = w[j];
    cnt = last - first;
    xmin += first;
    w[cnt] = 0; /* partner of an odd last tap; cnt < stride by construction */

    a->start[e] = (uint32_t)xmin;
    a->n[e] = cnt;
    int32_t *p = a->pairs + (size_t)e * (stride / 2);
    for (size_t j = 0; j < (cnt + 1) / 2; j++)
      p[j] = (int32_t)((uint32_t)(uint16_t)w[2 * j] | ((uint32_t)(uint16_t)w[2 * j + 1] << 16));
    for (size_t j = (cnt + 1) / 2; j < stride / 2; j++) p[j] = 0;
    if ((cnt + 1) / 2 > maxpairs) maxpairs = (cnt + 1) / 2;
    if (cnt != 1 || w[0] != PV_RS_ONE || xmin != (int64_t)i) identity = 0;
  }
  if (k != stackk) free(k);

  /* A window reads only inputs [in0, in1): rebase the starts so the passes
   * work on that span alone (the whole mapping keeps in0 = 0, span n_in). */
  uint32_t in0 = 0, in1 = n_in;
  if (o0 != 0 || n_out != n_full) {
    in0 = UINT32_MAX;
    in1 = 0;
    for (uint32_t e = 0; e < n_out; e++) {
      if (a->start[e] < in0) in0 = a->start[e];
      if (a->start[e] + a->n[e] > in1) in1 = a->start[e] + a->n[e];
    }
    for (uint32_t e = 0; e < n_out; e++) a->start[e] -= in0;
  }
  a->in0 = in0;
  a->in_span = in1 - in0;
  a->stride = stride;
  a->maxpairs = maxpairs;
  a->identity = identity;
  a->n_in = n_in;
  a->n_out = n_out;
  a->n_full = n_full;
  a->o0 = o0;
  a->filter = f;
  return PV_OK;
}

/* The cached tables for outputs [o0, o0 + n_out) of n_in -> n_full with
 * filter f, built when missing. */
static pv_status axis_get(pv_axis *cache, uint32_t n_in, uint32_t n_full, uint32_t o0,
                          uint32_t n_out, int f, const double *lut, pv_axis **out) {
  const uint32_t key = n_in + n_out * 97u + (uint32_t)f * 61u +
                       (n_full != n_out ? n_full * 31u + o0 * 13u : 0u);
  pv_axis *a = &cache[key & (PV_RS_CACHE - 1)];
  pv_status st = axis_build(a, n_in, n_full, o0, n_out, f, lut);
  *out = a;
  return st;
}

/* ---- kernels -------------------------------------------------------------------- */

static inline uint8_t clamp_q(int32_t acc) {
  int32_t s = acc + PV_RS_HALF;
  if (s < 0) return 0;
  s >>= PV_RS_BITS;
  return (uint8_t)(s > 255 ? 255 : s);
}

/* out[j] = clamp(sum_k w[k] * base[k * step + j]) for j in [from, len):
 * the scalar definition every other path must reproduce. */
static void conv_scalar(uint8_t *out, size_t from, size_t len, const uint8_t *base, size_t step,
                        const int16_t *w, uint32_t n) {
  for (size_t j = from; j < len; j++) {
    int32_t acc = 0;
    for (uint32_t k = 0; k < n; k++) acc += w[k] * base[k * step + j];
    out[j] = clamp_q(acc);
  }
}

#if PV_RS_SSE2
/* SSE2 version of conv_scalar over whole 16-byte chunks; the tail is scalar.
 * Two taps at a time: interleaving their bytes and widening to int16 gives
 * (a, b) pairs that one pmaddwd multiplies by the packed pair (wa, wb). */
static void conv_sse2(uint8_t *out, size_t len, const uint8_t *base, size_t step, const int16_t *w,
                      const int32_t *pairs, uint32_t n) {
  const __m128i zero = _mm_setzero_si128();
  const __m128i half = _mm_set1_epi32(PV_RS_HALF);
  size_t j = 0;
  for (; j + 16 <= len; j += 16) {
    __m128i acc0 = half, acc1 = half, acc2 = half, acc3 = half;
    const uint8_t *p = base + j;
    for (uint32_t k = 0; k < n; k += 2, p += 2 * step) {
      const __m128i wp = _mm_set1_epi32(pairs[k / 2]);
      const __m128i a = _mm_loadu_si128((const __m128i *)p);
      const __m128i b = k + 1 < n ? _mm_loadu_si128((const __m128i *)(p + step)) : a;
      const __m128i lo = _mm_unpacklo_epi8(a, b), hi = _mm_unpackhi_epi8(a, b);
      acc0 = _mm_add_epi32(acc0, _mm_madd_epi16(_mm_unpacklo_epi8(lo, zero), wp));
      acc1 = _mm_add_epi32(acc1, _mm_madd_epi16(_mm_unpackhi_epi8(lo, zero), wp));
      acc2 = _mm_add_epi32(acc2, _mm_madd_epi16(_mm_unpacklo_epi8(hi, zero), wp));
      acc3 = _mm_add_epi32(acc3, _mm_madd_epi16(_mm_unpackhi_epi8(hi, zero), wp));
    }
    acc0 = _mm_srai_epi32(acc0, PV_RS_BITS);
    acc1 = _mm_srai_epi32(acc1, PV_RS_BITS);
    acc2 = _mm_srai_epi32(acc2, PV_RS_BITS);
    acc3 = _mm_srai_epi32(acc3, PV_RS_BITS);
    /* Saturating packs clamp to [0, 255] exactly as clamp_q does. */
    const __m128i r = _mm_packus_epi16(_mm_packs_epi32(acc0, acc1), _mm_packs_epi32(acc2, acc3));
    _mm_storeu_si128((__m128i *)(out + j), r);
    /* The tail as one more chunk ending at len (recomputing a few bytes
     * with the same values), instead of a scalar loop. */
    if (j + 16 < len && j + 32 > len) j = len - 32;
  }
  if (j < len) conv_scalar(out, j, len, base, step, w, n);
}

/* Transposes a 16x16 byte tile in place: rows in x[], result column c in
 * x[rev4[c]]. Four perfect-shuffle rounds, written out so that every value
 * stays in a register at -O2. */
#define PV_TR_ROUND(lo, hi)                                                                        \
  do {                                                                                             \
    __m128i y0 = lo(x[0], x[1]), y8 = hi(x[0], x[1]);                                              \
    __m128i y1 = lo(x[2], x[3]), y9 = hi(x[2], x[3]);                                              \
    __m128i y2 = lo(x[4], x[5]), y10 = hi(x[4], x[5]);                                             \
    __m128i y3 = lo(x[6], x[7]), y11 = hi(x[6], x[7]);                                             \
    __m128i y4 = lo(x[8], x[9]), y12 = hi(x[8], x[9]);                                             \
    __m128i y5 = lo(x[10], x[11]), y13 = hi(x[10], x[11]);                                         \
    __m128i y6 = lo(x[12], x[13]), y14 = hi(x[12], x[13]);                                         \
    __m128i y7 = lo(x[14], x[15]), y15 = hi(x[14], x[15]);                                         \
    x[0] = y0, x[1] = y1, x[2] = y2, x[3] = y3, x[4] = y4, x[5] = y5, x[6] = y6, x[7] = y7;        \
    x[8] = y8, x[9] = y9, x[10] = y10, x[11] = y11, x[12] = y12, x[13] = y13, x[14] = y14;         \
    x[15] = y15;                                                                                   \
  } while (0)
#define PV_TR16(x)                                                                                 \
  do {                                                                                             \
    PV_TR_ROUND(_mm_unpacklo_epi8, _mm_unpackhi_epi8);                                             \
    PV_TR_ROUND(_mm_unpacklo_epi16, _mm_unpackhi_epi16);                                           \
    PV_TR_ROUND(_mm_unpacklo_epi32, _mm_unpackhi_epi32);                                           \
    PV_TR_ROUND(_mm_unpacklo_epi64, _mm_unpackhi_epi64);                                           \
  } while (0)
#define PV_REP16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
static const uint8_t rev4[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
#endif

static void conv_ref(uint8_t *out, size_t len, const uint8_t *base, size_t step, const int16_t *w,
                     const int32_t *pairs, uint32_t n) {
  (void)pairs;
  conv_scalar(out, 0, len, base, step, w, n);
}

#if PV_RS_AVX2
/* conv_sse2 on 32-byte chunks. The 256-bit unpacks and packs work within
 * 128-bit lanes; unpacking and packing back in the same order keeps every
 * byte in place, so no cross-lane permute is needed. */
__attribute__((target("avx2"))) static void conv_avx2(uint8_t *out, size_t len,
                                                      const uint8_t *base, size_t step,
                                                      const int16_t *w, const int32_t *pairs,
                                                      uint32_t n) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i half = _mm256_set1_epi32(PV_RS_HALF);
  size_t j = 0;
  for (; j + 32 <= len; j += 32) {
    __m256i acc0 = half, acc1 = half, acc2 = half, acc3 = half;
    const uint8_t *p = base + j;
    for (uint32_t k = 0; k < n; k += 2, p += 2 * step) {
      const __m256i wp = _mm256_set1_epi32(pairs[k / 2]);
      const __m256i a = _mm256_loadu_si256((const __m256i *)p);
      const __m256i b = k + 1 < n ? _mm256_loadu_si256((const __m256i *)(p + step)) : a;
      const __m256i lo = _mm256_unpacklo_epi8(a, b), hi = _mm256_unpackhi_epi8(a, b);
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi8(lo, zero), wp));
      acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi8(lo, zero), wp));
      acc2 = _mm256_add_epi32(acc2, _mm256_madd_epi16(_mm256_unpacklo_epi8(hi, zero), wp));
      acc3 = _mm256_add_epi32(acc3, _mm256_madd_epi16(_mm256_unpackhi_epi8(hi, zero), wp));
    }
    acc0 = _mm256_srai_epi32(acc0, PV_RS_BITS);
    acc1 = _mm256_srai_epi32(acc1, PV_RS_BITS);
    acc2 = _mm256_srai_epi32(acc2, PV_RS_BITS);
    acc3 = _mm256_srai_epi32(acc3, PV_RS_BITS);
    const __m256i r =
        _mm256_packus_epi16(_mm256_packs_epi32(acc0, acc1), _mm256_packs_epi32(acc2, acc3));
    _mm256_storeu_si256((__m256i *)(out + j), r);
    if (j + 32 < len && j + 64 > len) j = len - 64; /* tail: overlapping last chunk */
  }
  if (j < len) conv_sse2(out + j, len - j, base + j, step, w, pairs, n);
}
#endif

static void hpass_ref(uint8_t *obuf, const uint8_t *tbuf, const pv_axis *h, uint32_t dw) {
  for (uint32_t x = 0; x < dw; x++)
    conv_scalar(obuf + (size_t)x * 48, 0, 48, tbuf + (size_t)h->start[x] * 48, 48,
                h->w + (size_t)x * h->stride, h->n[x]);
}

#if PV_RS_SSE2
/* One SSE2 step of conv_sse2 on 16 bytes: taps a, b (b = a with a zero
 * weight for an odd last tap) added into four int32 accumulators. */
#define PV_SSE2_MADD(acc, a, b, wp)                                                                \
  do {                                                                                             \
    const __m128i lo_ = _mm_unpacklo_epi8(a, b), hi_ = _mm_unpackhi_epi8(a, b);                   \
    acc[0] = _mm_add_epi32(acc[0], _mm_madd_epi16(_mm_unpacklo_epi8(lo_, zero), wp));            \
    acc[1] = _mm_add_epi32(acc[1], _mm_madd_epi16(_mm_unpackhi_epi8(lo_, zero), wp));            \
    acc[2] = _mm_add_epi32(acc[2], _mm_madd_epi16(_mm_unpacklo_epi8(hi_, zero), wp));            \
    acc[3] = _mm_add_epi32(acc[3], _mm_madd_epi16(_mm_unpackhi_epi8(hi_, zero), wp));            \
  } while (0)
#define PV_SSE2_PACK(acc)                                                                          \
  _mm_packus_epi16(_mm_packs_epi32(_mm_srai_epi32(acc[0], PV_RS_BITS),                            \
                                   _mm_srai_epi32(acc[1], PV_RS_BITS)),                            \
                   _mm_packs_epi32(_mm_srai_epi32(acc[2], PV_RS_BITS),                            \
                                   _mm_srai_epi32(acc[3], PV_RS_BITS)))

/* hpass_ref with conv_sse2's arithmetic on three 16-byte chunks, all output
 * pixels in one loop (no call per pixel). Same bytes. */
static void hpass_sse2(uint8_t *obuf, const uint8_t *tbuf, const pv_axis *h, uint32_t dw) {
  const __m128i zero = _mm_setzero_si128();
  const __m128i half = _mm_set1_epi32(PV_RS_HALF);
  const size_t pstride = h->stride / 2;
  for (uint32_t x = 0; x < dw; x++) {
    const uint8_t *p = tbuf + (size_t)h->start[x] * 48;
    const int32_t *pairs = h->pairs + (size_t)x * pstride;
    const uint32_t n = h->n[x];
    __m128i a0[4] = {half, half, half, half}, a1[4] = {half, half, half, half},
            a2[4] = {half, half, half, half};
    for (uint32_t k = 0; k < n; k += 2, p += 96) {
      const __m128i wp = _mm_set1_epi32(pairs[k / 2]);
      const int two = k + 1 < n;
      const __m128i x0 = _mm_loadu_si128((const __m128i *)p);
      const __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
      const __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
      const __m128i y0 = two ? _mm_loadu_si128((const __m128i *)(p + 48)) : x0;
      const __m128i y1 = two ? _mm_loadu_si128((const __m128i *)(p + 64)) : x1;
      const __m128i y2 = two ? _mm_loadu_si128((const __m128i *)(p + 80)) : x2;
      PV_SSE2_MADD(a0, x0, y0, wp);
      PV_SSE2_MADD(a1, x1, y1, wp);
      PV_SSE2_MADD(a2, x2, y2, wp);
    }
    uint8_t *o = obuf + (size_t)x * 48;
    _mm_storeu_si128((__m128i *)o, PV_SSE2_PACK(a0));
    _mm_storeu_si128((__m128i *)(o + 16), PV_SSE2_PACK(a1));
    _mm_storeu_si128((__m128i *)(o + 32), PV_SSE2_PACK(a2));
  }
}
#endif

#if PV_RS_AVX2
/* hpass_sse2 with the first 32 bytes in one AVX2 register (conv_avx2's
 * arithmetic) and the last 16 in SSE2. Same bytes. */
__attribute__((target("avx2"))) static void hpass_avx2(uint8_t *obuf, const uint8_t *tbuf,
                                                       const pv_axis *h, uint32_t dw) {
  const __m256i zero256 = _mm256_setzero_si256();
  const __m256i half256 = _mm256_set1_epi32(PV_RS_HALF);
  const __m128i zero = _mm_setzero_si128();
  const __m128i half = _mm_set1_epi32(PV_RS_HALF);
  const size_t pstride = h->stride / 2;
  for (uint32_t x = 0; x < dw; x++) {
    const uint8_t *p = tbuf + (size_t)h->start[x] * 48;
    const int32_t *pairs = h->pairs + (size_t)x * pstride;
    const uint32_t n = h->n[x];
    __m256i b0 = half256, b1 = half256, b2 = half256, b3 = half256;
    __m128i a2[4] = {half, half, half, half};
    for (uint32_t k = 0; k < n; k += 2, p += 96) {
      const int32_t pw = pairs[k / 2];
      const __m256i wp256 = _mm256_set1_epi32(pw);
      const __m128i wp = _mm_set1_epi32(pw);
      const int two = k + 1 < n;
      const __m256i xa = _mm256_loadu_si256((const __m256i *)p);
      const __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
      const __m256i ya = two ? _mm256_loadu_si256((const __m256i *)(p + 48)) : xa;
      const __m128i y2 = two ? _mm_loadu_si128((const __m128i *)(p + 80)) : x2;
      const __m256i lo = _mm256_unpacklo_epi8(xa, ya), hi = _mm256_unpackhi_epi8(xa, ya);
      b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(_mm256_unpacklo_epi8(lo, zero256), wp256));
      b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(_mm256_unpackhi_epi8(lo, zero256), wp256));
      b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(_mm256_unpacklo_epi8(hi, zero256), wp256));
      b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(_mm256_unpackhi_epi8(hi, zero256), wp256));
      PV_SSE2_MADD(a2, x2, y2, wp);
    }
    uint8_t *o = obuf + (size_t)x * 48;
    b0 = _mm256_srai_epi32(b0, PV_RS_BITS);
    b1 = _mm256_srai_epi32(b1, PV_RS_BITS);
    b2 = _mm256_srai_epi32(b2, PV_RS_BITS);
    b3 = _mm256_srai_epi32(b3, PV_RS_BITS);
    _mm256_storeu_si256((__m256i *)o,
                        _mm256_packus_epi16(_mm256_packs_epi32(b0, b1), _mm256_packs_epi32(b2, b3)));
    _mm_storeu_si128((__m128i *)(o + 32), PV_SSE2_PACK(a2));
  }
}
#endif

#if PV_RS_AVX2
/* The horizontal pass straight on interleaved RGB rows, two rows at a time
 * (one per 128-bit lane; both use the same weights): no transposes. For tap
 * pair (k, k + 1) of output pixel x, one pshufb turns the bytes at
 * 3 * (start + k) into the int16 words (r_k, r_k+1, g_k, g_k+1, b_k, b_k+1,
 * 0, 0) and one pmaddwd with the broadcast weight pair gives the int32 sums
 * (R, G, B, 0): the same exact integer sums as conv_scalar, rounded and
 * clamped the same way (srai, then saturating packs). Every output uses
 * h->maxpairs pairs (zero weights past its own taps), so the loop has a fixed
 * trip count; the rows must carry 6 * maxpairs + 16 readable bytes past
 * their end (zero padding in rbuf). */
#define PV_HR_PAD(h) ((size_t)(h)->stride * 3 + 32)

#define PV_HR_LOAD2(ra, rb, o)                                                                     \
  _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)((ra) + (o)))),  \
                          _mm_loadu_si128((const __m128i *)((rb) + (o))), 1)

/* Output pixel x of four rows (r[0], r[1] in acc[0]; r[2], r[3] in acc[1]),
 * shifted, not yet packed. */
__attribute__((target("avx2"), always_inline)) static inline void
hr_pixel(__m256i acc[2], const uint8_t *const r[4], const uint32_t *start, const int32_t *pairs,
         size_t pstride, uint32_t x, uint32_t np, __m256i m0, __m256i m1, __m256i half) {
  const size_t s = (size_t)start[x] * 3;
  const int32_t *pp = pairs + (size_t)x * pstride;
  __m256i c0 = half, c1 = half;
  for (uint32_t j = 0; j < np; j += 2) {
    const __m256i d0 = PV_HR_LOAD2(r[0], r[1], s + 6 * j);
    const __m256i d1 = PV_HR_LOAD2(r[2], r[3], s + 6 * j);
    const __m256i w0 = _mm256_set1_epi32(pp[j]);
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_shuffle_epi8(d0, m0), w0));
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_shuffle_epi8(d1, m0), w0));
    if (j + 1 < np) {
      const __m256i w1 = _mm256_set1_epi32(pp[j + 1]);
      c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_shuffle_epi8(d0, m1), w1));
      c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_shuffle_epi8(d1, m1), w1));
    }
  }
  acc[0] = _mm256_srai_epi32(c0, PV_RS_BITS);
  acc[1] = _mm256_srai_epi32(c1, PV_RS_BITS);
}

/* Stores 16 bytes of each of four rows at offset o: the low and high
 * halves of b01 into rows 0 and 1, of b23 into rows 2 and 3; nb < 16
 * bytes (a row's tail) through a scratch copy, so nothing past them is
 * written. Shared by the horizontal passes. */
__attribute__((target("avx2"), always_inline)) static inline void store4_rows(uint8_t *d0, uint8_t *d1,
                                                               uint8_t *d2, uint8_t *d3,
                                                               size_t o, __m256i b01,
                                                               __m256i b23, size_t nb) {
  if (nb >= 16) {
    _mm_storeu_si128((__m128i *)(d0 + o), _mm256_castsi256_si128(b01));
    _mm_storeu_si128((__m128i *)(d1 + o), _mm256_extracti128_si256(b01, 1));
    _mm_storeu_si128((__m128i *)(d2 + o), _mm256_castsi256_si128(b23));
    _mm_storeu_si128((__m128i *)(d3 + o), _mm256_extracti128_si256(b23, 1));
    return;
  }
  uint8_t t[64];
  _mm256_storeu_si256((__m256i *)t, b01);
  _mm256_storeu_si256((__m256i *)(t + 32), b23);
  memcpy(d0 + o, t, nb);
  memcpy(d1 + o, t + 16, nb);
  memcpy(d2 + o, t + 32, nb);
  memcpy(d3 + o, t + 48, nb);
}

__attribute__((target("avx2"), always_inline)) static inline void
hrows_avx2_n(uint8_t *const d[4], const uint8_t *const r[4], const pv_axis *h, uint32_t dw,
             uint32_t np, int flip) {
  const __m256i m0 = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
                                      0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m256i m1 = _mm256_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1,
                                      6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
  const __m256i pk = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                      0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const __m256i half = _mm256_set1_epi32(PV_RS_HALF);
  const size_t pstride = h->stride / 2;
  const uint32_t *const start = h->start; /* locals: byte stores may alias *h */
  const int32_t *const pairs = h->pairs;
  uint8_t *const d0 = d[0], *const d1 = d[1], *const d2 = d[2], *const d3 = d[3];
  for (uint32_t x = 0; x < dw; x += 4) {
    const uint32_t l = dw - 1;
    __m256i a0[2], a1[2], a2[2], a3[2];
    /* Output position p holds table entry p, or l - p when mirrored. */
    const uint32_t x1 = x + 1 < dw ? x + 1 : l, x2 = x + 2 < dw ? x + 2 : l,
                   x3 = x + 3 < dw ? x + 3 : l;
    hr_pixel(a0, r, start, pairs, pstride, flip ? l - x : x, np, m0, m1, half);
    hr_pixel(a1, r, start, pairs, pstride, flip ? l - x1 : x1, np, m0, m1, half);
    hr_pixel(a2, r, start, pairs, pstride, flip ? l - x2 : x2, np, m0, m1, half);
    hr_pixel(a3, r, start, pairs, pstride, flip ? l - x3 : x3, np, m0, m1, half);
    const __m256i b01 = _mm256_shuffle_epi8(
        _mm256_packus_epi16(_mm256_packs_epi32(a0[0], a1[0]), _mm256_packs_epi32(a2[0], a3[0])), pk);
    const __m256i b23 = _mm256_shuffle_epi8(
        _mm256_packus_epi16(_mm256_packs_epi32(a0[1], a1[1]), _mm256_packs_epi32(a2[1], a3[1])), pk);
    const size_t o = (size_t)x * 3;
    /* Whole 16 bytes while the 4 spare ones land where the next group
     * writes; the last group: exactly the pixels left (1..4). */
    store4_rows(d0, d1, d2, d3, o, b01, b23,
                x + 6 <= dw ? 16 : (size_t)(dw - x < 4 ? dw - x : 4) * 3);
  }
}

/* Dispatch on the pair count so the common small ones get a fixed loop,
 * and on flip so the mirrored variant costs only reversed table indices. */
__attribute__((target("avx2"))) static void hrows_avx2(uint8_t *const d[4],
                                                       const uint8_t *const r[4],
                                                       const pv_axis *h, uint32_t dw, int flip) {
#define PV_HR_CASES(F)                                                                             \
  switch (h->maxpairs) {                                                                           \
  case 1: hrows_avx2_n(d, r, h, dw, 1, F); break;                                                  \
  case 2: hrows_avx2_n(d, r, h, dw, 2, F); break;                                                  \
  case 3: hrows_avx2_n(d, r, h, dw, 3, F); break;                                                  \
  case 4: hrows_avx2_n(d, r, h, dw, 4, F); break;                                                  \
  default: hrows_avx2_n(d, r, h, dw, h->maxpairs, F); break;                                       \
  }
  if (flip) PV_HR_CASES(1)
  else PV_HR_CASES(0)
#undef PV_HR_CASES
}
#endif

#if PV_RS_AVX2
/* The two-tap horizontal pass. When every output of an axis has at most two
 * taps w0, w1 with w0 + w1 = 1 << 14 (bilinear upscaling: almost every box
 * of the loader's RandomResizedCrop), the exact sum conv_scalar rounds is
 *   (w0 p0 + w1 p1 + 2^13) >> 14 = p0 + ((w1 (p1 - p0) + 2^13) >> 14)
 * and, with d = p1 - p0 in [-255, 255] and 2 w1 in int16,
 *   (w1 d + 2^13) >> 14 = (d * 2 w1 + 2^14) >> 15 = pmulhrsw(d, 2 w1)
 * exactly (pmulhrsw rounds its full 32-bit product). So each output byte is
 * one 16-bit lane - p0 + pmulhrsw(p1 - p0, 2 w1), clamped by the saturating
 * pack as clamp_q clamps - instead of a quarter of a pmaddwd per tap pair.
 * The output row is cut into chunks of 8 bytes; a chunk's inputs lie within
 * 16 bytes of the row (its at most 4 pixels read at most 5 neighbouring
 * inputs when upscaling): one load at off and one pshufb (m) gather each
 * output's byte pair (p0, p1), and two pmaddubsw with the constant byte
 * weights (1, 0) and (-1, 1) make p0 and p1 - p0 as words (one pshufb fewer
 * than gathering p0 and p1 apart and subtracting); w holds 2 w1 per
 * output. An axis where a chunk does not fit (shrinking) or a tap is
 * outside the range keeps hrows_avx2. */
typedef struct pv_hr2_chunk {
  int8_t m[16];  /* byte pairs (p0, p1) of the 8 outputs, -128 past the row */
  int16_t w[8];  /* 2 w1 */
  uint32_t off;  /* first input byte of the chunk's 16 */
  uint32_t pad_[3];
} pv_hr2_chunk;

/* The chunks of axis a for orientation flip (output pixel p is entry p, or
 * dw - 1 - p when mirrored), made when missing; NULL when the axis does not
 * qualify or memory runs out (the caller then uses hrows_avx2). */
static const pv_hr2_chunk *hr2_get(pv_axis *a, int flip, uint32_t *nchunks) {
  if (a->hr2_state[flip] == 2) return NULL;
  if (a->hr2_state[flip] == 1) {
    *nchunks = a->hr2_n[flip];
    return a->hr2[flip];
  }
  a->hr2_state[flip] = 2;
  const uint32_t dw = a->n_out;
  const size_t len = (size_t)dw * 3;
  const size_t nc = ((len + 7) / 8 + 1) & ~(size_t)1;
  if (a->maxpairs > 1 || len > UINT32_MAX / 2) return NULL;
  for (uint32_t e = 0; e < dw; e++) { /* the taps' conditions, before any work */
    const int16_t *w = a->w + (size_t)e * a->stride;
    if (a->n[e] == 1 ? w[0] != PV_RS_ONE
                     : (int32_t)w[0] + w[1] != PV_RS_ONE || w[1] < -16384 || w[1] > 16383)
      return NULL;
  }
  if (nc > a->hr2_cap[flip]) {
    pv_hr2_chunk *t = malloc(nc * sizeof *t);
    if (!t) return NULL;
    free(a->hr2[flip]);
    a->hr2[flip] = t;
    a->hr2_cap[flip] = nc;
  }
  pv_hr2_chunk *t = a->hr2[flip];
  for (size_t c = 0; c < nc; c++) {
    uint32_t i0[8], i1[8], lo = UINT32_MAX, hi = 0;
    int16_t w1[8];
    for (int b = 0; b < 8; b++) {
      const size_t ob = c * 8 + (size_t)b;
      if (ob >= len) {
        i0[b] = i1[b] = UINT32_MAX; /* past the row: zero */
        continue;
      }
      const uint32_t p = (uint32_t)(ob / 3), e = flip ? dw - 1 - p : p;
      i0[b] = a->start[e] * 3 + (uint32_t)(ob % 3);
      i1[b] = a->n[e] == 2 ? i0[b] + 3 : i0[b];
      w1[b] = a->n[e] == 2 ? (int16_t)(2 * a->w[(size_t)e * a->stride + 1]) : 0;
      if (i0[b] < lo) lo = i0[b];
      if (i1[b] > hi) hi = i1[b];
    }
    if (lo == UINT32_MAX) lo = hi = 0; /* an all-padding chunk */
    if (hi - lo > 15) return NULL;
    for (int b = 0; b < 8; b++) {
      const int pad = i0[b] == UINT32_MAX;
      t[c].m[2 * b] = pad ? -128 : (int8_t)(i0[b] - lo);
      t[c].m[2 * b + 1] = pad ? -128 : (int8_t)(i1[b] - lo);
      t[c].w[b] = pad ? 0 : w1[b];
    }
    t[c].off = lo;
    t[c].pad_[0] = t[c].pad_[1] = t[c].pad_[2] = 0;
  }
  a->hr2_n[flip] = (uint32_t)nc;
  a->hr2_state[flip] = 1;
  *nchunks = (uint32_t)nc;
  return t;
}

/* One chunk of two rows (one per lane): 8 output words each. */
#define PV_HR2_STEP(s, m, w)                                                                       \
  _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_shuffle_epi8(s, m), k10),                          \
                   _mm256_mulhrs_epi16(_mm256_maddubs_epi16(_mm256_shuffle_epi8(s, m), kd), w))

/* Four rows r[] -> d[] (len = 3 * dw bytes each) with the chunks of
 * hr2_get; the rows carry at least 16 readable bytes past their end. */
__attribute__((target("avx2"))) static void hrows2_avx2(uint8_t *const d[4],
                                                        const uint8_t *const r[4],
                                                        const pv_hr2_chunk *t, uint32_t nc,
                                                        size_t len) {
  const uint8_t *const r0 = r[0], *const r1 = r[1], *const r2 = r[2], *const r3 = r[3];
  uint8_t *const d0 = d[0], *const d1 = d[1], *const d2 = d[2], *const d3 = d[3];
  /* pmaddubsw weights of a (p0, p1) byte pair: (1, 0) gives p0, (-1, 1) p1 - p0 */
  const __m256i k10 = _mm256_set1_epi16(1), kd = _mm256_set1_epi16((short)0x01FF);
  for (uint32_t c = 0; c < nc; c += 2, t += 2) {
    __m256i o01[2], o23[2];
    for (int k = 0; k < 2; k++) {
      const __m256i m = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t[k].m));
      const __m256i w = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t[k].w));
      const size_t off = t[k].off;
      const __m256i s01 = PV_HR_LOAD2(r0, r1, off), s23 = PV_HR_LOAD2(r2, r3, off);
      o01[k] = PV_HR2_STEP(s01, m, w);
      o23[k] = PV_HR2_STEP(s23, m, w);
    }
    const __m256i b01 = _mm256_packus_epi16(o01[0], o01[1]); /* lane = row: chunks c, c + 1 */
    const __m256i b23 = _mm256_packus_epi16(o23[0], o23[1]);
    const size_t o = (size_t)c * 8;
    /* The last pair of chunks: exactly the bytes left. */
    store4_rows(d0, d1, d2, d3, o, b01, b23, o + 16 <= len ? 16 : len - o);
  }
}
#undef PV_HR2_STEP
#endif

/* Picks the kernel for a SIMD level, capped at what this CPU runs. */
static void set_level(pv_resampler *r, int level) {
  r->simd = 0;
  r->conv = conv_ref;
  r->hpass = hpass_ref;
#if PV_RS_SSE2
  if (level >= 1) {
    r->simd = 1;
    r->conv = conv_sse2;
    r->hpass = hpass_sse2;
  }
#endif
#if PV_RS_AVX2
  __builtin_cpu_init();
  if (level >= 2 && __builtin_cpu_supports("avx2")) {
    r->simd = 2;
    r->conv = conv_avx2;
    r->hpass = hpass_avx2;
  }
#endif
}

int pv__resampler_set_simd(pv_resampler *r, int level) {
  if (!r) return -1;
  set_level(r, level);
  return r->simd;
}

/* t[j * 16 + r] = rows[r][j] for j < len. */
static void transpose_in(uint8_t *t, const uint8_t *const rows[16], size_t len) {
  size_t j = 0;
#if PV_RS_SSE2
  for (; j + 16 <= len; j += 16) {
    __m128i x[16];
#define PV_LD(i) x[i] = _mm_loadu_si128((const __m128i *)(rows[i] + j));
#define PV_ST(i) _mm_storeu_si128((__m128i *)(t + (j + rev4[i]) * 16), x[i]);
    PV_REP16(PV_LD)
    PV_TR16(x);
    PV_REP16(PV_ST)
#undef PV_LD
#undef PV_ST
  }
#endif
  for (; j < len; j++)
    for (int r = 0; r < 16; r++) t[j * 16 + r] = rows[r][j];
}

/* dst[r * dstride + j] = o[j * 16 + r] for r < nrows, j < len. */
static void transpose_out(uint8_t *dst, size_t dstride, int nrows, const uint8_t *o, size_t len) {
  size_t j = 0;
#if PV_RS_SSE2
  for (; j + 16 <= len; j += 16) {
    __m128i x[16];
#define PV_LD(i) x[i] = _mm_loadu_si128((const __m128i *)(o + (j + i) * 16));
    PV_REP16(PV_LD)
    PV_TR16(x);
    /* x[i] now holds output row rev4[i]. */
    if (nrows == 16) {
#define PV_ST(i) _mm_storeu_si128((__m128i *)(dst + rev4[i] * dstride + j), x[i]);
      PV_REP16(PV_ST)
#undef PV_ST
    } else {
      for (int i = 0; i < 16; i++)
        if (rev4[i] < nrows) _mm_storeu_si128((__m128i *)(dst + rev4[i] * dstride + j), x[i]);
    }
#undef PV_LD
  }
#endif
  for (; j < len; j++)
    for (int r = 0; r < nrows; r++) dst[r * dstride + j] = o[j * 16 + r];
}

/* ---- entry points ------------------------------------------------------------------ */

static pv_status check_args(const pv_resampler *r, pv_filter filter, const uint8_t *src,
                            uint32_t sw, uint32_t sh, size_t sstride, uint32_t bx, uint32_t by,
                            uint32_t bw, uint32_t bh, const uint8_t *dst, uint32_t dw,
                            uint32_t dh, size_t dstride) {
  if (!r || !src || !dst) return PV_ERR_INVALID_ARG;
  if ((int)filter < PV_FILTER_BILINEAR || (int)filter > PV_FILTER_LANCZOS) return PV_ERR_INVALID_ARG;
  if (!sw || !sh || !bw || !bh || !dw || !dh) return PV_ERR_INVALID_ARG;
  if (sw > PV_RS_MAX_DIM || sh > PV_RS_MAX_DIM || dw > PV_RS_MAX_DIM || dh > PV_RS_MAX_DIM)
    return PV_ERR_INVALID_ARG;
  if ((uint64_t)bx + bw > sw || (uint64_t)by + bh > sh) return PV_ERR_INVALID_ARG;
  if (sstride < (size_t)sw * 3 || dstride < (size_t)dw * 3) return PV_ERR_INVALID_ARG;
  return PV_OK;
}

/* Reverses the pixel order of an RGB8 row of w pixels in place. */
static void mirror_row(uint8_t *p, uint32_t w) {
  for (uint32_t i = 0, j = w - 1; i < j; i++, j--)
    for (int c = 0; c < 3; c++) {
      const uint8_t t = p[(size_t)i * 3 + c];
      p[(size_t)i * 3 + c] = p[(size_t)j * 3 + c];
      p[(size_t)j * 3 + c] = t;
    }
}

/* Reverses the order of the dw 48-byte pixels of a transposed block. */
static void mirror_block(uint8_t *o, uint32_t dw) {
  uint8_t t[48];
  for (uint32_t i = 0, j = dw - 1; i < j; i++, j--) {
    memcpy(t, o + (size_t)i * 48, 48);
    memcpy(o + (size_t)i * 48, o + (size_t)j * 48, 48);
    memcpy(o + (size_t)j * 48, t, 48);
  }
}

/* The box resized to fw x fh, of which the window (wx, wy, dw, dh) is
 * written to dst; the whole image when the window is all of it. */
static pv_status resample_impl(pv_resampler *r, pv_filter filter, const uint8_t *src, uint32_t sw,
                               uint32_t sh, size_t sstride, uint32_t bx, uint32_t by, uint32_t bw,
                               uint32_t bh, uint32_t fw, uint32_t fh, uint32_t wx, uint32_t wy,
                               uint8_t *dst, uint32_t dw, uint32_t dh, size_t dstride, int flip,
                               const pv_pix_out *po) {
  pv_status st = check_args(r, filter, src, sw, sh, sstride, bx, by, bw, bh, dst, dw, dh, dstride);
  if (st != PV_OK) return st;
  /* po (not RGB8): every group of output rows goes through sbuf into po as
   * soon as it is made (pv__pix_out_rows); otherwise rows go to dst. */
  if (po && po->format == PV_PIX_RGB8) po = NULL;
  uint8_t *stage = NULL;
  if (po) {
    if (grow((void **)&r->sbuf, &r->sbuf_cap, (size_t)dw * 3 * PV_RS_BLOCK + 64))
      return PV_ERR_NOMEM;
    stage = r->sbuf;
  }
  if (!fw || !fh || (uint64_t)wx + dw > fw || (uint64_t)wy + dh > fh) return PV_ERR_INVALID_ARG;
  const double *lut;
  if ((st = lut_get(r, (int)filter, &lut)) != PV_OK) return st;
  pv_axis *h;
  pv_axis *v;
  if ((st = axis_get(r->hc, bw, fw, wx, dw, (int)filter, lut, &h)) != PV_OK) return st;
  if ((st = axis_get(r->vc, bh, fh, wy, dh, (int)filter, lut, &v)) != PV_OK) return st;

  /* Only the inputs the tables read: all of the box for a whole image. */
  const uint8_t *box = src + ((size_t)by + v->in0) * sstride + ((size_t)bx + h->in0) * 3;
  const size_t in_len = (size_t)h->in_span * 3, out_len = (size_t)dw * 3;

  if (h->identity) { /* vertical only (or a plain copy): straight into dst */
    for (uint32_t y = 0; y < dh; y++) {
      const uint8_t *b = box + (size_t)v->start[y] * sstride;
      uint8_t *d = po ? stage : dst + (size_t)y * dstride;
      if (po && v->identity && !flip) { /* the source row is the output row */
        pv__pix_out_rows(po, y, 1, b, 0);
        continue;
      }
      if (v->identity) memcpy(d, b, in_len);
      else
        r->conv(d, in_len, b, sstride, v->w + (size_t)y * v->stride,
                  v->pairs + (size_t)y * (v->stride / 2), v->n[y]);
      if (flip) mirror_row(d, dw);
      if (po) pv__pix_out_rows(po, y, 1, d, 0);
    }
    return PV_OK;
  }

#if PV_RS_AVX2
  if (r->simd == 2) { /* four rows at a time, no transposes */
    uint32_t nc2 = 0;
    const pv_hr2_chunk *t2 = hr2_get(h, flip ? 1 : 0, &nc2);
    const size_t rlen = in_len + PV_HR_PAD(h);
    if (grow((void **)&r->rbuf, &r->rbuf_cap, 4 * rlen)) return PV_ERR_NOMEM;
    uint8_t *rw[4];
    for (int i = 0; i < 4; i++) {
      rw[i] = r->rbuf + (size_t)i * rlen;
      memset(rw[i] + in_len, 0, rlen - in_len);
    }
    for (uint32_t y = 0; y < dh; y += 4) {
      const int nr = dh - y >= 4 ? 4 : (int)(dh - y);
      const uint8_t *rr[4];
      uint8_t *dd[4];
      for (int i = 0; i < 4; i++) {
        const int ii = i < nr ? i : nr - 1; /* missing rows repeat the last one */
        dd[i] = po ? stage + (size_t)ii * out_len : dst + (size_t)(y + ii) * dstride;
        rr[i] = rw[ii];
        if (i != ii) continue;
        const uint8_t *b = box + (size_t)v->start[y + i] * sstride;
        if (v->identity) memcpy(rw[i], b, in_len);
        else
          r->conv(rw[i], in_len, b, sstride, v->w + (size_t)(y + i) * v->stride,
                  v->pairs + (size_t)(y + i) * (v->stride / 2), v->n[y + i]);
      }
      if (t2) hrows2_avx2(dd, rr, t2, nc2, out_len);
      else hrows_avx2(dd, rr, h, dw, flip);
      if (po) pv__pix_out_rows(po, y, (uint32_t)nr, stage, out_len);
    }
    return PV_OK;
  }
#endif
  if (grow((void **)&r->vbuf, &r->vbuf_cap, in_len * PV_RS_BLOCK) ||
      grow((void **)&r->tbuf, &r->tbuf_cap, in_len * PV_RS_BLOCK) ||
      grow((void **)&r->obuf, &r->obuf_cap, out_len * PV_RS_BLOCK))
    return PV_ERR_NOMEM;

  for (uint32_t y0 = 0; y0 < dh; y0 += PV_RS_BLOCK) {
    const int nrows = dh - y0 < PV_RS_BLOCK ? (int)(dh - y0) : PV_RS_BLOCK;
    const uint8_t *rows[PV_RS_BLOCK];
    for (int i = 0; i < nrows; i++) {
      const uint32_t y = y0 + (uint32_t)i;
      const uint8_t *b = box + (size_t)v->start[y] * sstride;
      if (v->identity) {
        rows[i] = b;
      } else {
        uint8_t *o = r->vbuf + (size_t)i * in_len;
        r->conv(o, in_len, b, sstride, v->w + (size_t)y * v->stride,
                  v->pairs + (size_t)y * (v->stride / 2), v->n[y]);
        rows[i] = o;
      }
    }
    for (int i = nrows; i < PV_RS_BLOCK; i++) rows[i] = rows[nrows - 1]; /* padding lanes */
    transpose_in(r->tbuf, rows, in_len);

    /* Horizontal pass: output pixel x is 48 bytes (3 channels x 16 rows)
     * weighing n consecutive 48-byte input pixels. */
    r->hpass(r->obuf, r->tbuf, h, dw);
    if (flip) mirror_block(r->obuf, dw);

    if (po) {
      transpose_out(stage, out_len, nrows, r->obuf, out_len);
      pv__pix_out_rows(po, y0, (uint32_t)nrows, stage, out_len);
    } else {
      transpose_out(dst + (size_t)y0 * dstride, dstride, nrows, r->obuf, out_len);
    }
  }
  return PV_OK;
}

pv_status pv__resample_rgb8(pv_resampler *r, pv_filter filter, const uint8_t *src, uint32_t sw,
                            uint32_t sh, size_t sstride, uint32_t bx, uint32_t by, uint32_t bw,
                            uint32_t bh, uint8_t *dst, uint32_t dw, uint32_t dh, size_t dstride) {
  return resample_impl(r, filter, src, sw, sh, sstride, bx, by, bw, bh, dw, dh, 0, 0, dst, dw, dh,
                       dstride, 0, NULL);
}

pv_status pv__resample_rgb8_flip(pv_resampler *r, pv_filter filter, const uint8_t *src,
                                 uint32_t sw, uint32_t sh, size_t sstride, uint32_t bx,
                                 uint32_t by, uint32_t bw, uint32_t bh, uint8_t *dst, uint32_t dw,
                                 uint32_t dh, size_t dstride) {
  return resample_impl(r, filter, src, sw, sh, sstride, bx, by, bw, bh, dw, dh, 0, 0, dst, dw, dh,
                       dstride, 1, NULL);
}

pv_status pv__resample_rgb8_window(pv_resampler *r, pv_filter filter, const uint8_t *src,
                                   uint32_t sw, uint32_t sh, size_t sstride, uint32_t bx,
                                   uint32_t by, uint32_t bw, uint32_t bh, uint32_t fw,
                                   uint32_t fh, uint32_t wx, uint32_t wy, uint8_t *dst,
                                   uint32_t dw, uint32_t dh, size_t dstride) {
  return resample_impl(r, filter, src, sw, sh, sstride, bx, by, bw, bh, fw, fh, wx, wy, dst, dw,
                       dh, dstride, 0, NULL);
}

pv_status pv__resample_rgb8_out(pv_resampler *r, pv_filter filter, const uint8_t *src, uint32_t sw,
                                uint32_t sh, size_t sstride, uint32_t bx, uint32_t by, uint32_t bw,
                                uint32_t bh, uint32_t fw, uint32_t fh, uint32_t wx, uint32_t wy,
                                int flip, const pv_pix_out *out) {
  if (!out || !out->base || !out->width || !out->height) return PV_ERR_INVALID_ARG;
  if (flip && (fw != out->width || fh != out->height || wx || wy)) return PV_ERR_INVALID_ARG;
  if (out->format == PV_PIX_RGB8)
    return resample_impl(r, filter, src, sw, sh, sstride, bx, by, bw, bh, fw, fh, wx, wy,
                         out->base, out->width, out->height, out->stride, flip, NULL);
  return resample_impl(r, filter, src, sw, sh, sstride, bx, by, bw, bh, fw, fh, wx, wy,
                       out->base, out->width, out->height, (size_t)out->width * 3, flip, out);
}

pv_status pv__resample_rgb8_reference(pv_resampler *r, pv_filter filter, const uint8_t *src,
                                      uint32_t sw, uint32_t sh, size_t sstride, uint32_t bx,
                                      uint32_t by, uint32_t bw, uint32_t bh, uint8_t *dst,
                                      uint32_t dw, uint32_t dh, size_t dstride) {
  pv_status st = check_args(r, filter, src, sw, sh, sstride, bx, by, bw, bh, dst, dw, dh, dstride);
  if (st != PV_OK) return st;
  const double *lut;
  if ((st = lut_get(r, (int)filter, &lut)) != PV_OK) return st;
  pv_axis *h, *v;
  if ((st = axis_get(r->hc, bw, dw, 0, dw, (int)filter, lut, &h)) != PV_OK) return st;
  if ((st = axis_get(r->vc, bh, dh, 0, dh, (int)filter, lut, &v)) != PV_OK) return st;

  const uint8_t *box = src + (size_t)by * sstride + (size_t)bx * 3;
  const size_t in_len = (size_t)bw * 3;
  uint8_t *tmp = malloc(in_len * dh);
  if (!tmp) return PV_ERR_NOMEM;
  for (uint32_t y = 0; y < dh; y++)
    conv_scalar(tmp + (size_t)y * in_len, 0, in_len, box + (size_t)v->start[y] * sstride, sstride,
                v->w + (size_t)y * v->stride, v->n[y]);
  for (uint32_t y = 0; y < dh; y++) {
    const uint8_t *t = tmp + (size_t)y * in_len;
    uint8_t *o = dst + (size_t)y * dstride;
    for (uint32_t x = 0; x < dw; x++)
      conv_scalar(o + (size_t)x * 3, 0, 3, t + (size_t)h->start[x] * 3, 3,
                  h->w + (size_t)x * h->stride, h->n[x]);
  }
  free(tmp);
  return PV_OK;
}
