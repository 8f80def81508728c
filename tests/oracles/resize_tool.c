/* resize_tool.c - the resampler oracle driver for resize_psnr.py (not a test).
 *
 * Build (from the repository root):
 *   gcc -std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -Iformat/include -Iimage/include \
 *       -Iimage tests/oracles/resize_tool.c image/resample.c format/status.c -lm -o resize_tool
 *
 * Resize mode: reads one binary PPM (P6, maxval 255) from a file or "-" for
 * stdin, resizes it to each SPEC (WxH:filter, filter = bilinear | bicubic |
 * lanczos) and writes the results to stdout as concatenated PPMs, in order.
 * For each SPEC one line "resize WxH filter us=<best of -r runs>" goes to
 * stderr (resize time only, no I/O). tests/oracles/resize_psnr.py drives this.
 *   resize_tool [-r REPS] IN.ppm|- 256x341:bilinear 256x341:lanczos > out.ppm
 *
 * Speed mode: times 224x224 outputs from a 256x341 source (a synthetic photo-
 * like pattern) per filter, averaged over ITERS calls on one core:
 * for each kernel level this CPU runs (avx2, sse2, scalar):
 *   fixed box    - same box every call (coefficient tables cached),
 *   random crops - a different random box (64..256 x 64..341) each call, as
 *                  RandomResizedCrop does (tables rebuilt every call),
 *   reference    - pv__resample_rgb8_reference (unblocked, unvectorised).
 * Figures are the best of 10 batches, to shrug off a noisy neighbour.
 *   resize_tool --speed [ITERS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resample.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Reads one PPM token (an unsigned integer), skipping blanks and comments. */
static int ppm_uint(FILE *f, unsigned *out) {
  int c;
  for (;;) {
    c = getc(f);
    if (c == '#') {
      while (c != '\n' && c != EOF) c = getc(f);
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      break;
    }
  }
  if (c < '0' || c > '9') return -1;
  unsigned v = 0;
  while (c >= '0' && c <= '9') {
    if (v > 100000000u) return -1;
    v = v * 10 + (unsigned)(c - '0');
    c = getc(f);
  }
  *out = v; /* c is the single whitespace after the token */
  return 0;
}

static uint8_t *read_ppm(FILE *f, uint32_t *w, uint32_t *h) {
  unsigned mw, mh, maxv;
  if (getc(f) != 'P' || getc(f) != '6') return NULL;
  if (ppm_uint(f, &mw) || ppm_uint(f, &mh) || ppm_uint(f, &maxv)) return NULL;
  if (!mw || !mh || maxv != 255 || (uint64_t)mw * mh > (1u << 28)) return NULL;
  size_t n = (size_t)mw * mh * 3;
  uint8_t *p = malloc(n);
  if (!p || fread(p, 1, n, f) != n) {
    free(p);
    return NULL;
  }
  *w = mw;
  *h = mh;
  return p;
}

static int resize_mode(int argc, char **argv) {
  int reps = 1, a = 1;
  if (a + 1 < argc && !strcmp(argv[a], "-r")) {
    reps = atoi(argv[a + 1]);
    if (reps < 1) reps = 1;
    a += 2;
  }
  if (a >= argc) {
    fprintf(stderr, "usage: resize_tool [-r REPS] IN.ppm|- WxH:filter...\n"
                    "       resize_tool --speed [ITERS]\n");
    return 2;
  }
  FILE *in = strcmp(argv[a], "-") ? fopen(argv[a], "rb") : stdin;
  if (!in) {
    perror(argv[a]);
    return 1;
  }
  uint32_t sw, sh;
  uint8_t *src = read_ppm(in, &sw, &sh);
  if (in != stdin) fclose(in);
  if (!src) {
    fprintf(stderr, "%s: not a binary 8-bit PPM\n", argv[a]);
    return 1;
  }
  pv_resampler *rs;
  if (pv__resampler_create(&rs) != PV_OK) return 1;
  int rc = 0;
  for (a++; a < argc; a++) {
    unsigned dw, dh;
    char fname[32];
    if (sscanf(argv[a], "%ux%u:%31s", &dw, &dh, fname) != 3 || pv__filter_from_name(fname) < 0) {
      fprintf(stderr, "bad spec %s (want WxH:filter)\n", argv[a]);
      rc = 2;
      break;
    }
    pv_filter flt = (pv_filter)pv__filter_from_name(fname);
    uint8_t *dst = malloc((size_t)dw * dh * 3 + 1);
    double best = 1e30;
    pv_status st = PV_ERR_NOMEM;
    for (int i = 0; dst && i < reps; i++) {
      double t0 = now_us();
      st = pv__resample_rgb8(rs, flt, src, sw, sh, (size_t)sw * 3, 0, 0, sw, sh, dst, dw, dh,
                             (size_t)dw * 3);
      double t = now_us() - t0;
      if (t < best) best = t;
      if (st != PV_OK) break;
    }
    if (st != PV_OK) {
      fprintf(stderr, "resize %ux%u %s failed: %s\n", dw, dh, fname, pv_strerror(st));
      free(dst);
      rc = 1;
      break;
    }
    fprintf(stderr, "resize %ux%u %s us=%.1f\n", dw, dh, fname, best);
    printf("P6\n%u %u\n255\n", dw, dh);
    fwrite(dst, 1, (size_t)dw * dh * 3, stdout);
    free(dst);
  }
  fflush(stdout);
  pv__resampler_destroy(rs);
  free(src);
  return rc;
}

static uint32_t rng_state = 12345;
static uint32_t rng(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

static int speed_mode(int iters) {
  const uint32_t sw = 256, sh = 341, dw = 224, dh = 224;
  uint8_t *src = malloc((size_t)sw * sh * 3), *dst = malloc((size_t)dw * dh * 3);
  if (!src || !dst) return 1;
  /* Smooth gradients plus deterministic noise: the timing does not depend
   * on content, but keep it image-like. */
  for (uint32_t y = 0; y < sh; y++)
    for (uint32_t x = 0; x < sw; x++) {
      uint8_t *p = src + ((size_t)y * sw + x) * 3;
      p[0] = (uint8_t)(x + (rng() & 15));
      p[1] = (uint8_t)(y + (rng() & 15));
      p[2] = (uint8_t)((x ^ y) + (rng() & 15));
    }
  pv_resampler *rs;
  if (pv__resampler_create(&rs) != PV_OK) return 1;
  printf("224x224 from 256x341, one core; us per resize = best of 10 batches of %d calls\n",
         iters / 10 > 0 ? iters / 10 : 1);
  static const char *const level_name[] = {"scalar", "sse2", "avx2"};
  for (int level = 2; level >= 0; level--) {
    if (pv__resampler_set_simd(rs, level) != level) continue; /* not on this CPU */
    for (int f = PV_FILTER_BILINEAR; f <= PV_FILTER_LANCZOS; f++) {
      double best[3] = {1e30, 1e30, 1e30};
      int batch = iters / 10 > 0 ? iters / 10 : 1;
      for (int round = 0; round < 10; round++) {
        /* fixed box: tables cached after the first call */
        pv__resample_rgb8(rs, (pv_filter)f, src, sw, sh, sw * 3, 0, 0, sw, sh, dst, dw, dh, dw * 3);
        double t0 = now_us();
        for (int i = 0; i < batch; i++)
          pv__resample_rgb8(rs, (pv_filter)f, src, sw, sh, sw * 3, 0, 0, sw, sh, dst, dw, dh,
                            dw * 3);
        double t = (now_us() - t0) / batch;
        if (t < best[0]) best[0] = t;
        /* a new random box every call (RandomResizedCrop-like): tables rebuilt */
        t0 = now_us();
        for (int i = 0; i < batch; i++) {
          uint32_t bw = 64 + rng() % (sw - 64 + 1), bh = 64 + rng() % (sh - 64 + 1);
          uint32_t bx = rng() % (sw - bw + 1), by = rng() % (sh - bh + 1);
          pv__resample_rgb8(rs, (pv_filter)f, src, sw, sh, sw * 3, bx, by, bw, bh, dst, dw, dh,
                            dw * 3);
        }
        t = (now_us() - t0) / batch;
        if (t < best[1]) best[1] = t;
        if (level == 2 && round < 3) { /* the plain reference, fewer calls: it is slow */
          t0 = now_us();
          for (int i = 0; i < batch / 10 + 1; i++)
            pv__resample_rgb8_reference(rs, (pv_filter)f, src, sw, sh, sw * 3, 0, 0, sw, sh, dst,
                                        dw, dh, dw * 3);
          t = (now_us() - t0) / (batch / 10 + 1);
          if (t < best[2]) best[2] = t;
        }
      }
      printf("%-6s %-8s fixed box %7.1f us   random crops %7.1f us", level_name[level],
             pv__filter_name((pv_filter)f), best[0], best[1]);
      if (level == 2) printf("   plain scalar reference %7.1f us", best[2]);
      printf("\n");
    }
  }
  pv__resampler_destroy(rs);
  free(src);
  free(dst);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "--speed"))
    return speed_mode(argc >= 3 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 2000);
  return resize_mode(argc, argv);
}
