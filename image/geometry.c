/* geometry.c - torchvision's crop geometry (geometry.h). Moved here from
 * reader/augment.c unchanged. */
#include "geometry.h"

#include <math.h>
#include <stdint.h>

/* ---- geometry ---------------------------------------------------------------- */

/* Python's round() on a double: round half to even. nearbyint does exactly
 * that under the default rounding mode (FE_TONEAREST), which we never
 * change. */
static double py_round(double v) { return nearbyint(v); }

/* floor(u * n) for u in [0, 1), clamped to [0, n - 1]: one uniform mapped
 * onto torch.randint(0, n)'s range. */
static uint32_t draw_int(double u, uint32_t n) {
  if (n <= 1) return 0;
  double v = floor(u * (double)n);
  if (!(v >= 0.0)) return 0; /* also catches NaN */
  if (v >= (double)n) return n - 1;
  return (uint32_t)v;
}

void pv__rrc_params(uint32_t width, uint32_t height, double scale_min, double scale_max,
                    double ratio_min, double ratio_max, pv_uniform_fn u, void *ctx,
                    pv_crop *out) {
  out->x = out->y = 0;
  out->w = width;
  out->h = height;
  if (width == 0 || height == 0) return;
  const double area = (double)height * (double)width;
  const double log_lo = log(ratio_min), log_hi = log(ratio_max);
  for (int attempt = 0; attempt < 10; attempt++) {
    /* torch's uniform_(a, b) is a + (b - a) * U */
    const double target_area = area * (scale_min + (scale_max - scale_min) * u(ctx));
    const double aspect = exp(log_lo + (log_hi - log_lo) * u(ctx));
    const double wd = py_round(sqrt(target_area * aspect));
    const double hd = py_round(sqrt(target_area / aspect));
    if (wd > 0.0 && wd <= (double)width && hd > 0.0 && hd <= (double)height) {
      const uint32_t w = (uint32_t)wd, h = (uint32_t)hd;
      out->y = draw_int(u(ctx), height - h + 1);
      out->x = draw_int(u(ctx), width - w + 1);
      out->w = w;
      out->h = h;
      return;
    }
  }
  /* Fallback to a central crop with the aspect clamped into the range. */
  const double in_ratio = (double)width / (double)height;
  const double rmin = fmin(ratio_min, ratio_max), rmax = fmax(ratio_min, ratio_max);
  double wd = width, hd = height;
  if (in_ratio < rmin) {
    hd = py_round(wd / rmin);
  } else if (in_ratio > rmax) {
    wd = py_round(hd * rmax);
  }
  /* Only absurd ratio ranges (< 0.5 or NaN) can make a side 0 or too big;
   * keep the box valid rather than follow torchvision into an empty crop. */
  if (!(wd >= 1.0)) wd = 1.0;
  if (!(hd >= 1.0)) hd = 1.0;
  if (wd > width) wd = width;
  if (hd > height) hd = height;
  out->w = (uint32_t)wd;
  out->h = (uint32_t)hd;
  out->y = (height - out->h) / 2;
  out->x = (width - out->w) / 2;
}

/* Offset of a center crop of c out of n along one axis, torchvision's
 * center_crop: padded symmetrically (left/top gets (c - n) // 2) when c > n,
 * else int(round((n - c) / 2.0)) with Python's ties-to-even. */
static int32_t center_offset(uint32_t n, uint32_t c) {
  if (c > n) return -(int32_t)((c - n) / 2);
  return (int32_t)py_round((double)(n - c) / 2.0);
}

void pv__eval_geometry(uint32_t width, uint32_t height, uint32_t resize_to, uint32_t out_w,
                       uint32_t out_h, pv_eval_geom *g) {
  uint32_t rw = width, rh = height;
  if (resize_to != 0 && width != 0 && height != 0) {
    /* torchvision _compute_resized_output_size: the long side is
     * int(size * long / short) in Python floats, i.e. truncated. */
    const uint32_t s = width <= height ? width : height;
    const uint32_t l = width <= height ? height : width;
    double nl = floor((double)resize_to * (double)l / (double)s);
    uint32_t new_long = nl >= 4294967295.0 ? UINT32_MAX : (uint32_t)nl;
    if (width <= height) {
      rw = resize_to;
      rh = new_long;
    } else {
      rw = new_long;
      rh = resize_to;
    }
  }
  g->rw = rw;
  g->rh = rh;
  g->cx = center_offset(rw, out_w);
  g->cy = center_offset(rh, out_h);
}
