/* plan_file.c - the plan of an N-part build, made once and read by every
 * part (build.h), so that the tree is listed once instead of once per part.
 *
 * Why: every part of `pvpack build --part K/N` must make the same plan; by
 * itself each lists the whole tree and stats every file for the plan's
 * fingerprint. On a shared file system that is N x (files) metadata calls
 * against one metadata server, which at 64 or 512 machines costs more than
 * the packing (the model in the README's "Packing on many machines").
 * `pvpack build SRC -o OUT --parts N --plan` lists the tree once and writes
 * OUT/parts/plan/<k>-of-<n>.pvl for every k; part k then reads only its own
 * file, O(files / N), and stats only the files it packs (when it opens
 * them), refusing the part if one changed since the plan.
 *
 * A plan file (all integers little-endian; spec/FORMAT.md, "Part plans"):
 *   header, 64 bytes:
 *     0  magic "PVPLAN01"          8  u32 k          12 u32 n
 *     16 u32 class_count           20 u32 options_len
 *     24 u64 jobs (of the whole plan)
 *     32 u64 first   40 u64 end (the slice pv__plan_part gives part k)
 *     48 u64 fingerprint (part.txt's plan)   56 u64 dataset_id
 *   options text (options_len bytes, no NUL)
 *   class_count x { u32 length, name bytes }
 *   (end - first) x, in pack-time order: a 32-byte entry { u32 label,
 *     u32 path_length, u64 size, u64 mtime_sec, u32 mtime_nsec,
 *     u32 present } then path_length bytes of the path relative to SRC
 *   u64 XXH3-64 of every byte before it.
 * The file is pvpack's, but read as untrusted (a damaged or hand-made file
 * fails the part with a message naming the file and entry, never a
 * signal): its size is bounded, the checksum checked, every field
 * validated. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "cpus.h"
#include "opts_copy.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define PLAN_MAGIC "PVPLAN01"
#define PLAN_HEADER_SIZE 64u
#define PLAN_ENTRY_SIZE 32u
#define PLAN_MAX_OPTIONS (1u << 20)
#define PLAN_MAX_FILE (64ull << 30)
#define PART_MAGIC "pvpack part 1\n" /* part.txt's first line, in the fingerprint */

_Static_assert(sizeof(PLAN_MAGIC) - 1 == 8, "plan magic is 8 bytes");
_Static_assert(8 + 4 * 4 + 5 * 8 == PLAN_HEADER_SIZE, "plan header layout");
_Static_assert(4 + 4 + 8 + 8 + 4 + 4 == PLAN_ENTRY_SIZE, "plan entry layout");

/* The stamps of walk files [begin, end) (a worker of pv__plan_fingerprint). */
typedef struct stat_range {
  const pv__plan *p;
  int dfd;
  size_t begin, end;
  pv__file_stamp *out;
} stat_range;

static void *stat_files(void *arg) {
  stat_range *r = arg;
  for (size_t i = r->begin; i < r->end; i++) {
    struct stat sb;
    memset(&r->out[i], 0, sizeof r->out[i]);
    if (fstatat(r->dfd, r->p->walk.files[i].relpath, &sb, 0) == 0) /* vanished: zeros */
      pv__file_stamp_of(&sb, &r->out[i]);
  }
  return NULL;
}

/* The stat calls run on the build's threads: on a network file system a
 * stat is a round trip, so the listing of a large tree is bound by latency
 * and goes as many times faster as calls are in flight (the hash is then
 * taken in walk order, so it does not depend on the thread count). */
#define STAT_THREADS_MAX 64
#define STAT_MIN_PER_THREAD 4096

pv_status pv__plan_fingerprint(const pv__plan *p, uint32_t n, uint64_t *fp, pv__file_stamp *stamps,
                               char *err, size_t cap) {
  size_t files = p->walk.file_count;
  pv__file_stamp *own = NULL;
  if (!stamps && !(stamps = own = malloc((files ? files : 1) * sizeof *stamps))) {
    snprintf(err, cap, "out of memory");
    return PV_ERR_NOMEM;
  }
  int dfd = open(p->src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    snprintf(err, cap, "%s: %s", p->src, strerror(errno));
    free(own);
    return PV_ERR_IO;
  }
  size_t threads = p->o->threads > 0 ? (size_t)p->o->threads : (size_t)pv__available_cpus();
  if (threads > STAT_THREADS_MAX) threads = STAT_THREADS_MAX;
  if (threads > files / STAT_MIN_PER_THREAD) threads = files / STAT_MIN_PER_THREAD;
  if (threads < 1) threads = 1;
  stat_range r[STAT_THREADS_MAX];
  pthread_t tid[STAT_THREADS_MAX];
  size_t started = 0;
  for (size_t t = 0; t < threads; t++) {
    r[t] = (stat_range){p, dfd, files * t / threads, files * (t + 1) / threads, stamps};
    if (t == 0 || pthread_create(&tid[t], NULL, stat_files, &r[t]) != 0) continue;
    started |= (size_t)1 << t;
  }
  stat_files(&r[0]);
  for (size_t t = 1; t < threads; t++) {
    if (started & ((size_t)1 << t))
      pthread_join(tid[t], NULL);
    else
      stat_files(&r[t]); /* no thread: this one does it */
  }
  close(dfd);

  XXH3_state_t *hs = XXH3_createState();
  if (!hs) {
    free(own);
    snprintf(err, cap, "out of memory");
    return PV_ERR_NOMEM;
  }
  XXH3_64bits_reset(hs);
  XXH3_64bits_update(hs, PART_MAGIC, strlen(PART_MAGIC));
  XXH3_64bits_update(hs, p->options_text, strlen(p->options_text) + 1);
  uint8_t le[8];
  pv_store64(le, n);
  XXH3_64bits_update(hs, le, 8);
  for (size_t i = 0; i < files; i++) {
    const pv_walk_file *f = &p->walk.files[i];
    const pv__file_stamp *s = &stamps[i];
    uint8_t rec[28];
    pv_store64(rec, s->size);
    pv_store64(rec + 8, s->mtime_sec);
    pv_store64(rec + 16, s->mtime_nsec);
    pv_store32(rec + 24, f->label);
    XXH3_64bits_update(hs, f->relpath, strlen(f->relpath) + 1);
    XXH3_64bits_update(hs, rec, sizeof rec);
  }
  *fp = XXH3_64bits_digest(hs);
  XXH3_freeState(hs);
  free(own);
  return PV_OK;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct wbuf {
  FILE *f;
  XXH3_state_t *hs;
  int failed;
} wbuf;

static void put(wbuf *w, const void *p, size_t n) {
  if (!n || w->failed) return;
  XXH3_64bits_update(w->hs, p, n);
  if (fwrite(p, 1, n, w->f) != n) w->failed = 1;
}

static void put32(wbuf *w, uint32_t v) {
  uint8_t b[4];
  pv_store32(b, v);
  put(w, b, 4);
}

static pv_status write_one(const pv__plan *p, uint32_t k, uint32_t n, uint64_t fp,
                           const pv__file_stamp *stamps, const char *dir, char *err, size_t cap) {
  char name[48];
  snprintf(name, sizeof name, "%" PRIu32 "-of-%" PRIu32 ".pvl", k, n);
  uint64_t first = 0, end = 0;
  pv__plan_part(p->jobs, k, n, &first, &end);
  FILE *f = pv__fopen_in(dir, name, err, cap);
  if (!f) return PV_ERR_IO;
  wbuf w = {f, XXH3_createState(), 0};
  if (!w.hs) {
    fclose(f);
    snprintf(err, cap, "out of memory");
    return PV_ERR_NOMEM;
  }
  XXH3_64bits_reset(w.hs);
  size_t ol = strlen(p->options_text);
  uint8_t h[PLAN_HEADER_SIZE];
  memcpy(h, PLAN_MAGIC, 8);
  pv_store32(h + 8, k);
  pv_store32(h + 12, n);
  pv_store32(h + 16, p->walk.class_count);
  pv_store32(h + 20, (uint32_t)ol);
  pv_store64(h + 24, p->jobs);
  pv_store64(h + 32, first);
  pv_store64(h + 40, end);
  pv_store64(h + 48, fp);
  pv_store64(h + 56, p->dataset_id);
  put(&w, h, sizeof h);
  put(&w, p->options_text, ol);
  for (uint32_t c = 0; c < p->walk.class_count; c++) {
    size_t l = strlen(p->walk.classes[c]);
    put32(&w, (uint32_t)l);
    put(&w, p->walk.classes[c], l);
  }
  for (uint64_t j = first; j < end; j++) {
    uint64_t i = p->order[j];
    const pv_walk_file *fl = &p->walk.files[i];
    const pv__file_stamp *s = &stamps[i];
    size_t l = strlen(fl->relpath);
    uint8_t e[PLAN_ENTRY_SIZE];
    pv_store32(e, fl->label);
    pv_store32(e + 4, (uint32_t)l);
    pv_store64(e + 8, s->size);
    pv_store64(e + 16, s->mtime_sec);
    pv_store32(e + 24, s->mtime_nsec);
    pv_store32(e + 28, s->present);
    put(&w, e, sizeof e);
    put(&w, fl->relpath, l);
  }
  uint8_t t[8];
  pv_store64(t, XXH3_64bits_digest(w.hs));
  XXH3_freeState(w.hs);
  int bad = w.failed || fwrite(t, 1, 8, f) != 8 || fflush(f) != 0 || fsync(fileno(f)) != 0;
  int e = errno;
  if (fclose(f) != 0) bad = 1;
  if (bad) {
    snprintf(err, cap, "%s/%s: cannot write: %s", dir, name, strerror(e));
    return PV_ERR_IO;
  }
  return PV_OK;
}

pv_status pv__plan_files_write(const pv__plan *p, uint32_t n, uint64_t fp,
                               const pv__file_stamp *stamps, const char *dir, char *err,
                               size_t cap) {
  if (strlen(p->options_text) > PLAN_MAX_OPTIONS) {
    snprintf(err, cap, "options text over %u bytes", PLAN_MAX_OPTIONS);
    return PV_ERR_LIMIT;
  }
  for (uint32_t k = 0; k < n; k++) {
    pv_status st = write_one(p, k, n, fp, stamps, dir, err, cap);
    if (st != PV_OK) return st;
    if (p->o->cancel && *p->o->cancel) {
      snprintf(err, cap, "interrupted; no plan written");
      return PV_ERR_CANCELLED;
    }
  }
  return pv__fsync_path(dir, NULL, err, cap);
}

/* ---- reading ---------------------------------------------------------------- */

/* A relative path inside class folder `cls`: "cls/..." with no empty, "."
 * or ".." component and no NUL byte. NULL when it is one, else why not. */
static const char *bad_path(const char *s, uint32_t len, const char *cls) {
  if (memchr(s, 0, len)) return "a NUL byte in its path";
  size_t cl = strlen(cls);
  if (len <= cl + 1 || memcmp(s, cls, cl) || s[cl] != '/') return "a path outside its class folder";
  const char *p = s + cl + 1, *e = s + len;
  for (;;) {
    const char *q = memchr(p, '/', (size_t)(e - p));
    if (!q) q = e;
    size_t n = (size_t)(q - p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return "an empty, '.' or '..' path component";
    if (q == e) return NULL;
    p = q + 1;
  }
}

/* The first line of a that differs from b's, for the message. */
static void first_diff(const char *a, const char *b, char *out, size_t cap) {
  while (*a && *b) {
    const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
    size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
    if (la != lb || memcmp(a, b, la)) break;
    a += la + (ea ? 1 : 0);
    b += lb + (eb ? 1 : 0);
  }
  const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
  int la = (int)(ea ? (size_t)(ea - a) : strlen(a)), lb = (int)(eb ? (size_t)(eb - b) : strlen(b));
  snprintf(out, cap, "the plan has '%.*s', this build '%.*s'", la > 120 ? 120 : la, a,
           lb > 120 ? 120 : lb, b);
}

pv_status pv__plan_file_peek(const char *path, uint64_t *fp, uint32_t *n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return errno == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
  uint8_t h[PLAN_HEADER_SIZE];
  ssize_t r = pread(fd, h, sizeof h, 0);
  close(fd);
  if (r != (ssize_t)sizeof h || memcmp(h, PLAN_MAGIC, 8)) return PV_ERR_CORRUPT;
  *n = pv_load32(h + 12);
  *fp = pv_load64(h + 48);
  return PV_OK;
}

pv_status pv__plan_file_read(const char *path, uint32_t k, uint32_t n, const pv_build_options *o,
                             const char *src_abs, pv__plan *p, uint64_t *fp,
                             pv_build_summary *sum, char *err, size_t cap) {
  memset(p, 0, sizeof *p);
  p->o = o;
  p->src = src_abs;
  size_t len = 0;
  uint8_t *b = NULL;
  char rerr[200], dir[4096];
  const char *slash = strrchr(path, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
  pv_status st = pv__read_file(dir, slash ? slash + 1 : path, PLAN_MAX_FILE, &b, &len, rerr,
                               sizeof rerr);
  if (st != PV_OK) {
    snprintf(err, cap, "%s: %s", path, rerr);
    return st;
  }
  st = PV_ERR_CORRUPT;
  char why[160] = "";
  uint64_t at = 0, entry = 0;
  if (len < PLAN_HEADER_SIZE + 8 || memcmp(b, PLAN_MAGIC, 8)) {
    snprintf(why, sizeof why, "not a pvpack plan file");
    goto bad;
  }
  if (pv_load64(b + len - 8) != XXH3_64bits(b, len - 8)) {
    snprintf(why, sizeof why, "checksum mismatch (damaged or cut short)");
    goto bad;
  }
  len -= 8; /* the checksummed bytes */
  uint32_t fk = pv_load32(b + 8), fn = pv_load32(b + 12), classes = pv_load32(b + 16);
  uint32_t ol = pv_load32(b + 20);
  uint64_t jobs = pv_load64(b + 24), first = pv_load64(b + 32), end = pv_load64(b + 40);
  uint64_t want_first = 0, want_end = 0;
  if (fk != k || fn != n) {
    snprintf(why, sizeof why, "it is the plan of part %" PRIu32 " of %" PRIu32 ", not %" PRIu32
             " of %" PRIu32, fk, fn, k, n);
    goto bad;
  }
  if (classes == 0 || classes > PV_MAX_CLASSES || ol > PLAN_MAX_OPTIONS || jobs == 0 ||
      jobs > PV_MAX_RECORDS || pv__plan_part(jobs, k, n, &want_first, &want_end) != PV_OK ||
      first != want_first || end != want_end) {
    snprintf(why, sizeof why, "header fields out of range");
    goto bad;
  }
  at = PLAN_HEADER_SIZE;
  if (ol > len - at) {
    snprintf(why, sizeof why, "options text past the end");
    goto bad;
  }
  if (!(p->options_text = pv__build_options_text(o, src_abs))) goto nomem;
  if (strlen(p->options_text) != ol || memcmp(p->options_text, b + at, ol)) {
    char *theirs = malloc((size_t)ol + 1);
    if (!theirs) goto nomem;
    memcpy(theirs, b + at, ol);
    theirs[ol] = 0;
    char d[300];
    first_diff(theirs, p->options_text, d, sizeof d);
    free(theirs);
    snprintf(err, cap, "%s: the plan was made with other options (%s): give every part the "
             "plan's options, or make the plan again with --force", path, d);
    st = PV_ERR_INVALID_ARG;
    goto out;
  }
  at += ol;
  /* classes: every name at least 5 bytes of the file, so the count is
   * bounded by the file's size before anything is allocated */
  if (classes > (len - at) / 5) {
    snprintf(why, sizeof why, "%" PRIu32 " classes cannot fit", classes);
    goto bad;
  }
  if (!(p->walk.classes = calloc(classes, sizeof *p->walk.classes)) ||
      !(p->walk.class_file_count = calloc(classes, sizeof *p->walk.class_file_count)))
    goto nomem;
  for (uint32_t c = 0; c < classes; c++) {
    if (len - at < 4) goto short_file;
    uint32_t l = pv_load32(b + at);
    at += 4;
    if (l == 0 || l > PV_MAX_PATH_BYTES || l > len - at) {
      snprintf(why, sizeof why, "class %" PRIu32 ": name length %" PRIu32, c, l);
      goto bad;
    }
    const char *s = (const char *)b + at;
    if (memchr(s, 0, l) || memchr(s, '/', l) || (l == 1 && s[0] == '.') ||
        (l == 2 && s[0] == '.' && s[1] == '.')) {
      snprintf(why, sizeof why, "class %" PRIu32 ": not a folder name", c);
      goto bad;
    }
    if (!(p->walk.classes[c] = pv__walk_strdup(&p->walk, s, l))) goto nomem;
    at += l;
  }
  p->walk.class_count = classes;
  uint64_t count = end - first;
  if (count > (len - at) / (PLAN_ENTRY_SIZE + 1)) {
    snprintf(why, sizeof why, "%" PRIu64 " entries cannot fit", count);
    goto bad;
  }
  if (!(p->walk.files = malloc((count ? count : 1) * sizeof *p->walk.files)) ||
      !(p->order = malloc((count ? count : 1) * sizeof *p->order)) ||
      !(p->stamps = malloc((count ? count : 1) * sizeof *p->stamps)))
    goto nomem;
  for (entry = 0; entry < count; entry++) {
    if (len - at < PLAN_ENTRY_SIZE) goto short_file;
    const uint8_t *e = b + at;
    uint32_t label = pv_load32(e), l = pv_load32(e + 4);
    pv__file_stamp s;
    s.size = pv_load64(e + 8);
    s.mtime_sec = pv_load64(e + 16);
    s.mtime_nsec = pv_load32(e + 24);
    s.present = pv_load32(e + 28);
    at += PLAN_ENTRY_SIZE;
    if (label >= classes || l == 0 || l > PV_MAX_PATH_BYTES || l > len - at || s.present > 1 ||
        s.mtime_nsec >= 1000000000u) {
      snprintf(why, sizeof why, "fields out of range");
      goto bad_entry;
    }
    const char *path_s = (const char *)b + at;
    const char *pb = bad_path(path_s, l, p->walk.classes[label]);
    if (pb) {
      snprintf(why, sizeof why, "%s", pb);
      goto bad_entry;
    }
    char *rel = pv__walk_strdup(&p->walk, path_s, l);
    if (!rel) goto nomem;
    if (!pv__has_image_extension(rel)) {
      snprintf(why, sizeof why, "not an image file name");
      goto bad_entry;
    }
    at += l;
    p->walk.files[entry].relpath = rel;
    p->walk.files[entry].label = label;
    p->walk.class_file_count[label]++;
    p->order[entry] = entry;
    p->stamps[entry] = s;
  }
  if (at != len) {
    snprintf(why, sizeof why, "%" PRIu64 " bytes after the last entry", (uint64_t)(len - at));
    goto bad;
  }
  p->walk.file_count = (size_t)count;
  p->job_base = first;
  p->jobs = jobs;
  p->dataset_id = pv_load64(b + 56);
  *fp = pv_load64(b + 48);
  sum->files = jobs;
  sum->classes = classes;
  st = PV_OK;
  goto out;
short_file:
  snprintf(why, sizeof why, "cut short");
  goto bad;
bad_entry:
  snprintf(err, cap, "%s: entry %" PRIu64 " (job %" PRIu64 "): %s", path, entry,
           first + entry, why);
  st = PV_ERR_CORRUPT;
  goto out;
nomem:
  snprintf(err, cap, "%s: out of memory", path);
  st = PV_ERR_NOMEM;
  goto out;
bad:
  snprintf(err, cap, "%s: %s", path, why);
  st = PV_ERR_CORRUPT;
out:
  free(b);
  return st;
}

/* ---- the plan step (pv_build_plan) ------------------------------------------ */

/* "<k>-of-<n>.pvl" with decimal k < n (no sign, no leading zero), nothing else. */
static int is_plan_file_name(const char *name) {
  unsigned k, n;
  char canon[48];
  if (name[0] < '0' || name[0] > '9' || sscanf(name, "%u-of-%u", &k, &n) != 2 || k >= n) return 0;
  snprintf(canon, sizeof canon, "%u-of-%u.pvl", k, n);
  return strcmp(canon, name) == 0;
}

int pv__remove_plan_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? 0 : -1;
  struct dirent *de;
  char path[4096];
  while ((de = readdir(d))) {
    struct stat sb;
    if (!is_plan_file_name(de->d_name) ||
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
        lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
      continue;
    unlink(path);
  }
  closedir(d);
  return rmdir(dir) == 0 || errno == ENOENT ? 0 : -1;
}

/* The plan in dir is complete for fingerprint fp and n: every file there. */
static int plan_is(const char *dir, uint64_t fp, uint32_t n) {
  char path[4096];
  for (uint32_t k = 0; k < n; k++) {
    uint64_t f = 0;
    uint32_t nn = 0;
    if (snprintf(path, sizeof path, "%s/%" PRIu32 "-of-%" PRIu32 ".pvl", dir, k, n) >=
            (int)sizeof path ||
        pv__plan_file_peek(path, &f, &nn) != PV_OK || f != fp || nn != n)
      return 0;
  }
  return 1;
}

pv_status pv_build_plan(const char *src, const char *out_dir, const pv_build_options *opts,
                        uint32_t n, pv_build_summary *summary, char *err, size_t errcap) {
  pv_build_options o;
  pv_build_summary sum;
  char ebuf[512] = "";
  if (!err) {
    err = ebuf;
    errcap = sizeof ebuf;
  }
  err[0] = 0;
  memset(&sum, 0, sizeof sum);
  if (summary) memset(summary, 0, sizeof *summary);
  if (!src || !out_dir || !opts) return PV_ERR_INVALID_ARG;
  if (n == 0 || n > PV_MAX_PARTS) {
    snprintf(err, errcap, "a plan of %" PRIu32 " parts: need 1 <= N <= %u", n, PV_MAX_PARTS);
    return PV_ERR_INVALID_ARG;
  }
  if (pv__build_options_take(opts, &o, err, errcap) != PV_OK) return PV_ERR_INVALID_ARG;
  double t0 = pv__build_now();
  pv_status st = PV_OK;
  char *src_abs = NULL, *tmpdir = NULL, *aside = NULL;
  char parts[2100], final[2100];
  pv__file_stamp *stamps = NULL;
  pv__plan plan;
  memset(&plan, 0, sizeof plan);
  if (strlen(out_dir) > 2048) {
    snprintf(err, errcap, "output path longer than 2048 bytes");
    return PV_ERR_LIMIT;
  }
  snprintf(parts, sizeof parts, "%s/parts", out_dir);
  snprintf(final, sizeof final, "%s/parts/plan", out_dir);
  if ((st = pv__source_realpath(src, &src_abs, err, errcap)) != PV_OK) goto out;
  if ((st = pv__check_output_place(src_abs, out_dir, err, errcap)) != PV_OK) goto out;
  if ((st = pv__plan_make(src, src_abs, &o, &plan, &sum, err, errcap)) != PV_OK) goto out;
  if (!(stamps = calloc(plan.walk.file_count, sizeof *stamps))) {
    st = PV_ERR_NOMEM;
    snprintf(err, errcap, "out of memory");
    goto out;
  }
  uint64_t fp = 0;
  if ((st = pv__plan_fingerprint(&plan, n, &fp, stamps, err, errcap)) != PV_OK) goto out;
  struct stat sb;
  int have = lstat(final, &sb) == 0;
  if (have) {
    if (S_ISDIR(sb.st_mode) && plan_is(final, fp, n) && !o.force) {
      pv__build_log(&o, PV_LOG_INFO, "%s already holds this plan; nothing to do", final);
      goto out; /* PV_OK, sum.threads = 0 */
    }
    if (!S_ISDIR(sb.st_mode) || !o.force) {
      snprintf(err, errcap, "%s holds %s (use --force to replace the plan)", final,
               S_ISDIR(sb.st_mode) ? "a plan of another tree, other options or another N"
                                   : "something that is not pvpack's plan");
      st = PV_ERR_EXISTS;
      goto out;
    }
  }
  if ((st = pv__mkdir_if_missing(out_dir, err, errcap)) != PV_OK ||
      (st = pv__mkdir_if_missing(parts, err, errcap)) != PV_OK)
    goto out;
  if ((st = pv__make_tmpdir(final, &tmpdir, err, errcap)) != PV_OK) goto out;
  if ((st = pv__plan_files_write(&plan, n, fp, stamps, tmpdir, err, errcap)) != PV_OK) goto out;
  if (have) { /* --force: the old plan aside, the new one in, the old one removed */
    if ((st = pv__make_tmpdir(final, &aside, err, errcap)) != PV_OK) goto out;
    if (rename(final, aside) != 0) {
      snprintf(err, errcap, "cannot move %s aside: %s", final, strerror(errno));
      rmdir(aside);
      st = PV_ERR_IO;
      goto out;
    }
  }
  if (rename(tmpdir, final) != 0) {
    int e = errno;
    if ((e == EEXIST || e == ENOTEMPTY) && plan_is(final, fp, n)) {
      /* another run of this plan step won the race: its plan is this one */
      pv__remove_plan_dir(tmpdir);
      goto out;
    }
    snprintf(err, errcap, "cannot rename %s to %s: %s", tmpdir, final, strerror(e));
    st = PV_ERR_IO;
    goto out;
  }
  free(tmpdir);
  tmpdir = NULL;
  if (aside && pv__remove_plan_dir(aside) != 0)
    pv__build_log(&o, PV_LOG_WARN,
                  "warning: kept %s (the replaced plan): files pvpack did not write appeared in it",
                  aside);
  if ((st = pv__fsync_path(parts, NULL, err, errcap)) != PV_OK) goto out;
  sum.threads = 1;
out:
  if (tmpdir) pv__remove_plan_dir(tmpdir);
  sum.seconds = pv__build_now() - t0;
  if (summary) *summary = sum;
  pv__plan_free(&plan);
  free(stamps);
  free(tmpdir);
  free(aside);
  free(src_abs);
  return st;
}
