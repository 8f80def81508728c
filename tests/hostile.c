/* hostile.c - see hostile.h. */
#include "hostile.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pv_format.h"

static int write_all(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "hostile: %s: %s\n", path, strerror(errno));
    return -1;
  }
  int ok = fwrite(p, 1, n, f) == n;
  ok &= fclose(f) == 0;
  if (!ok) fprintf(stderr, "hostile: cannot write %s\n", path);
  return ok ? 0 : -1;
}

/* Appends n bytes to a growing buffer (realloc). */
typedef struct membuf {
  uint8_t *p;
  size_t n, cap;
} membuf;

static int put(membuf *b, const void *src, size_t n) {
  if (n > b->cap - b->n) {
    size_t nc = b->cap ? b->cap : 4096;
    while (nc - b->n < n) nc *= 2;
    uint8_t *q = realloc(b->p, nc);
    if (!q) return -1;
    b->p = q;
    b->cap = nc;
  }
  if (src)
    memcpy(b->p + b->n, src, n);
  else
    memset(b->p + b->n, 0, n);
  b->n += n;
  return 0;
}

uint8_t *pvh_encode_shard(const pvh_record *r, uint32_t n, uint64_t id, uint32_t index,
                          uint64_t first, size_t *size, pv_shard_ref *ref) {
  pv_shard_writer *w = NULL;
  membuf b = {0};
  uint8_t hb[PV_SHARD_HEADER_SIZE];
  pv_shard_tail t;
  pv_status st = pv_shard_writer_create(&w);
  if (st == PV_OK) st = pv_shard_writer_begin(w, id, index, first, hb);
  if (st == PV_OK && put(&b, hb, sizeof hb)) st = PV_ERR_NOMEM;
  for (uint32_t i = 0; i < n && st == PV_OK; i++) {
    pv_record_entry e = {0,          r[i].length, r[i].label, r[i].width, r[i].height,
                         r[i].codec, r[i].channels ? r[i].channels : 3, r[i].flags, 0};
    uint32_t pad;
    st = pv_shard_writer_append(w, &e, r[i].payload, &pad);
    if (st == PV_OK && (put(&b, NULL, pad) || put(&b, r[i].payload, r[i].length)))
      st = PV_ERR_NOMEM;
  }
  if (st == PV_OK) st = pv_shard_writer_finish(w, &t);
  if (st == PV_OK && (put(&b, NULL, t.pad) || put(&b, t.table, t.table_size) ||
                      put(&b, t.footer, sizeof t.footer)))
    st = PV_ERR_NOMEM;
  pv_shard_writer_destroy(w);
  if (st != PV_OK) {
    fprintf(stderr, "hostile: encoding shard %u: %s\n", index, pv_strerror(st));
    free(b.p);
    return NULL;
  }
  memcpy(b.p, t.header, sizeof t.header);
  *size = b.n;
  if (ref) *ref = t.ref;
  return b.p;
}

int pvh_write_dataset(const char *dir, const pvh_spec *s) {
  int rc = -1;
  const uint64_t id = s->dataset_id ? s->dataset_id : 0x686f7374696c6521ull;
  const uint64_t n = s->record_count;
  const uint32_t per = s->records_per_shard ? s->records_per_shard : (uint32_t)(n ? n : 1);
  const uint32_t shards = (uint32_t)((n + per - 1) / per);
  size_t plen = strlen(dir) + 32;
  char *path = malloc(plen);
  pv_shard_ref *refs = calloc(shards ? shards : 1, sizeof *refs);
  char **names = calloc(s->class_count ? s->class_count : 1, sizeof *names);
  uint64_t *counts = calloc(s->class_count ? s->class_count : 1, sizeof *counts);
  char **paths = calloc(n ? n : 1, sizeof *paths);
  uint32_t *labels = calloc(n ? n : 1, sizeof *labels);
  uint8_t *ix = NULL;
  if (!path || !refs || !names || !counts || !paths || !labels) goto out;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "hostile: mkdir %s: %s\n", dir, strerror(errno));
    goto out;
  }
  for (uint32_t k = 0; k < shards; k++) {
    uint64_t first = (uint64_t)k * per;
    uint32_t cnt = (uint32_t)(n - first < per ? n - first : per);
    size_t size;
    uint8_t *f = pvh_encode_shard(s->records + first, cnt, id, k, first, &size, &refs[k]);
    if (!f) goto out;
    int m = snprintf(path, plen, "%s/", dir);
    snprintf(path + m, plen - (size_t)m, PV_SHARD_NAME_FMT, k);
    int w = write_all(path, f, size);
    free(f);
    if (w) goto out;
  }
  for (uint32_t c = 0; c < s->class_count; c++) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "c%u", c);
    names[c] = strdup(s->class_names ? s->class_names[c] : tmp);
    if (!names[c]) goto out;
    counts[c] = s->class_counts ? s->class_counts[c] : 0;
  }
  for (uint64_t i = 0; i < n; i++) {
    const pvh_record *r = &s->records[i];
    char tmp[64];
    snprintf(tmp, sizeof tmp, "c%u/%llu.jpg", r->index_label, (unsigned long long)i);
    paths[i] = strdup(r->path ? r->path : tmp);
    if (!paths[i]) goto out;
    labels[i] = r->index_label;
    if (!s->class_counts && r->index_label < s->class_count) counts[r->index_label]++;
  }
  pv_index_input in = {id,     shards, refs,   s->class_count, (const char *const *)names,
                       counts, n,      (const char *const *)paths, labels,
                       "tool=hostile\n", "",     0};
  uint64_t isz = pv_index_encoded_size(&in);
  if (isz == 0 || !(ix = malloc((size_t)isz)) || pv_index_encode(&in, ix, isz) != PV_OK) {
    fprintf(stderr, "hostile: index encode failed (size %llu)\n", (unsigned long long)isz);
    goto out;
  }
  snprintf(path, plen, "%s/%s", dir, PV_INDEX_FILENAME);
  rc = write_all(path, ix, (size_t)isz);
out:
  if (names)
    for (uint32_t c = 0; c < s->class_count; c++) free(names[c]);
  if (paths)
    for (uint64_t i = 0; i < n; i++) free(paths[i]);
  free(ix);
  free(labels);
  free(paths);
  free(counts);
  free(names);
  free(refs);
  free(path);
  return rc;
}

uint64_t pvh_reseal_shard(uint8_t *f, size_t n) {
  uint8_t *ft = f + n - PV_SHARD_FOOTER_SIZE;
  pv_store64(f + 56, pv_checksum(f, 56));
  pv_store64(ft + 24, pv_load64(f + 56));
  uint64_t toff = pv_load64(ft), tbytes = (uint64_t)pv_load32(f + 36) * PV_RECORD_ENTRY_SIZE;
  if (toff <= n - PV_SHARD_FOOTER_SIZE && tbytes <= n - PV_SHARD_FOOTER_SIZE - toff)
    pv_store64(ft + 32, pv_checksum(f + toff, (size_t)tbytes));
  pv_store64(ft + 48, pv_checksum(ft, 48));
  return pv_load64(ft + 48);
}

void pvh_reseal_index(uint8_t *f, size_t n) {
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    uint8_t *d = f + 64 + 24 * s;
    uint64_t off = pv_load64(d), sz = pv_load64(d + 8);
    if (off <= n && sz <= n - off) pv_store64(d + 16, pv_checksum(f + off, (size_t)sz));
  }
  pv_store64(f + 248, pv_checksum(f, 248));
  pv_store64(f + n - 16, pv_load64(f + 248));
}

/* Virtual size of this process in bytes (/proc/self/statm, first field in
 * pages), 0 when unknown. */
static uint64_t vm_size(void) {
  unsigned long long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%llu", &pages) != 1) pages = 0;
  fclose(f);
  return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int pvh_run_limited(int (*fn)(void *), void *arg, uint64_t as_bytes, double seconds) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return PVH_SIGNALED;
  if (pid == 0) {
    uint64_t cur = vm_size();
    struct rlimit rl = {(rlim_t)(cur + as_bytes), (rlim_t)(cur + as_bytes)};
    if (cur == 0 || setrlimit(RLIMIT_AS, &rl) != 0) _exit(254);
    /* A last resort should the parent die: the child never outlives the
     * time limit by much. */
    alarm((unsigned)seconds + 5);
    int r = fn(arg);
    fflush(NULL);
    _exit(r & 0xff);
  }
  const double deadline = now_s() + seconds;
  for (;;) {
    int status;
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return PVH_SIGNALED - (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (w < 0 && errno != EINTR) return PVH_SIGNALED;
    if (now_s() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return PVH_TIMEOUT;
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}
