/* pack_ceiling.c - the same-run ceiling for `pvpack build`: a plain loop that
 * only reads, decodes, resizes and encodes each file (exactly the per-file
 * work of the packer with default options: shorter side 256, bilinear, JPEG
 * q90, originals kept when no resize is needed), on N threads with a static
 * split, with no ordering, no shard writing, no checksums.
 *
 * usage: pack_ceiling THREADS FILE_LIST
 *   FILE_LIST: one absolute path per line. Prints "files_per_s=<x>".
 * Built by bench/CMakeLists.txt; run by bench/pack_bench.py. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "encode.h"
#include "pack_util.h"
#include "resample.h"

typedef struct {
  char **files;
  size_t n, first, step;
  size_t ok;
} part;

static void *run(void *arg) {
  part *p = arg;
  pv_jpeg_encoder *enc;
  pv__jpeg_encoder_create(&enc);
  pv_resampler *rs;
  pv__resampler_create(&rs);
  for (size_t i = p->first; i < p->n; i += p->step) {
    uint8_t *buf;
    size_t len;
    char err[256];
    if (pv__read_file("/", p->files[i], 1u << 30, &buf, &len, err, sizeof err) != PV_OK) continue;
    pv_src_info info;
    if (pv__probe_image(buf, len, &info, err, sizeof err) != PV_OK) {
      free(buf);
      continue;
    }
    uint32_t w = info.width, h = info.height, s = w < h ? w : h, tw = w, th = h;
    if (s > 256) {
      tw = w <= h ? 256 : (uint32_t)((uint64_t)256 * w / h);
      th = w <= h ? (uint32_t)((uint64_t)256 * h / w) : 256;
    }
    int keep = info.format == PV_SRC_JPEG && info.jpeg_is_ycc3 && tw == w && th == h;
    pv_decode_opts o = {0};
    o.max_pixels = 178956970ull;
    o.min_width = keep ? 1 : tw;
    o.min_height = keep ? 1 : th;
    pv_image img;
    if (pv__decode_image(buf, len, &o, &img, err, sizeof err) == PV_OK) {
      if (!keep) {
        uint8_t *out = img.pixels;
        if (img.width != tw || img.height != th) {
          out = malloc((size_t)tw * th * 3);
          pv__resample_rgb8(rs, PV_FILTER_BILINEAR, img.pixels, img.width, img.height,
                            (size_t)img.width * 3, 0, 0, img.width, img.height, out, tw, th,
                            (size_t)tw * 3);
        }
        const uint8_t *jb;
        size_t jn;
        pv__jpeg_encode(enc, out, tw, th, (size_t)tw * 3, 90, 4, &jb, &jn, err, sizeof err);
        if (out != img.pixels) free(out);
      }
      pv__image_free(&img);
      p->ok++;
    }
    free(buf);
  }
  pv__resampler_destroy(rs);
  pv__jpeg_encoder_destroy(enc);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: pack_ceiling THREADS FILE_LIST\n");
    return 2;
  }
  int t = atoi(argv[1]);
  FILE *f = fopen(argv[2], "r");
  if (!f || t < 1) return 2;
  char **files = NULL;
  size_t n = 0, cap = 0;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!*line) continue;
    if (n == cap) files = realloc(files, (cap = cap ? cap * 2 : 1024) * sizeof *files);
    files[n++] = strdup(line);
  }
  fclose(f);
  part *parts = calloc((size_t)t, sizeof *parts);
  pthread_t *tid = calloc((size_t)t, sizeof *tid);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < t; i++) {
    parts[i] = (part){files, n, (size_t)i, (size_t)t, 0};
    pthread_create(&tid[i], NULL, run, &parts[i]);
  }
  size_t ok = 0;
  for (int i = 0; i < t; i++) {
    pthread_join(tid[i], NULL);
    ok += parts[i].ok;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
  printf("files=%zu ok=%zu seconds=%.3f files_per_s=%.1f\n", n, ok, s, n / s);
  return 0;
}
