/* jpeg_fast_bench.c - what the loader's jpeg_decode=fast costs in fidelity
 * and gains in speed, on a dataset's JPEG records.
 *
 * For every JPEG record of DIR it decodes the whole record at full size
 * with TurboJPEG twice: accurate (flags 0: the integer ISLOW IDCT and fancy
 * upsampling, jpeg_decode=accurate) and fast (TJFLAG_FASTDCT |
 * TJFLAG_FASTUPSAMPLE: the IFAST IDCT and plain upsampling, what
 * jpeg_decode=fast sets up in codec/codec_jpeg.c; FFCV sets TJFLAG_FASTDCT
 * alone, the first of the parts measured below), and reports the PSNR of the fast decode against the accurate one
 * over all RGB samples of each record (mean, median, 1st percentile and
 * minimum over records; identical records count as 99 dB; pooled: over
 * all samples of all records) and the largest per-sample difference, for
 * the fast IDCT alone, plain upsampling alone and both (the mode). Then it
 * times REPS rounds of one pass of each mode over all records on one
 * thread (a pass: every record decoded once; the modes interleaved) and
 * prints each mode's median images/s and the median of its per-round
 * speed-up over the accurate pass. One thread: the ratio is a per-core figure; `pvpack bench
 * --jpeg-decode fast|accurate` gives the loader's.
 *
 * usage: jpeg_fast_bench DIR [REPS]            (REPS default 7)
 * Prints key=value lines. Built by bench/CMakeLists.txt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#include "pvpack.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int decode(tjhandle tj, const pv_record *r, uint8_t *buf, int flags) {
  return tjDecompress2(tj, r->data, r->length, buf, (int)r->width, (int)r->width * 3,
                       (int)r->height, TJPF_RGB, flags);
}

/* One pass over the JPEG records in mode flags; seconds, or -1. */
static double pass(tjhandle tj, const pv_dataset *ds, uint64_t n, uint8_t *buf, int flags) {
  double t0 = now_s();
  for (uint64_t i = 0; i < n; i++) {
    pv_record r;
    if (pv_dataset_record(ds, i, &r) != PV_OK || r.codec != PV_CODEC_JPEG)
      continue;
    if (decode(tj, &r, buf, flags) != 0)
      return -1;
  }
  return now_s() - t0;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: jpeg_fast_bench DIR [REPS]\n");
    return 2;
  }
  int reps = argc > 2 ? atoi(argv[2]) : 7;
  if (reps < 1 || reps > 1000) {
    fprintf(stderr, "jpeg_fast_bench: bad REPS\n");
    return 2;
  }
  pv_dataset *ds;
  char err[512] = "";
  if (pv_dataset_open(argv[1], NULL, &ds, err, sizeof err) != PV_OK) {
    fprintf(stderr, "jpeg_fast_bench: %s: %s\n", argv[1], err);
    return 2;
  }
  uint64_t n = pv_dataset_record_count(ds), jpegs = 0;
  size_t maxbuf = 1;
  for (uint64_t i = 0; i < n; i++) {
    pv_record r;
    if (pv_dataset_record(ds, i, &r) != PV_OK || r.codec != PV_CODEC_JPEG)
      continue;
    size_t sz = (size_t)r.width * r.height * 3;
    if (sz > maxbuf)
      maxbuf = sz;
    jpegs++;
  }
  if (!jpegs) {
    fprintf(stderr, "jpeg_fast_bench: %s has no JPEG records\n", argv[1]);
    return 2;
  }
  tjhandle tj = tjInitDecompress();
  uint8_t *a = malloc(maxbuf), *b = malloc(maxbuf);
  double *psnr = malloc(jpegs * sizeof *psnr);
  double *ta = malloc((size_t)reps * sizeof *ta), *tb = malloc((size_t)reps * sizeof *tb);
  double *ratio = malloc((size_t)reps * sizeof *ratio);
  if (!tj || !a || !b || !psnr || !ta || !ratio)
    return 2;

  /* Fidelity of each part of the fast mode alone, then of both (the mode). */
  static const struct {
    const char *name;
    int flags;
  } modes[] = {{"fastdct_only", TJFLAG_FASTDCT},
               {"fastupsample_only", TJFLAG_FASTUPSAMPLE},
               {"fast", TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE}};
  for (size_t md = 0; md < sizeof modes / sizeof *modes; md++) {
    const int flags = modes[md].flags;
    uint64_t k = 0, identical = 0;
    int maxdiff = 0;
    double sse_all = 0, samples_all = 0;
    for (uint64_t i = 0; i < n; i++) {
      pv_record r;
      if (pv_dataset_record(ds, i, &r) != PV_OK || r.codec != PV_CODEC_JPEG)
        continue;
      if (decode(tj, &r, a, 0) != 0 || decode(tj, &r, b, flags) != 0) {
        fprintf(stderr, "jpeg_fast_bench: record %llu: %s\n", (unsigned long long)i,
                tjGetErrorStr2(tj));
        return 1;
      }
      size_t m = (size_t)r.width * r.height * 3;
      double sse = 0;
      for (size_t q = 0; q < m; q++) {
        int d = (int)a[q] - (int)b[q];
        if (abs(d) > maxdiff)
          maxdiff = abs(d);
        sse += (double)d * d;
      }
      sse_all += sse;
      samples_all += (double)m;
      if (sse == 0)
        identical++;
      psnr[k++] = sse == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 * (double)m / sse);
    }
    qsort(psnr, k, sizeof *psnr, cmp_double);
    double mean = 0;
    for (uint64_t q = 0; q < k; q++)
      mean += psnr[q];
    mean /= (double)k;
    printf("mode=%s records=%llu jpeg_records=%llu identical=%llu ", modes[md].name,
           (unsigned long long)n, (unsigned long long)jpegs, (unsigned long long)identical);
    printf("psnr_db_mean=%.2f psnr_db_median=%.2f psnr_db_p1=%.2f "
           "psnr_db_min=%.2f "
           "psnr_db_pooled=%.2f max_abs_diff=%d\n",
           mean, k % 2 ? psnr[k / 2] : 0.5 * (psnr[k / 2 - 1] + psnr[k / 2]), psnr[k / 100],
           psnr[0], 10.0 * log10(255.0 * 255.0 * samples_all / (sse_all > 0 ? sse_all : 1)),
           maxdiff);
  }

  /* Speed: a warm-up pass of each mode, then REPS rounds of one pass of
   * each (interleaved); per mode the median rate and the median of its
   * per-round ratio to the accurate pass of the same round. */
  const size_t nm = sizeof modes / sizeof *modes;
  for (size_t md = 0; md <= nm; md++)
    if (pass(tj, ds, n, a, md < nm ? modes[md].flags : 0) < 0)
      return 1;
  double *t = malloc((nm + 1) * (size_t)reps * sizeof *t);
  if (!t)
    return 2;
  for (int rep = 0; rep < reps; rep++)
    for (size_t md = 0; md <= nm; md++) {
      double el = pass(tj, ds, n, a, md == 0 ? 0 : modes[md - 1].flags);
      if (el <= 0)
        return 1;
      t[md * (size_t)reps + (size_t)rep] = el;
    }
  for (size_t md = 0; md <= nm; md++) {
    for (int rep = 0; rep < reps; rep++) {
      ta[rep] = t[md * (size_t)reps + (size_t)rep];
      ratio[rep] = t[(size_t)rep] / ta[rep];
    }
    printf("mode=%s images_per_s=%.1f speedup_vs_accurate_median=%.3f reps=%d threads=1\n",
           md == 0 ? "accurate" : modes[md - 1].name, (double)jpegs / median(ta, (size_t)reps),
           median(ratio, (size_t)reps), reps);
  }
  free(t);
  free(a);
  free(b);
  free(psnr);
  free(ta);
  free(ratio);
  tjDestroy(tj);
  pv_dataset_close(ds);
  return 0;
}
