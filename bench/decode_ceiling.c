/* decode_ceiling.c - the same-run decode ceiling for the batch loader: a plain
 * loop of full-size TurboJPEG decodes of a dataset's JPEG records, with no
 * crop, no resize, no flip, no batching, no queue.
 *
 * It opens a dataset with pv_dataset_open and, on THREADS threads, each
 * owning a static contiguous slice of the record indices [t*n/T, (t+1)*n/T),
 * decodes every JPEG record of its slice with tjDecompress2(TJPF_RGB,
 * flags 0, full size) into one per-thread buffer, for EPOCHS epochs. Records
 * of other codecs are skipped and counted. A failed decode is an error.
 * MODE fast: flags TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE (the decode of the
 * loader's jpeg_decode=fast), the ceiling of that mode.
 *
 * usage: decode_ceiling DIR [THREADS [EPOCHS [accurate|fast]]]
 *        (defaults 2, 3, accurate)
 * Prints "images_per_s=<x> images=<n> seconds=<s> threads=<t> epochs=<e>
 * skipped_non_jpeg=<k> megapixels_per_s=<m>" on one line.
 * Built by bench/CMakeLists.txt; run by bench/loader_bench.py. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#include "pvpack.h"

typedef struct {
  const pv_dataset *ds;
  uint64_t first, end;
  int epochs;
  int flags;
  size_t bufsize;
  uint64_t decoded, skipped, pixels, failed;
} part;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *run(void *arg) {
  part *p = arg;
  tjhandle tj = tjInitDecompress();
  uint8_t *buf = malloc(p->bufsize ? p->bufsize : 1);
  if (!tj || !buf) {
    p->failed++;
    free(buf);
    if (tj) tjDestroy(tj);
    return NULL;
  }
  for (int e = 0; e < p->epochs; e++) {
    for (uint64_t i = p->first; i < p->end; i++) {
      pv_record r;
      if (pv_dataset_record(p->ds, i, &r) != PV_OK) {
        p->failed++;
        continue;
      }
      if (r.codec != PV_CODEC_JPEG) {
        p->skipped++;
        continue;
      }
      if (tjDecompress2(tj, r.data, r.length, buf, (int)r.width, (int)r.width * 3,
                        (int)r.height, TJPF_RGB, p->flags) != 0) {
        p->failed++;
        continue;
      }
      p->decoded++;
      p->pixels += (uint64_t)r.width * r.height;
    }
  }
  tjDestroy(tj);
  free(buf);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 5) {
    fprintf(stderr, "usage: decode_ceiling DIR [THREADS [EPOCHS [accurate|fast]]]\n");
    return 2;
  }
  int flags = 0;
  if (argc > 4 && strcmp(argv[4], "fast") == 0)
    flags = TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE;
  else if (argc > 4 && strcmp(argv[4], "accurate") != 0) {
    fprintf(stderr, "decode_ceiling: MODE is accurate or fast\n");
    return 2;
  }
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  int epochs = argc > 3 ? atoi(argv[3]) : 3;
  if (threads < 1 || threads > 1024 || epochs < 1) {
    fprintf(stderr, "decode_ceiling: bad THREADS or EPOCHS\n");
    return 2;
  }
  pv_dataset *ds;
  char err[512] = "";
  pv_status st = pv_dataset_open(argv[1], NULL, &ds, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "decode_ceiling: %s: %s\n", argv[1], err);
    return 2;
  }
  uint64_t n = pv_dataset_record_count(ds);
  size_t maxbuf = 0; /* the largest decoded record: each thread's buffer */
  for (uint64_t i = 0; i < n; i++) {
    pv_record r;
    if (pv_dataset_record(ds, i, &r) != PV_OK) continue;
    size_t sz = (size_t)r.width * r.height * 3;
    if (sz > maxbuf) maxbuf = sz;
  }
  part *parts = calloc((size_t)threads, sizeof *parts);
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  if (!parts || !tids) return 2;
  for (int t = 0; t < threads; t++) {
    parts[t].ds = ds;
    parts[t].first = n * (uint64_t)t / (uint64_t)threads;
    parts[t].end = n * (uint64_t)(t + 1) / (uint64_t)threads;
    parts[t].epochs = epochs;
    parts[t].flags = flags;
    parts[t].bufsize = maxbuf;
  }
  double t0 = now_s();
  for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, run, &parts[t]);
  for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
  double el = now_s() - t0;
  uint64_t decoded = 0, skipped = 0, pixels = 0, failed = 0;
  for (int t = 0; t < threads; t++) {
    decoded += parts[t].decoded;
    skipped += parts[t].skipped;
    pixels += parts[t].pixels;
    failed += parts[t].failed;
  }
  printf("images_per_s=%.1f images=%llu seconds=%.4f threads=%d epochs=%d "
         "skipped_non_jpeg=%llu megapixels_per_s=%.1f failed=%llu mode=%s\n",
         el > 0 ? decoded / el : 0.0, (unsigned long long)decoded, el, threads, epochs,
         (unsigned long long)skipped, el > 0 ? pixels / el / 1e6 : 0.0,
         (unsigned long long)failed, flags ? "fast" : "accurate");
  free(parts);
  free(tids);
  pv_dataset_close(ds);
  return failed ? 1 : 0;
}
