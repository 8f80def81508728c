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
 * range, dataset id: reader/shard_map.h, the same check as pv_dataset_open's;
 * per-record labels), every payload's XXH3, and every
 * padding byte between payloads (must be zero). So every byte of every file
 * the format defines is checked by something.
 *
 * Parallel: the work is cut into chunks of consecutive records (about 4 MiB
 * of payload each) handed to a pool through an atomic counter; hashing runs
 * near memory bandwidth on cached data.
 *
 * Bounded mappings: shards are mapped a window of VERIFY_WINDOW at a time
 * (mapped, structure-checked, their chunks hashed by the pool, unmapped),
 * so verify never holds more than that many mappings whatever the shard
 * count. A mapping or address-space limit (mmap ENOMEM) stops verify with
 * PV_ERR_LIMIT and summary->error: a resource limit, not damage.
 *
 * Files that change while verify reads them: entries are copied out of the
 * mapping and re-checked before use, and every read of mapped bytes runs
 * under the reader's fault guard (reader/guard.h): a shard truncated
 * meanwhile is one problem (PV_ERR_CHANGED, "shard-00003.pvs changed size
 * while mapped (was N, now M)"), never a SIGBUS.
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
#include "dataset_dir.h"
#include "escape.h"
#include "guard.h"
#include "opts_copy.h"
#include "read_limits.h"
#include "pv_format.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "shard_map.h"
#include "verify_options.h"

/* pv_verify_options_init and the option checks: verify_options.c. */

/* Shards mapped at once (each window: map, check structure, hash, unmap). */
#define VERIFY_WINDOW 64u

typedef struct vshard {
  uint8_t *map;
  uint64_t size;
  pv__file_id id;
  int ok; /* structure valid: its records can be checked */
  atomic_int changed; /* a fault was seen: its remaining records are skipped */
  pv_shard_view view;
  char name[64];
} vshard;

typedef struct vchunk {
  uint32_t shard;
  uint32_t first, count; /* records inside the shard */
} vchunk;

typedef struct vstate {
  const pv_verify_options *o;
  const char *dir;
  pv_index_view ix;
  vshard *shards;
  vchunk *chunks; /* of the current window */
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
    /* Copied under the guard and checked (the index may have changed since
     * it was validated), before the lock is taken. */
    uint8_t ib[PV_INDEX_RECORD_SIZE];
    pv_index_record ir;
    if (pv__guard_copy(ib, pv_index_record_bytes(&s->ix, (uint64_t)record), sizeof ib) ==
            PV_OK &&
        pv_index_record_decode(&s->ix, ib, &ir) == PV_OK &&
        pv__guard_copy(src, s->ix.sec[PV_SEC_STRINGS] + ir.path_offset, ir.path_length) ==
            PV_OK) {
      src[ir.path_length] = 0;
      sp = src;
    }
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

static int is_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

/* A fault while reading shard sh: one problem per shard saying how its
 * file changed; the shard's remaining records are skipped. */
static void shard_changed(vstate *s, vshard *sh, int64_t rec) {
  if (atomic_exchange(&sh->changed, 1)) return;
  char path[4200], why[320];
  snprintf(path, sizeof path, "%s/%s", s->dir, sh->name);
  pv_status st = pv__explain_change(path, sh->name, &sh->id, why, sizeof why);
  problem(s, sh->name, rec, st, why);
}

/* Entry j of a shard, copied out of the mapping and checked (the file may
 * have changed since check_shard validated it). */
static pv_status read_entry(vshard *sh, uint32_t j, pv_record_entry *e, char *why, size_t cap) {
  uint8_t eb[PV_RECORD_ENTRY_SIZE];
  if (pv__guard_copy(eb, pv_shard_entry_bytes(&sh->view, j), sizeof eb) != PV_OK)
    return PV_ERR_CHANGED;
  return pv_record_entry_decode(eb, sh->view.footer.table_offset, e, why, cap);
}

/* Payload checksum and the zero padding after it, reading the mapping. */
typedef struct payload_job {
  const uint8_t *file;
  const pv_record_entry *e;
  uint64_t pad_end; /* the next payload's offset or the table's */
  int sum_ok, pad_ok;
} payload_job;

static pv_status payload_run(void *arg) {
  payload_job *j = arg;
  j->sum_ok = pv_checksum(j->file + j->e->offset, j->e->length) == j->e->checksum;
  uint64_t end = j->e->offset + j->e->length;
  j->pad_ok = j->pad_end < end || is_zero(j->file + end, (size_t)(j->pad_end - end));
  return PV_OK;
}

static void check_chunk(vstate *s, const vchunk *c, pv_decoder *dec, uint8_t **pix,
                        size_t *pixcap) {
  vshard *sh = &s->shards[c->shard];
  const pv_shard_view *v = &sh->view;
  char what[320], sub[200];
  uint64_t bytes = 0;
  for (uint32_t j = c->first; j < c->first + c->count; j++) {
    if (atomic_load(&sh->changed)) break;
    pv_record_entry e;
    int64_t rec = (int64_t)(v->header.first_record + j);
    pv_status st = read_entry(sh, j, &e, sub, sizeof sub);
    if (st == PV_ERR_CHANGED) {
      shard_changed(s, sh, rec);
      break;
    }
    if (st != PV_OK) {
      snprintf(what, sizeof what, "record table entry %u: %s (changed during verify)", j, sub);
      problem(s, sh->name, rec, st, what);
      continue;
    }
    bytes += e.length;
    /* Padding after this payload up to the next aligned offset. */
    uint64_t next = v->footer.table_offset;
    if (j + 1 < v->header.record_count) {
      pv_record_entry n;
      st = read_entry(sh, j + 1, &n, sub, sizeof sub);
      if (st == PV_ERR_CHANGED) {
        shard_changed(s, sh, rec);
        break;
      }
      next = st == PV_OK ? n.offset : 0; /* a bad next entry is reported on its turn */
    }
    payload_job pj = {v->file, &e, next, 0, 0};
    if (pv__guard_call(v->file + e.offset, (size_t)(next > e.offset ? next - e.offset : e.length),
                       payload_run, &pj) != PV_OK) {
      shard_changed(s, sh, rec);
      break;
    }
    if (!pj.sum_ok) {
      snprintf(what, sizeof what, "payload checksum mismatch (%s, %u bytes at offset %llu)",
               pv_codec_name(e.codec), e.length, (unsigned long long)e.offset);
      problem(s, sh->name, rec, PV_ERR_CHECKSUM, what);
      continue;
    }
    if (!pj.pad_ok) {
      snprintf(what, sizeof what, "padding bytes [%llu, %llu) after the payload are not zero",
               (unsigned long long)(e.offset + e.length), (unsigned long long)next);
      problem(s, sh->name, rec, PV_ERR_CORRUPT, what);
    }
    uint32_t ilabel = 0;
    if ((uint64_t)rec < s->ix.header.record_count) {
      uint8_t ib[PV_INDEX_RECORD_SIZE];
      pv_index_record ir;
      if (pv__guard_copy(ib, pv_index_record_bytes(&s->ix, (uint64_t)rec), sizeof ib) == PV_OK &&
          pv_index_record_decode(&s->ix, ib, &ir) == PV_OK)
        ilabel = ir.label;
      if (e.label >= s->ix.header.class_count) {
        snprintf(what, sizeof what, "label %u in the shard is out of range (%u classes)", e.label,
                 s->ix.header.class_count);
        problem(s, sh->name, rec, PV_ERR_CORRUPT, what);
      } else if (ilabel != e.label) {
        snprintf(what, sizeof what, "label %u in the shard, %u in the index", e.label, ilabel);
        problem(s, sh->name, rec, PV_ERR_CORRUPT, what);
      }
    }
    if (s->o->decode) {
      pv_record r = {v->file + e.offset, e.length, e.label, e.width, e.height, e.codec, e.flags,
                     e.checksum, (uint64_t)rec, c->shard, j};
      /* The limits first: nothing is allocated for a record over them. */
      st = pv_decoder_check(dec, &r);
      if (st == PV_ERR_CHANGED) {
        shard_changed(s, sh, rec);
        break;
      }
      if (st != PV_OK) {
        snprintf(what, sizeof what, "does not decode: %s", pv_decoder_last_error(dec));
        problem(s, sh->name, rec, st, what);
        continue;
      }
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
      st = pv_decoder_decode(dec, &r, *pix, (size_t)e.width * 3, need);
      if (st == PV_ERR_CHANGED) {
        shard_changed(s, sh, rec);
        break;
      } else if (st != PV_OK) {
        snprintf(what, sizeof what, "does not decode: %s", pv_decoder_last_error(dec));
        /* A limit or out of memory is named as such; anything else is damage. */
        problem(s, sh->name, rec, st == PV_ERR_LIMIT || st == PV_ERR_NOMEM ? st : PV_ERR_DECODE,
                what);
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
  if (s->o->decode &&
      (pv_decoder_create(&dec) != PV_OK || pv_decoder_set_limits(dec, &s->o->limits) != PV_OK)) {
    pv_decoder_destroy(dec);
    return NULL;
  }
  for (;;) {
    size_t i = atomic_fetch_add(&s->next, 1);
    if (i >= s->nchunks) break;
    check_chunk(s, &s->chunks[i], dec, &pix, &pixcap);
  }
  free(pix);
  pv_decoder_destroy(dec);
  return NULL;
}

/* The label count of check_shard, under a guard on the mapping. */
typedef struct label_job {
  vshard *sh;
  uint64_t *label_counts;
  uint32_t class_count;
} label_job;

static pv_status label_count_run(void *arg) {
  label_job *j = arg;
  const pv_shard_view *v = &j->sh->view;
  for (uint32_t r = 0; r < v->header.record_count; r++) {
    pv_record_entry e;
    pv_shard_entry(v, r, &e);
    if (e.label < j->class_count) j->label_counts[e.label]++;
  }
  return PV_OK;
}

/* Maps shard k and checks its structure against the index; returns 1 when
 * its records can be checked, 0 when not, -1 when it could not be mapped
 * for lack of resources (err then says why: verify stops). */
static int check_shard(vstate *s, uint32_t k, uint64_t *label_counts, char *err, size_t errcap) {
  vshard *sh = &s->shards[k];
  char path[4200], why[320];
  snprintf(sh->name, sizeof sh->name, PV_SHARD_NAME_FMT, k);
  int st = pv__map_shard(s->dir, k, path, sizeof path, &sh->map, &sh->size, &sh->id, why,
                         sizeof why);
  if (st == PV_ERR_LIMIT) {
    snprintf(err, errcap, "%s", why);
    return -1;
  }
  if (st != PV_OK) {
    /* why starts with the path; the problem names the file already. */
    const char *w = strncmp(why, path, strlen(path)) == 0 ? why + strlen(path) : why;
    if (*w == ':') w++;
    if (*w == ' ') w++;
    problem(s, sh->name, -1, st == PV_ERR_NOT_FOUND ? PV_ERR_NOT_FOUND : PV_ERR_IO, w);
    return 0;
  }
  if (sh->size) madvise(sh->map, (size_t)sh->size, MADV_SEQUENTIAL);
  pv_shard_ref ref;
  if (pv__shard_ref(&s->ix, k, &ref) != PV_OK) {
    problem(s, PV_INDEX_FILENAME, -1, PV_ERR_CHANGED,
            "changed while verify read it (the reference to a shard is gone)");
    return 0;
  }
  /* The size first, whatever the structure: a shard cut short is named as
   * such before what its truncation broke. */
  if ((st = pv_shard_matches_ref_size(sh->size, &ref, why, sizeof why)) != PV_OK) {
    problem(s, sh->name, -1, st, why);
    ref.file_size = sh->size; /* reported; the rest is still checked */
  }
  st = pv__shard_check(sh->map, sh->size, &ref, &s->ix.header, k, &sh->view, why, sizeof why);
  if (st == PV_ERR_CHANGED) {
    shard_changed(s, sh, -1);
    return 0;
  }
  if (st != PV_OK) {
    problem(s, sh->name, -1, st, why);
    return 0;
  }
  label_job j = {sh, label_counts, s->ix.header.class_count};
  if (pv__guard_call(sh->map, (size_t)sh->size, label_count_run, &j) != PV_OK) {
    shard_changed(s, sh, -1);
    return 0;
  }
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Cuts shard k's records into chunks of about 4 MiB of payload (appends
 * to s->chunks). Reads entries under the guard. PV_OK or PV_ERR_NOMEM. */
static pv_status add_chunks(vstate *s, uint32_t k, size_t *chunk_cap) {
  vshard *sh = &s->shards[k];
  const pv_shard_view *v = &sh->view;
  uint32_t first = 0;
  uint64_t acc = 0;
  for (uint32_t j = 0; j < v->header.record_count; j++) {
    pv_record_entry e;
    char sub[8];
    if (read_entry(sh, j, &e, sub, sizeof sub) == PV_OK) acc += e.length + 64;
    if (acc >= (4u << 20) || j + 1 == v->header.record_count) {
      if (s->nchunks == *chunk_cap) {
        size_t nc = *chunk_cap ? *chunk_cap * 2 : 64;
        vchunk *n = realloc(s->chunks, nc * sizeof *n);
        if (!n) return PV_ERR_NOMEM;
        s->chunks = n;
        *chunk_cap = nc;
      }
      s->chunks[s->nchunks++] = (vchunk){k, first, j + 1 - first};
      first = j + 1;
      acc = 0;
    }
  }
  return PV_OK;
}

/* Hashes (and decodes) the chunks of the current window on `threads`
 * threads, the caller's included; returns how many ran. */
static int run_chunks(vstate *s, int threads) {
  atomic_store(&s->next, 0);
  if ((size_t)threads > s->nchunks) threads = s->nchunks ? (int)s->nchunks : 1;
  pthread_t tids[256];
  if (threads > 256) threads = 256;
  int started = 0;
  for (int t = 1; t < threads; t++)
    if (pthread_create(&tids[started], NULL, verify_worker, s) == 0) started++;
  verify_worker(s);
  for (int t = 0; t < started; t++) pthread_join(tids[t], NULL);
  return started + 1;
}

typedef struct index_job {
  vstate *s;
  const uint8_t *map;
  uint64_t size;
  char *why;
  size_t whycap;
} index_job;

static pv_status index_validate_run(void *arg) {
  index_job *j = arg;
  return pv_index_validate(j->map, j->size, &j->s->ix, j->why, j->whycap);
}

static pv_status index_counts_run(void *arg) {
  index_job *j = arg;
  uint64_t *counts = calloc(j->s->ix.header.class_count ? j->s->ix.header.class_count : 1,
                            sizeof *counts);
  if (!counts) return PV_ERR_NOMEM;
  pv_status st = pv_index_check_class_counts(&j->s->ix, counts, j->why, j->whycap);
  free(counts);
  return st;
}

pv_status pv_verify(const char *dir, const pv_verify_options *opts, pv_verify_summary *summary) {
  pv_verify_options o;
  /* Every return fills the summary: a caller may read it whatever the
   * status. */
  if (summary) memset(summary, 0, sizeof *summary);
  /* A caller built against an older, smaller struct: its fields, our
   * defaults for the rest (opts_copy.h); its limits by their own size. */
  if (PV__OPTS_COPY(&o, pv_verify_options_init, opts) != PV_OK ||
      (opts && pv__limits_resolve_nested(opts, opts->size, offsetof(pv_verify_options, limits),
                                         &o.limits) != PV_OK))
    return PV_ERR_INVALID_ARG;
  if (!dir) return PV_ERR_INVALID_ARG;
  {
    /* The ranges of the options table (verify_options.h), before anything
     * is read; summary->error says which option. */
    char oerr[256];
    if (pv__verify_options_check(&o, oerr, sizeof oerr) != PV_OK) {
      if (summary) {
        memset(summary, 0, sizeof *summary);
        snprintf(summary->error, sizeof summary->error, "%s", oerr);
      }
      return PV_ERR_INVALID_ARG;
    }
  }
  double t0 = now_s();
  vstate s;
  memset(&s, 0, sizeof s);
  s.o = &o;
  s.dir = dir;
  pthread_mutex_init(&s.mu, NULL);
  pv_status ret = PV_OK;
  uint8_t *imap = NULL;
  uint64_t isize = 0;
  pv__file_id iid;
  uint64_t *label_counts = NULL;
  char path[4200], why[320], fatal[512] = "";
  uint32_t shards_ok = 0;
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
     * (symbolic links followed, as the reader does) nor a shard file (an
     * ImageFolder, an empty folder) is not a dataset; one that has either
     * is a dataset, damaged or not. */
    pv__dir_scan scan;
    /* A folder that cannot be listed (search permission only) is checked
     * through its index as before. */
    if (pv__scan_dir(dir, &scan, why, sizeof why) == PV_OK && !scan.index_magic &&
        scan.shards == 0) {
      ret = PV_ERR_NOT_PVPACK;
      goto out;
    }
  }
  snprintf(path, sizeof path, "%s/%s", dir, PV_INDEX_FILENAME);
  int st = pv__map_file(path, &imap, &isize, &iid, why, sizeof why);
  if (st == PV_ERR_LIMIT) {
    snprintf(fatal, sizeof fatal, "%s", why);
    ret = PV_ERR_LIMIT;
    goto out;
  }
  if (st != PV_OK) {
    /* A dataset directory without its index is an incomplete build. */
    const char *w = strncmp(why, path, strlen(path)) == 0 ? why + strlen(path) : why;
    if (*w == ':') w++;
    if (*w == ' ') w++;
    problem(&s, PV_INDEX_FILENAME, -1, st, w);
    goto out;
  }
  index_job ij = {&s, imap, isize, why, sizeof why};
  st = pv__guard_call(imap, (size_t)isize, index_validate_run, &ij);
  if (st == PV_ERR_CHANGED) {
    pv__explain_change(path, PV_INDEX_FILENAME, &iid, why, sizeof why);
  } else if (st == PV_ERR_LIMIT) {
    /* Counts over PV_MAX_SHARDS & co (spec 9.1 check 10): beyond what this
     * reader handles, not damage it can point at. */
    snprintf(fatal, sizeof fatal, "%s: %s (this pvpack reads at most %u shards, %u classes, "
             "%llu records)", PV_INDEX_FILENAME, why, PV_MAX_SHARDS, PV_MAX_CLASSES,
             (unsigned long long)PV_MAX_RECORDS);
    memset(&s.ix, 0, sizeof s.ix);
    ret = PV_ERR_LIMIT;
    goto out;
  }
  if (st != PV_OK) {
    problem(&s, PV_INDEX_FILENAME, -1, st, why);
    memset(&s.ix, 0, sizeof s.ix);
    goto out;
  }
  st = pv__guard_call(imap, (size_t)isize, index_counts_run, &ij);
  if (st == PV_ERR_NOMEM) {
    ret = PV_ERR_NOMEM;
    goto out;
  }
  if (st == PV_ERR_CHANGED) pv__explain_change(path, PV_INDEX_FILENAME, &iid, why, sizeof why);
  if (st != PV_OK) problem(&s, PV_INDEX_FILENAME, -1, st, why);
  uint32_t nshards = s.ix.header.shard_count;
  s.shards = calloc(nshards ? nshards : 1, sizeof *s.shards);
  label_counts = calloc(s.ix.header.class_count ? s.ix.header.class_count : 1, sizeof *label_counts);
  if (!s.shards || !label_counts) {
    ret = PV_ERR_NOMEM;
    goto out;
  }
  int threads = o.threads > 0 ? o.threads : pv__available_cpus();
  if (threads < 1) threads = 1;
  size_t chunk_cap = 0;
  int all_ok = 1;
  for (uint32_t k0 = 0; k0 < nshards; k0 += VERIFY_WINDOW) {
    uint32_t k1 = nshards - k0 > VERIFY_WINDOW ? k0 + VERIFY_WINDOW : nshards;
    s.nchunks = 0;
    for (uint32_t k = k0; k < k1 && !fatal[0]; k++) {
      int r = check_shard(&s, k, label_counts, fatal, sizeof fatal);
      s.shards[k].ok = r > 0;
      all_ok &= r > 0;
      if (r > 0 && add_chunks(&s, k, &chunk_cap) != PV_OK) {
        ret = PV_ERR_NOMEM;
        snprintf(fatal, sizeof fatal, "out of memory");
      }
    }
    if (!fatal[0]) {
      int used = run_chunks(&s, threads);
      if (used > threads_used) threads_used = used;
    }
    for (uint32_t k = k0; k < k1; k++) {
      shards_ok += s.shards[k].ok && !atomic_load(&s.shards[k].changed);
      pv__unmap_file(s.shards[k].map, s.shards[k].size);
      s.shards[k].map = NULL;
      s.shards[k].size = 0;
    }
    if (fatal[0]) {
      if (ret == PV_OK) ret = PV_ERR_LIMIT;
      break;
    }
  }
  /* Per-class counts against the shards' labels: only meaningful when
   * every shard could be read. */
  if (all_ok && !fatal[0]) {
    for (uint32_t c = 0; c < s.ix.header.class_count; c++) {
      uint64_t want = pv_index_class_records(&s.ix, c);
      if (label_counts[c] != want) {
        uint32_t len;
        const char *n = pv_index_class_name(&s.ix, c, &len);
        char name[101];
        uint32_t nl = len > 100 ? 100 : len;
        if (pv__guard_copy(name, n, nl) != PV_OK) nl = 0;
        name[nl] = 0;
        snprintf(why, sizeof why, "class %u '%s': index counts %llu records, shards hold %llu", c,
                 name, (unsigned long long)want, (unsigned long long)label_counts[c]);
        problem(&s, PV_INDEX_FILENAME, -1, PV_ERR_CORRUPT, why);
      }
    }
  }

out:
  if (summary) {
    memset(summary, 0, sizeof *summary);
    summary->records_checked = atomic_load(&s.records);
    summary->records_decoded = atomic_load(&s.decoded);
    summary->bytes_checked = atomic_load(&s.bytes);
    summary->shards_checked = shards_ok;
    summary->problems = s.problems;
    summary->seconds = now_s() - t0;
    snprintf(summary->error, sizeof summary->error, "%s", fatal);
    summary->threads = threads_used;
  }
  if (ret == PV_OK && s.problems) ret = s.first_status;
  pv__unmap_file(imap, isize);
  free(s.shards);
  free(s.chunks);
  free(label_counts);
  pthread_mutex_destroy(&s.mu);
  return ret;
}
