/* augment_bench.c - single-thread speed of the per-sample transforms
 * (reader/augment.c) on a real dataset, against a plain full TurboJPEG
 * decode of the same records.
 *
 *   augment_bench DIR [ROUNDS] [SIZE]
 *
 * Modes, each over every record of DIR, interleaved for ROUNDS rounds
 * (default 5; the best round of each is reported, so that machine noise
 * hits every mode alike):
 *   full   tjDecompress2 of the whole record (the plain-decode ceiling)
 *   train  RandomResizedCrop(SIZE) + flip, partial decode (full_decode = 0),
 *          from a splice of the restart intervals the box covers when the
 *          record has row-aligned restart markers (jpeg_splice.h)
 *   trainP the same with splicing off (libjpeg's crop/skip only)
 *   trainF the same with full_decode = 1 (decode all, crop, resize)
 *   eval   Resize(256) + CenterCrop(SIZE)
 * then the resampler alone (crop boxes of predecoded records -> SIZE) to
 * show what the resize costs. Boxes and flips come from a fixed seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#include "augment.h"
#include "bench_util.h"
#include "pvpack.h"

enum { M_FULL, M_TRAIN, M_TRAIN_PLAIN, M_TRAIN_FULL, M_EVAL, M_COUNT };
static const char *const mode_name[M_COUNT] = {
    "full TurboJPEG decode (tjDecompress2)", "train: RRC + flip, partial decode",
    "train: the same, splicing off", "train: RRC + flip, full_decode=1",
    "eval: Resize(256) + CenterCrop"};

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATASET_DIR [ROUNDS] [SIZE]\n", argv[0]);
    return 2;
  }
  const int rounds = argc > 2 ? atoi(argv[2]) : 5;
  const uint32_t size = argc > 3 ? (uint32_t)atoi(argv[3]) : 224;
  pv_dataset *ds;
  char err[256];
  if (pv_dataset_open(argv[1], NULL, &ds, err, sizeof err) != PV_OK) {
    fprintf(stderr, "open %s: %s\n", argv[1], err);
    return 1;
  }
  const uint64_t n = pv_dataset_record_count(ds);
  pv_record *recs = calloc(n, sizeof *recs);
  uint32_t maxw = 0, maxh = 0;
  uint64_t njpeg = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (pv_dataset_record(ds, i, &recs[i]) != PV_OK) return 1;
    if (recs[i].width > maxw) maxw = recs[i].width;
    if (recs[i].height > maxh) maxh = recs[i].height;
    njpeg += recs[i].codec == PV_CODEC_JPEG;
  }
  uint8_t *full = malloc((size_t)maxw * maxh * 3);
  uint8_t *out = malloc((size_t)size * size * 3);
  tjhandle tj = tjInitDecompress();
  pv_sampler *s;
  if (!recs || !full || !out || !tj || pv__sampler_create(&s) != PV_OK) return 1;
  printf("dataset %s: %llu records (%llu JPEG), up to %ux%u; output %ux%u, 1 thread, best of "
         "%d rounds\n",
         argv[1], (unsigned long long)n, (unsigned long long)njpeg, maxw, maxh, size, size,
         rounds);

  double best[M_COUNT];
  for (int m = 0; m < M_COUNT; m++) best[m] = 1e30;
  for (int r = 0; r < rounds; r++) {
    for (int m = 0; m < M_COUNT; m++) {
      rng g = {1234}; /* the same boxes for the train modes and every round */
      pv__sampler_set_splice(s, m != M_TRAIN_PLAIN);
      const uint64_t spliced0 = pv__sampler_splices(s);
      double t0 = now();
      for (uint64_t i = 0; i < n; i++) {
        const pv_record *rec = &recs[i];
        pv_status st = PV_OK;
        if (m == M_FULL) {
          if (rec->codec == PV_CODEC_JPEG &&
              tjDecompress2(tj, rec->data, rec->length, full, (int)rec->width, 0,
                            (int)rec->height, TJPF_RGB, 0) != 0)
            st = PV_ERR_DECODE;
        } else if (m == M_EVAL) {
          st = pv__sample_eval(s, rec, 256, size, size, PV_FILTER_BILINEAR, out, size * 3);
        } else {
          pv_crop box;
          pv__rrc_params(rec->width, rec->height, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform,
                         &g, &box);
          int flip = (int)(rng_next(&g) & 1);
          st = pv__sample_crop(s, rec, box, size, size, flip, PV_FILTER_BILINEAR,
                               m == M_TRAIN_FULL, out, size * 3);
        }
        if (st != PV_OK) {
          fprintf(stderr, "record %llu (%s): %s\n", (unsigned long long)i, mode_name[m],
                  m == M_FULL ? tjGetErrorStr2(tj) : pv__sampler_last_error(s));
          return 1;
        }
      }
      double dt = now() - t0;
      if (dt < best[m]) best[m] = dt;
      if (r == 0 && m == M_TRAIN)
        printf("  train: %llu of %llu records decoded from a splice\n",
               (unsigned long long)(pv__sampler_splices(s) - spliced0), (unsigned long long)n);
    }
  }
  for (int m = 0; m < M_COUNT; m++)
    printf("  %-40s %8.0f records/s  %6.1f us/record  %5.2fx full decode\n", mode_name[m],
           n / best[m], best[m] / n * 1e6, best[M_FULL] / best[m]);

  /* The resampler alone on the train boxes of the first records, decoded
   * once up front. */
  const uint64_t k = n < 200 ? n : 200;
  uint8_t **px = calloc(k, sizeof *px);
  pv_resampler *rs;
  if (!px || pv__resampler_create(&rs) != PV_OK) return 1;
  for (uint64_t i = 0; i < k; i++) {
    const pv_record *rec = &recs[i];
    px[i] = malloc((size_t)rec->width * rec->height * 3);
    pv_decoder *d;
    if (!px[i] || pv_decoder_create(&d) != PV_OK ||
        pv_decoder_decode(d, rec, px[i], (size_t)rec->width * 3,
                          (size_t)rec->width * rec->height * 3) != PV_OK)
      return 1;
    pv_decoder_destroy(d);
  }
  double rbest = 1e30;
  for (int r = 0; r < rounds; r++) {
    rng g = {1234};
    double t0 = now();
    for (int rep = 0; rep < 5; rep++)
      for (uint64_t i = 0; i < k; i++) {
        const pv_record *rec = &recs[i];
        pv_crop box;
        pv__rrc_params(rec->width, rec->height, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng_uniform, &g,
                       &box);
        if (pv__resample_rgb8(rs, PV_FILTER_BILINEAR, px[i], rec->width, rec->height,
                              (size_t)rec->width * 3, box.x, box.y, box.w, box.h, out, size, size,
                              size * 3) != PV_OK)
          return 1;
      }
    double dt = (now() - t0) / (5.0 * k);
    if (dt < rbest) rbest = dt;
  }
  printf("  %-40s %8.0f records/s  %6.1f us/record\n", "resampler alone (RRC box -> output)",
         1.0 / rbest, rbest * 1e6);
  for (uint64_t i = 0; i < k; i++) free(px[i]);
  free(px);
  pv__resampler_destroy(rs);
  pv__sampler_destroy(s);
  tjDestroy(tj);
  free(out);
  free(full);
  free(recs);
  pv_dataset_close(ds);
  return 0;
}
