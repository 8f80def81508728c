/* verify.c - pvpack verify: check every byte a build wrote.
 *
 * Unlike pv_dataset_open, which stops at the first problem, verify keeps
 * going and names each problem (file, record, source path, what): a damaged
 * shard is reported and the others are still checked; inside a shard whose
 * structure is intact every record is checked.
 *
 * Coverage: the index is validated whole (every section checksummed, every
 * padding byte zero). In each shard: header, footer, record table (checksum
 * and each entry), agreement with the index (size, footer checksum, record
 * range, dataset id, per-record labels), every payload's XXH3, and every
 * padding byte between payloads (must be zero). So every byte of every file
 * the format defines is checked by something.
 *
 * Parallel: the work is cut into chunks of consecutive records (about 4 MiB
 * of payload each) handed to a pool through an atomic counter; hashing runs
 * near memory bandwidth on cached data.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpus.h"
#include "escape.h"
#include "pack_util.h"
#include "pv_format.h"
#include "pv_pack.h"
#include "pvpack.h"

void pv_verify_options_init(pv_verify_options *o) {
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  o->max_problems = 100;
}

typedef struct vshard {
  uint8_t *map;
  uint64_t size;
  int ok; /* structure valid: its records can be checked */
  pv_shard_view view;
  char name[64];
} vshard;

typedef struct vchunk {
  uint32_t shard;
  uint32_t first, count; /* records inside the shard */
} vchunk;

typedef struct vstate {
  const pv_verify_options *o;
  pv_index_view ix;
  vshard *shards;
  vchunk *chunks;
  size_t nchunks;
  atomic_size_t next;
  pthread_mutex_t mu;
  uint64_t problems;
  pv_status first_status;
  atomic_uint_fast64_t records, decoded, bytes;
} vstate;

/* Source paths and the class names quoted in `what` come from the dataset:
 * escaped, so they cannot reach the terminal raw or forge a line. */
static void default_problem(void *ctx, const char *file, int64_t record, const char *source,
                            pv_status st, const char *what) {
  (void)ctx;
  flockfile(stderr);
  pv__put_escaped(stderr, file, strlen(file));
  if (record >= 0) {
    fprintf(stderr, ": record %lld (", (long long)record);
    if (source) pv__put_escaped(stderr, source, strlen(source));
    else fputc('?', stderr);
    fputc(')', stderr);
  }
  fputs(": ", stderr);
  pv__put_escaped(stderr, what, strlen(what));
  fprintf(stderr, " [%s]\n", pv_status_name(st));
  funlockfile(stderr);
}

/* Reports one problem; thread-safe. source is taken from the index when
 * record >= 0 and the index is valid. */
static void problem(vstate *s, const char *file, int64_t record, pv_status st, const char *what) {
  char src[PV_MAX_PATH_BYTES + 1];
  const char *sp = NULL;
  if (record >= 0 && s->ix.file && (uint64_t)record < s->ix.header.record_count) {
    uint32_t len;
    const char *p = pv_index_record_path(&s->ix, (uint64_t)record, &len, NULL);
    memcpy(src, p, len);
    src[len] = 0;
    sp = src;
  }
  pthread_mutex_lock(&s->mu);
  if (s->problems == 0) s->first_status = st;
  s->problems++;
  if (s->o->max_problems <= 0 || s->problems <= (uint64_t)s->o->max_problems) {
    if (s->o->problem)
      s->o->problem(s->o->ctx, file, record, sp, st, what);
    else
      default_problem(NULL, file, record, sp, st, what);
  }
  pthread_mutex_unlock(&s->mu);
}

static int map_path(const char *path, uint8_t **map, uint64_t *size, char *why, size_t cap) {
  static uint8_t empty[1];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, cap, "cannot open: %s", strerror(errno));
    return errno == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(why, cap, "not a regular file");
    close(fd);
    return PV_ERR_IO;
  }
  *size = (uint64_t)st.st_size;
  if (*size == 0) {
    *map = empty;
    close(fd);
    return PV_OK;
  }
  void *a = mmap(NULL, (size_t)*size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (a == MAP_FAILED) {
    snprintf(why, cap, "mmap: %s", strerror(errno));
    return PV_ERR_IO;
  }
  madvise(a, (size_t)*size, MADV_SEQUENTIAL);
  *map = a;
  return PV_OK;
}

static int is_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

static void check_chunk(vstate *s, const vchunk *c, pv_decoder *dec, uint8_t **pix,
                        size_t *pixcap) {
  vshard *sh = &s->shards[c->shard];
  const pv_shard_view *v = &sh->view;
  char what[256];
  uint64_t bytes = 0;
  for (uint32_t j = c->first; j < c->first + c->count; j++) {
    pv_record_entry e;
    pv_shard_entry(v, j, &e);
    int64_t rec = (int64_t)(v->header.first_record + j);
    bytes += e.length;
    if (pv_shard_check_record(v, &e) != PV_OK) {
      snprintf(what, sizeof what, "payload checksum mismatch (%s, %u bytes at offset %llu)",
               pv_codec_name(e.codec), e.length, (unsigned long long)e.offset);
      problem(s, sh->name, rec, PV_ERR_CHECKSUM, what);
      continue;
    }
    /* Padding after this payload up to the next aligned offset. */
    uint64_t end = e.offset + e.length;
    uint64_t next = j + 1 < v->header.record_count ? 0 : v->footer.table_offset;
    if (!next) {
      pv_record_entry n;
      pv_shard_entry(v, j + 1, &n);
      next = n.offset;
    }
    if (!is_zero(v->file + end, (size_t)(next - end))) {
      snprintf(what, sizeof what, "padding bytes [%llu, %llu) after the payload are not zero",
               (unsigned long long)end, (unsigned long long)next);
      problem(s, sh->name, rec, PV_ERR_CORRUPT, what);
    }
    uint32_t ilabel = 0;
    if ((uint64_t)rec < s->ix.header.record_count) {
      pv_index_record_path(&s->ix, (uint64_t)rec, NULL, &ilabel);
      if (ilabel != e.label) {
        snprintf(what, sizeof what, "label %u in the shard, %u in the index", e.label, ilabel);
        problem(s, sh->name, rec, PV_ERR_CORRUPT, what);
      }
    }
    if (s->o->decode) {
      size_t need = (size_t)e.width * e.height * 3;
      if (need > *pixcap) {
        uint8_t *n = realloc(*pix, need);
        if (!n) {
          problem(s, sh->name, rec, PV_ERR_NOMEM, "out of memory decoding");
          continue;
        }
        *pix = n;
        *pixcap = need;
      }
      pv_record r = {v->file + e.offset, e.length, e.label, e.width, e.height, e.codec, e.flags,
                     e.checksum, (uint64_t)rec, c->shard, j};
      if (pv_decoder_decode(dec, &r, *pix, (size_t)e.width * 3, need) != PV_OK) {
        snprintf(what, sizeof what, "does not decode: %s", pv_decoder_last_error(dec));
        problem(s, sh->name, rec, PV_ERR_DECODE, what);
      } else {
        atomic_fetch_add(&s->decoded, 1);
      }
    }
  }
  atomic_fetch_add(&s->records, c->count);
  atomic_fetch_add(&s->bytes, bytes);
}

static void *verify_worker(void *arg) {
  vstate *s = arg;
  pv_decoder *dec = NULL;
  uint8_t *pix = NULL;
  size_t pixcap = 0;
  if (s->o->decode && pv_decoder_create(&dec) != PV_OK) return NULL;
  for (;;) {
    size_t i = atomic_fetch_add(&s->next, 1);
    if (i >= s->nchunks) break;
    check_chunk(s, &s->chunks[i], dec, &pix, &pixcap);
  }
  free(pix);
  pv_decoder_destroy(dec);
  return NULL;
}

/* Structural checks of shard k against the index; returns 1 when its
 * records can be checked. */
static int check_shard(vstate *s, const char *dir, uint32_t k, uint64_t *label_counts) {
  vshard *sh = &s->shards[k];
  char path[4200], why[256], sub[200];
  snprintf(sh->name, sizeof sh->name, PV_SHARD_NAME_FMT, k);
  snprintf(path, sizeof path, "%s/%s", dir, sh->name);
  int st = map_path(path, &sh->map, &sh->size, why, sizeof why);
  if (st != PV_OK) {
    problem(s, sh->name, -1, st == PV_ERR_NOT_FOUND ? PV_ERR_NOT_FOUND : PV_ERR_IO, why);
    return 0;
  }
  pv_shard_ref ref;
  pv_index_shard(&s->ix, k, &ref);
  if (sh->size != ref.file_size) {
    snprintf(why, sizeof why, "file is %llu bytes, the index says %llu",
             (unsigned long long)sh->size, (unsigned long long)ref.file_size);
    problem(s, sh->name, -1, sh->size < ref.file_size ? PV_ERR_TRUNCATED : PV_ERR_CORRUPT, why);
  }
  st = pv_shard_validate(sh->map, sh->size, &sh->view, sub, sizeof sub);
  if (st != PV_OK) {
    problem(s, sh->name, -1, st, sub);
    return 0;
  }
  const pv_shard_view *v = &sh->view;
  int ok = 1;
  if (v->footer.footer_checksum != ref.footer_checksum) {
    problem(s, sh->name, -1, PV_ERR_CHECKSUM,
            "footer checksum differs from the one recorded in the index");
    ok = 0;
  }
  if (v->header.shard_index != k || v->header.first_record != ref.first_record ||
      v->header.record_count != ref.record_count ||
      v->header.dataset_id != s->ix.header.dataset_id) {
    snprintf(why, sizeof why,
             "header says shard %u, records [%llu, +%u), dataset %016llx; index expects shard %u, "
             "[%llu, +%u), dataset %016llx",
             v->header.shard_index, (unsigned long long)v->header.first_record,
             v->header.record_count, (unsigned long long)v->header.dataset_id, k,
             (unsigned long long)ref.first_record, ref.record_count,
             (unsigned long long)s->ix.header.dataset_id);
    problem(s, sh->name, -1, PV_ERR_CORRUPT, why);
    ok = 0;
  }
  if (!ok) return 0;
  for (uint32_t j = 0; j < v->header.record_count; j++) {
    pv_record_entry e;
    pv_shard_entry(v, j, &e);
    if (e.label < s->ix.header.class_count) label_counts[e.label]++;
  }
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

pv_status pv_verify(const char *dir, const pv_verify_options *opts, pv_verify_summary *summary) {
  pv_verify_options o;
  if (opts)
    o = *opts;
  else
    pv_verify_options_init(&o);
  if (!dir) return PV_ERR_INVALID_ARG;
  double t0 = now_s();
  vstate s;
  memset(&s, 0, sizeof s);
  s.o = &o;
  pthread_mutex_init(&s.mu, NULL);
  pv_status ret = PV_OK;
  uint8_t *imap = NULL;
  uint64_t isize = 0;
  uint64_t *label_counts = NULL;
  char path[4200], why[256];
  int threads_used = 0;
  struct stat dst;
  if (stat(dir, &dst) != 0) {
    ret = errno == ENOENT || errno == ENOTDIR ? PV_ERR_NOT_FOUND : PV_ERR_IO;
    goto out; /* not damage: nothing to verify */
  }
  if (!S_ISDIR(dst.st_mode)) {
    ret = PV_ERR_NOT_PVPACK;
    goto out;
  }
  {
    /* A directory with neither an index that starts with the index magic
     * nor a shard file (an ImageFolder, an empty folder) is not a dataset;
     * one that has either is a dataset, damaged or not. */
    pv__dir_scan scan;
    /* A folder that cannot be listed (search permission only) is checked
     * through its index as before. */
    if (pv__scan_dir(dir, &scan, why, sizeof why) == PV_OK && !scan.index_ok &&
        scan.shards == 0) {
      ret = PV_ERR_NOT_PVPACK;
      goto out;
    }
  }
  snprintf(path, sizeof path, "%s/%s", dir, PV_INDEX_FILENAME);
  int st = map_path(path, &imap, &isize, why, sizeof why);
  if (st != PV_OK) {
    /* A dataset directory without its index is an incomplete build. */
    problem(&s, PV_INDEX_FILENAME, -1, st, why);
    goto out;
  }
  st = pv_index_validate(imap, isize, &s.ix, why, sizeof why);
  if (st != PV_OK) {
    problem(&s, PV_INDEX_FILENAME, -1, st, why);
    memset(&s.ix, 0, sizeof s.ix);
    goto out;
  }
  uint32_t nshards = s.ix.header.shard_count;
  s.shards = calloc(nshards ? nshards : 1, sizeof *s.shards);
  label_counts = calloc(s.ix.header.class_count ? s.ix.header.class_count : 1, sizeof *label_counts);
  if (!s.shards || !label_counts) {
    ret = PV_ERR_NOMEM;
    goto out;
  }
  size_t chunk_cap = 0;
  for (uint32_t k = 0; k < nshards; k++) {
    if (!(s.shards[k].ok = check_shard(&s, dir, k, label_counts))) continue;
    const pv_shard_view *v = &s.shards[k].view;
    uint32_t first = 0;
    uint64_t acc = 0;
    for (uint32_t j = 0; j < v->header.record_count; j++) {
      pv_record_entry e;
      pv_shard_entry(v, j, &e);
      acc += e.length + 64;
      if (acc >= (4u << 20) || j + 1 == v->header.record_count) {
        if (s.nchunks == chunk_cap) {
          chunk_cap = chunk_cap ? chunk_cap * 2 : 64;
          vchunk *n = realloc(s.chunks, chunk_cap * sizeof *n);
          if (!n) {
            ret = PV_ERR_NOMEM;
            goto out;
          }
          s.chunks = n;
        }
        s.chunks[s.nchunks++] = (vchunk){k, first, j + 1 - first};
        first = j + 1;
        acc = 0;
      }
    }
  }
  /* Per-class counts: only meaningful when every shard could be read. */
  int all_ok = 1;
  for (uint32_t k = 0; k < nshards; k++) all_ok &= s.shards[k].ok;
  if (all_ok) {
    for (uint32_t c = 0; c < s.ix.header.class_count; c++) {
      uint64_t want = pv_index_class_records(&s.ix, c);
      if (label_counts[c] != want) {
        uint32_t len;
        const char *n = pv_index_class_name(&s.ix, c, &len);
        snprintf(why, sizeof why, "class %u '%.*s': index counts %llu records, shards hold %llu", c,
                 (int)(len > 100 ? 100 : len), n, (unsigned long long)want,
                 (unsigned long long)label_counts[c]);
        problem(&s, PV_INDEX_FILENAME, -1, PV_ERR_CORRUPT, why);
      }
    }
  }
  int threads = o.threads > 0 ? o.threads : pv__available_cpus();
  if (threads < 1) threads = 1;
  if ((size_t)threads > s.nchunks) threads = s.nchunks ? (int)s.nchunks : 1;
  pthread_t tids[256];
  if (threads > 256) threads = 256;
  int started = 0;
  for (int t = 1; t < threads; t++)
    if (pthread_create(&tids[started], NULL, verify_worker, &s) == 0) started++;
  verify_worker(&s);
  for (int t = 0; t < started; t++) pthread_join(tids[t], NULL);
  threads_used = started + 1;

out:
  if (summary) {
    memset(summary, 0, sizeof *summary);
    summary->records_checked = atomic_load(&s.records);
    summary->records_decoded = atomic_load(&s.decoded);
    summary->bytes_checked = atomic_load(&s.bytes);
    for (uint32_t k = 0; s.shards && k < s.ix.header.shard_count; k++)
      summary->shards_checked += s.shards[k].ok;
    summary->problems = s.problems;
    summary->seconds = now_s() - t0;
    summary->threads = threads_used;
  }
  if (ret == PV_OK && s.problems) ret = s.first_status;
  if (s.shards)
    for (uint32_t k = 0; k < s.ix.header.shard_count; k++)
      if (s.shards[k].map && s.shards[k].size) munmap(s.shards[k].map, (size_t)s.shards[k].size);
  if (imap && isize) munmap(imap, (size_t)isize);
  free(s.shards);
  free(s.chunks);
  free(label_counts);
  pthread_mutex_destroy(&s.mu);
  return ret;
}
