/* resample_bench.c - single-thread speed of the resampler alone on the
 * loader's train workload: RandomResizedCrop(SIZE) boxes + horizontal flips
 * (a fixed seed) of predecoded records of a dataset, bilinear, straight to
 * an RGB8 buffer (pv__resample_rgb8_out, the loader's call).
 *
 *   resample_bench DIR [RECORDS] [ROUNDS] [SIZE] [FILTER]
 *
 * Decodes the first RECORDS records (default 300) once, draws 4 boxes per
 * record, then times ROUNDS rounds (default 15) of resampling every box and
 * prints the median and best round in us per resample, and the share of
 * boxes that upscale horizontally (box width <= SIZE): once cold (each box
 * once in turn) and once hot (each box timed right after an untimed run of
 * the same box: the source in cache, as in the loader). Link the same object
 * against two libraries and run them interleaved to compare builds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment.h"
#include "bench_util.h"
#include "pvpack.h"
#include "resample.h"

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

enum { PER_RECORD = 4 };

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATASET_DIR [RECORDS] [ROUNDS] [SIZE] [FILTER]\n", argv[0]);
    return 2;
  }
  uint64_t k = argc > 2 ? (uint64_t)atoll(argv[2]) : 300;
  const int rounds = argc > 3 ? atoi(argv[3]) : 15;
  const uint32_t size = argc > 4 ? (uint32_t)atoi(argv[4]) : 224;
  const int filter = argc > 5 ? pv__filter_from_name(argv[5]) : PV_FILTER_BILINEAR;
  if (rounds < 1 || !size || filter < 0) return 2;
  pv_dataset *ds;
  char err[256];
  if (pv_dataset_open(argv[1], NULL, &ds, err, sizeof err) != PV_OK) {
    fprintf(stderr, "open %s: %s\n", argv[1], err);
    return 1;
  }
  const uint64_t n = pv_dataset_record_count(ds);
  if (k > n) k = n;
  pv_record *recs = calloc(k, sizeof *recs);
  uint8_t **px = calloc(k, sizeof *px);
  pv_crop *box = calloc(k * PER_RECORD, sizeof *box);
  int *flip = calloc(k * PER_RECORD, sizeof *flip);
  uint8_t *out = malloc((size_t)size * size * 3);
  double *t = calloc((size_t)rounds, sizeof *t);
  pv_resampler *rs;
  if (!recs || !px || !box || !flip || !out || !t || pv__resampler_create(&rs) != PV_OK) return 1;
  rng g = {1234};
  uint64_t up = 0;
  for (uint64_t i = 0; i < k; i++) {
    pv_record *rec = &recs[i];
    pv_decoder *d;
    if (pv_dataset_record(ds, i, rec) != PV_OK) return 1;
    px[i] = malloc((size_t)rec->width * rec->height * 3);
    if (!px[i] || pv_decoder_create(&d) != PV_OK ||
        pv_decoder_decode(d, rec, px[i], (size_t)rec->width * 3,
                          (size_t)rec->width * rec->height * 3) != PV_OK)
      return 1;
    pv_decoder_destroy(d);
    for (int j = 0; j < PER_RECORD; j++) {
      pv_crop *b = &box[i * PER_RECORD + j];
      pv__rrc_params(rec->width, rec->height, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &g, b);
      flip[i * PER_RECORD + j] = (int)(rng_next(&g) & 1);
      up += b->w <= size;
    }
  }
  const pv_pix_out po = {.base = out, .width = size, .height = size, .stride = (size_t)size * 3,
                         .format = PV_PIX_RGB8};
  /* cold: every box once, the source as it comes from memory; hot: each
   * box timed right after an untimed run of the same box, so the source is
   * in cache as in the loader, which resamples what it has just decoded. */
  for (int hot = 0; hot < 2; hot++) {
    for (int r = 0; r < rounds; r++) {
      double sum = 0.0;
      for (uint64_t i = 0; i < k; i++)
        for (int j = 0; j < PER_RECORD; j++) {
          const pv_record *rec = &recs[i];
          const pv_crop *b = &box[i * PER_RECORD + j];
          double t0 = 0.0;
          for (int rep = 0; rep <= hot; rep++) {
            if (rep == hot) t0 = now();
            if (pv__resample_rgb8_out(rs, (pv_filter)filter, px[i], rec->width, rec->height,
                                      (size_t)rec->width * 3, b->x, b->y, b->w, b->h, size, size,
                                      0, 0, flip[i * PER_RECORD + j], &po) != PV_OK)
              return 1;
          }
          sum += now() - t0;
        }
      t[r] = sum / (double)(k * PER_RECORD) * 1e6;
    }
    qsort(t, (size_t)rounds, sizeof *t, cmp_double);
    printf("resample %s %s %llu boxes -> %ux%u (%.0f%% upscale in x): median %.2f us, best %.2f "
           "us\n",
           hot ? "hot " : "cold", pv__filter_name((pv_filter)filter),
           (unsigned long long)(k * PER_RECORD), size, size,
           100.0 * (double)up / (double)(k * PER_RECORD), t[rounds / 2], t[0]);
  }
  for (uint64_t i = 0; i < k; i++) free(px[i]);
  pv__resampler_destroy(rs);
  free(px), free(recs), free(box), free(flip), free(out), free(t);
  pv_dataset_close(ds);
  return 0;
}
