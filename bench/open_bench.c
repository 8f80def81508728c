/* open_bench.c - dataset open time, resident memory after open, and record
 * lookup cost, for a large dataset (a million tiny records from tools/gen_dataset).
 *
 *  1. warms the page cache by reading every file of DIR once (1 MiB buffer);
 *  2. reads VmRSS / VmHWM / RssAnon / RssFile from /proc/self/status, opens
 *     the dataset (pv_dataset_open, default options) and reads them again:
 *     the deltas are what the open costs in resident memory (RssFile is the
 *     mapped index and shard pages the validation touched);
 *  3. calls pv_dataset_record on every record in a pseudo-random order (an
 *     affine permutation i -> (a*i + c) mod n with gcd(a, n) = 1, so no
 *     permutation array perturbs the memory figures), three passes, timed
 *     (first and best; the payload bytes are not touched: this is the cost
 *     of finding a record), then reads the memory figures once more;
 *  4. closes, then opens and closes REPS more times (default 5) and reports
 *     the best and the median open time (page cache warm).
 *
 * usage: open_bench DIR [REPS]
 * Prints one line of key=value pairs (times in ms, memory in KiB).
 * Built by bench/CMakeLists.txt; run by bench/loader_bench.py. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pvpack.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
  long rss, hwm, anon, file;
} mem;

static mem mem_now(void) {
  mem m = {-1, -1, -1, -1};
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  if (!f) return m;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "VmRSS:", 6)) m.rss = atol(line + 6);
    else if (!strncmp(line, "VmHWM:", 6)) m.hwm = atol(line + 6);
    else if (!strncmp(line, "RssAnon:", 8)) m.anon = atol(line + 8);
    else if (!strncmp(line, "RssFile:", 8)) m.file = atol(line + 8);
  }
  fclose(f);
  return m;
}

static unsigned long long warm(const char *dir) {
  static char buf[1 << 20];
  unsigned long long total = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4096];
  if (!d) return 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) total += (unsigned long long)r;
    close(fd);
  }
  closedir(d);
  return total;
}

static uint64_t gcd(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static pv_dataset *open_or_die(const char *dir) {
  pv_dataset *ds;
  char err[512] = "";
  pv_status st = pv_dataset_open(dir, NULL, &ds, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "open_bench: %s: %s: %s\n", dir, pv_strerror(st), err);
    exit(2);
  }
  return ds;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: open_bench DIR [REPS]\n");
    return 2;
  }
  const char *dir = argv[1];
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  if (reps < 1 || reps > 1000) reps = 5;
  unsigned long long bytes = warm(dir);

  mem m0 = mem_now();
  double t = now_s();
  pv_dataset *ds = open_or_die(dir);
  double first_open = now_s() - t;
  mem m1 = mem_now();

  uint64_t n = pv_dataset_record_count(ds);
  unsigned shards = pv_dataset_shard_count(ds), classes = pv_dataset_class_count(ds);
  uint64_t a = 0x9e3779b97f4a7c15ull % n, c = 0x632be59bd9b4e019ull % n;
  if (a == 0) a = 1;
  while (gcd(a, n) != 1) a++;
  uint64_t sum = 0, bad = 0;
  double lookup_first = 0, lookup = 1e30;
  for (int pass = 0; pass < 3; pass++) {
    uint64_t i = c;
    t = now_s();
    for (uint64_t k = 0; k < n; k++) {
      pv_record r;
      if (pv_dataset_record(ds, i, &r) != PV_OK) bad++;
      sum += r.checksum ^ r.label ^ (uintptr_t)r.data; /* the payload is not touched */
      i += a; /* (a*k + c) mod n without overflow */
      if (i >= n || i < a) i -= n;
    }
    double el = now_s() - t;
    if (pass == 0) lookup_first = el;
    if (el < lookup) lookup = el;
  }
  mem m2 = mem_now();
  pv_dataset_close(ds);

  double *times = malloc((size_t)reps * sizeof *times);
  if (!times) return 2;
  for (int r = 0; r < reps; r++) {
    t = now_s();
    ds = open_or_die(dir);
    times[r] = now_s() - t;
    pv_dataset_close(ds);
  }
  qsort(times, (size_t)reps, sizeof *times, cmp_double);

  printf("records=%llu shards=%u classes=%u dataset_mb=%.1f "
         "open_ms_best=%.2f open_ms_median=%.2f open_ms_first=%.2f "
         "rss_before_kib=%ld rss_after_open_kib=%ld rss_delta_open_kib=%ld "
         "hwm_delta_open_kib=%ld anon_delta_open_kib=%ld file_delta_open_kib=%ld "
         "rss_after_lookups_kib=%ld anon_after_lookups_kib=%ld file_after_lookups_kib=%ld "
         "record_lookup_ns_best=%.1f record_lookup_ns_first=%.1f lookup_errors=%llu checksum_fold=%016llx\n",
         (unsigned long long)n, shards, classes, bytes / 1e6,
         times[0] * 1e3, times[reps / 2] * 1e3, first_open * 1e3, m0.rss, m1.rss, m1.rss - m0.rss,
         m1.hwm - m0.hwm, m1.anon - m0.anon, m1.file - m0.file, m2.rss, m2.anon, m2.file,
         lookup / (double)n * 1e9, lookup_first / (double)n * 1e9, (unsigned long long)bad, (unsigned long long)sum);
  free(times);
  return bad ? 1 : 0;
}
