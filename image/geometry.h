/* geometry.h - the crop geometry of torchvision's transforms (internal to
 * image/, used by reader/'s sampler and the tests).
 *
 * RandomResizedCrop's box draw and Resize + CenterCrop's sizes and offsets,
 * in record pixel coordinates. Pure arithmetic: no allocation, no state; the
 * random draws come from the caller.
 *
 * Depends on: libc (libm). Thread-safety: every function is pure.
 */
#ifndef PV_GEOMETRY_H
#define PV_GEOMETRY_H

#include <stdint.h>

/* A crop box in record pixel coordinates (x = column, y = row). */
typedef struct pv_crop {
  uint32_t x, y, w, h;
} pv_crop;

/* Source of uniform doubles in [0, 1). */
typedef double (*pv_uniform_fn)(void *ctx);

/* torchvision.transforms.RandomResizedCrop.get_params, draw for draw:
 * up to 10 attempts of
 *   target_area = area * U(scale_min, scale_max)
 *   aspect      = exp(U(log ratio_min, log ratio_max))
 *   w = round(sqrt(target_area * aspect)), h = round(sqrt(target_area / aspect))
 *   (round = round-half-to-even, as Python's round)
 *   if 0 < w <= width and 0 < h <= height:
 *       y = floor(U * (height - h + 1)), x = floor(U * (width - w + 1))
 * then the central-crop fallback. Each U consumes one call of u(ctx), in
 * the order torchvision consumes its draws (scale, ratio, then y, x).
 * (torch draws the integer offsets with torch.randint; we map one uniform to
 * the same range, floor(U * n): same distribution, our own stream.)
 * Arithmetic is in doubles (torch computes log(ratio), the uniforms and
 * exp in float32, then sqrt/round in Python floats); since the uniforms are
 * ours anyway, only the distribution matters, and it is the same.
 * Fallback: in_ratio = width / height; below min(ratio): w = width,
 * h = round(w / min(ratio)); above max(ratio): h = height,
 * w = round(h * max(ratio)); else the whole image; centred with floor
 * division. Sides are clamped to [1, size] (torchvision can return an empty
 * side only for ratio bounds below 0.5). The loop consumes 4..22 draws, the
 * fallback exactly 20. Always gives 0 < w <= width, 0 < h <= height and a
 * box inside the image (width, height >= 1; 0 gives the empty image box).
 * Requires 0 < ratio_min <= ratio_max, scale_min <= scale_max. Pure. */
void pv__rrc_params(uint32_t width, uint32_t height, double scale_min, double scale_max,
                    double ratio_min, double ratio_max, pv_uniform_fn u, void *ctx,
                    pv_crop *out);

/* Eval geometry: Resize(resize_to) (shorter side to resize_to, the other
 * side int(resize_to * long / short), as torchvision) then CenterCrop(out_h,
 * out_w) with torchvision's offsets (int(round((rh - out_h) / 2.0))). Gives
 * the resized size and the crop inside it. When resize_to is 0 the image is
 * not resized (pure center crop). If the crop is larger than the resized
 * image, torchvision pads with zeros; we do the same (pad_* > 0). */
typedef struct pv_eval_geom {
  uint32_t rw, rh;      /* size after Resize */
  int32_t cx, cy;       /* crop origin inside the resized image (may be < 0: padding) */
} pv_eval_geom;
void pv__eval_geometry(uint32_t width, uint32_t height, uint32_t resize_to, uint32_t out_w,
                       uint32_t out_h, pv_eval_geom *g);

#endif /* PV_GEOMETRY_H */
