/* make_crop_corpus.c - writes the seeds of fuzz_crop into DIR: JPEGs with
 * row-aligned restart markers from the packer's encoder (several sizes and
 * intervals, one without markers) behind fuzz_crop's 14-byte header.
 *
 *   make_crop_corpus tests/fuzz/corpus/crop
 *
 * Deterministic output; rerun when the encoder changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_crop_corpus DIR\n");
    return 2;
  }
  static const struct {
    unsigned w, h, restart, bx, by, bw, bh, out;
  } seeds[] = {
      {96, 64, 2, 10, 5, 50, 40, 24},  {64, 96, 1, 0, 0, 64, 96, 16},
      {80, 48, 4, 33, 17, 20, 20, 40}, {130, 66, 3, 64, 30, 66, 36, 12},
      {48, 48, 0, 8, 8, 30, 30, 20},
  };
  pv_jpeg_encoder *e;
  if (pv__jpeg_encoder_create(&e) != PV_OK) return 1;
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    const unsigned w = seeds[i].w, h = seeds[i].h;
    unsigned char *rgb = malloc((size_t)w * h * 3);
    if (!rgb) return 1;
    for (unsigned y = 0; y < h; y++)
      for (unsigned x = 0; x < w; x++) {
        unsigned char *p = rgb + ((size_t)y * w + x) * 3;
        p[0] = (unsigned char)(x * 255 / w);
        p[1] = (unsigned char)(y * 255 / h);
        p[2] = (unsigned char)((x ^ y) * 7);
      }
    const uint8_t *jpg;
    size_t len;
    char err[128];
    if (pv__jpeg_encode(e, rgb, w, h, (size_t)w * 3, 80, seeds[i].restart, &jpg, &len, err,
                        sizeof err) != PV_OK) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    unsigned char hdr[14] = {
        (unsigned char)w, (unsigned char)(w >> 8), (unsigned char)h, (unsigned char)(h >> 8),
        (unsigned char)seeds[i].bx, 0, (unsigned char)seeds[i].by, 0,
        (unsigned char)(seeds[i].bw - 1), 0, (unsigned char)(seeds[i].bh - 1), 0,
        (unsigned char)(seeds[i].out - 1), (unsigned char)(i % 6)};
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%02zu-%ux%u-r%u", argv[1], i, w, h, seeds[i].restart);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr || fwrite(jpg, 1, len, f) != len ||
        fclose(f) != 0) {
      fprintf(stderr, "make_crop_corpus: cannot write %s\n", path);
      return 1;
    }
    free(rgb);
  }
  pv__jpeg_encoder_destroy(e);
  return 0;
}
