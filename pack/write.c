/* write.c - the write stage of a build (build.h): jobs encoded by a pool,
 * appended in job order to shards.
 *
 * A pool of workers each encodes one job at a time (pv__encode_job); the
 * ordered writer (the calling thread) appends results to shards in job
 * order. Job j's result goes to slot j % window; a worker may not start job
 * j before job j - window has been written, so at most `window` results
 * (each bounded by max_file_bytes or the encoded size of max_pixels) are in
 * memory at once, whatever the dataset size. Output bytes depend only on
 * (input, options), never on the thread count or timing.
 *
 * Shards: where the bytes go is format/'s pv_shard_writer; this file cuts
 * shards at the shard size and does the I/O (payloads appended, the table
 * and footer at the end, the header rewritten at offset 0, fsync). Memory
 * beyond the window: the open shard's record table (40 bytes a record,
 * bounded by the shard size) and, for the index, a path pointer and a
 * label per record.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "cpus.h"
#include "pack_util.h"
#include "pv_format.h"
#include "pv_pack.h"

_Static_assert(PV_CODEC_COUNT <= PV_PACK_CODEC_SLOTS, "pv_build_summary.codec_records is too small");
_Static_assert(PV_CODEC_COUNT < PV_PACK_CODEC_AUTO, "PV_PACK_CODEC_AUTO must not be a codec byte");

/* ---- the pool ---------------------------------------------------------------- */

typedef struct pool {
  const pv__plan *plan;
  uint64_t end;        /* the job range's end */
  uint32_t window;
  job_result *slots;
  pthread_mutex_t mu;
  pthread_cond_t cv_ready; /* a result became ready */
  pthread_cond_t cv_space; /* the writer advanced */
  uint64_t next_job;       /* next job to hand out (under mu) */
  uint64_t written;        /* jobs consumed by the writer (under mu) */
  int stop;                /* abort workers (under mu) */
  pthread_t *tids;
  int started;             /* worker threads running */
} pool;

static void *worker_main(void *arg) {
  pool *b = arg;
  worker_ctx w = {0};
  int ok = pv__worker_ctx_init(&w);
  for (;;) {
    pthread_mutex_lock(&b->mu);
    while (!b->stop && b->next_job < b->end && b->next_job >= b->written + b->window)
      pthread_cond_wait(&b->cv_space, &b->mu);
    if (b->stop || b->next_job >= b->end) {
      pthread_mutex_unlock(&b->mu);
      break;
    }
    uint64_t job = b->next_job++;
    pthread_mutex_unlock(&b->mu);

    job_result r;
    memset(&r, 0, sizeof r);
    if (ok) {
      pv__encode_job(b->plan, &w, job, &r);
    } else {
      r.status = PV_ERR_NOMEM;
      snprintf(r.reason, sizeof r.reason, "worker could not allocate its codecs");
    }

    pthread_mutex_lock(&b->mu);
    b->slots[job % b->window] = r;
    b->slots[job % b->window].ready = 1;
    pthread_cond_broadcast(&b->cv_ready);
    pthread_mutex_unlock(&b->mu);
  }
  pv__worker_ctx_free(&w);
  return NULL;
}

static int default_threads(void) {
  int n = pv__available_cpus();
  return n > 1024 ? 1024 : n;
}

/* Starts the workers; PV_OK when at least one runs. */
static pv_status pool_start(pool *b, const pv__plan *p, uint64_t first, uint64_t end, int threads,
                            char *err, size_t cap) {
  b->plan = p;
  b->next_job = b->written = first;
  b->end = end;
  b->window = (uint32_t)threads * 4;
  b->slots = calloc(b->window, sizeof *b->slots);
  b->tids = calloc((size_t)threads, sizeof *b->tids);
  if (!b->slots || !b->tids) {
    snprintf(err, cap, "out of memory");
    return PV_ERR_NOMEM;
  }
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cv_ready, NULL);
  pthread_cond_init(&b->cv_space, NULL);
  for (int t = 0; t < threads; t++) {
    if (pthread_create(&b->tids[t], NULL, worker_main, b) != 0) break;
    b->started++;
  }
  if (b->started == 0) {
    snprintf(err, cap, "could not start worker threads");
    return PV_ERR_NOMEM;
  }
  return PV_OK;
}

/* Waits for job j's result and takes it out of its slot; PV_ERR_CANCELLED
 * when o->cancel is raised meanwhile. */
static pv_status pool_take(pool *b, uint64_t j, job_result *r) {
  const pv_build_options *o = b->plan->o;
  pthread_mutex_lock(&b->mu);
  while (!b->slots[j % b->window].ready) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&b->cv_ready, &b->mu, &ts);
    if (o->cancel && *o->cancel) break;
  }
  if (o->cancel && *o->cancel) {
    pthread_mutex_unlock(&b->mu);
    return PV_ERR_CANCELLED;
  }
  *r = b->slots[j % b->window];
  memset(&b->slots[j % b->window], 0, sizeof *r);
  b->written = j + 1;
  pthread_cond_broadcast(&b->cv_space);
  pthread_mutex_unlock(&b->mu);
  return PV_OK;
}

/* Stops and joins the workers, frees what they left. Accepts a zeroed pool. */
static void pool_stop(pool *b) {
  if (b->tids && b->slots) {
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_broadcast(&b->cv_space);
    pthread_mutex_unlock(&b->mu);
    for (int t = 0; t < b->started; t++) pthread_join(b->tids[t], NULL);
    for (uint32_t i = 0; i < b->window; i++) free(b->slots[i].payload);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv_ready);
    pthread_cond_destroy(&b->cv_space);
  }
  free(b->slots);
  free(b->tids);
}

/* ---- the ordered writer ----------------------------------------------------- */

typedef struct out_state {
  const char *dir;
  uint64_t dataset_id;
  uint64_t shard_bytes;
  pv_shard_writer *w;
  int fd;          /* the open shard, -1 when none */
  uint64_t offset; /* bytes written to it */
  pv__shards *s;
  uint32_t shard_cap;
} out_state;

static const uint8_t zero[PV_RECORD_ALIGN];

static pv_status shard_open(out_state *os, uint64_t first_record, char *err, size_t cap) {
  pv__shards *s = os->s;
  char name[64];
  if (s->shard_count >= PV_MAX_SHARDS) {
    /* A reader maps every shard (spec/FORMAT.md 8): more would not open. */
    snprintf(err, cap,
             "the dataset needs more than %u shards of at most %llu bytes (the format's limit): "
             "use a larger --shard-size (%llu bytes written so far)",
             PV_MAX_SHARDS, (unsigned long long)os->shard_bytes,
             (unsigned long long)s->bytes_out);
    return PV_ERR_LIMIT;
  }
  snprintf(name, sizeof name, PV_SHARD_NAME_FMT, s->shard_count);
  os->fd = pv__create_file(os->dir, name, err, cap);
  if (os->fd < 0) return PV_ERR_IO;
  os->offset = 0;
  uint8_t hb[PV_SHARD_HEADER_SIZE]; /* a placeholder until the count is known */
  pv_shard_writer_begin(os->w, os->dataset_id, s->shard_count, first_record, hb);
  return pv__write_all(os->fd, hb, sizeof hb, &os->offset, err, cap);
}

static pv_status shard_close(out_state *os, char *err, size_t cap) {
  pv__shards *s = os->s;
  pv_shard_tail t;
  pv_status st = pv_shard_writer_finish(os->w, &t);
  if (st != PV_OK) return st;
  if ((st = pv__write_all(os->fd, zero, t.pad, &os->offset, err, cap)) != PV_OK ||
      (st = pv__write_all(os->fd, t.table, t.table_size, &os->offset, err, cap)) != PV_OK ||
      (st = pv__write_all(os->fd, t.footer, sizeof t.footer, &os->offset, err, cap)) != PV_OK)
    return st;
  if (pwrite(os->fd, t.header, sizeof t.header, 0) != (ssize_t)sizeof t.header) {
    snprintf(err, cap, "writing shard header: %s", strerror(errno));
    return PV_ERR_IO;
  }
  if ((st = pv__fsync_close(os->fd, err, cap)) != PV_OK) return st;
  os->fd = -1;
  if (s->shard_count == os->shard_cap) {
    uint32_t nc = os->shard_cap ? os->shard_cap * 2 : 16;
    pv_shard_ref *n = realloc(s->refs, nc * sizeof *n);
    if (!n) return PV_ERR_NOMEM;
    s->refs = n;
    os->shard_cap = nc;
  }
  s->refs[s->shard_count++] = t.ref;
  s->bytes_out += t.ref.file_size;
  return PV_OK;
}

/* Appends one record, opening a new shard when this one would grow past the
 * target size (a record larger than the target gets a shard of its own). */
static pv_status shard_append(out_state *os, uint64_t record, uint32_t label, const job_result *r,
                              char *err, size_t cap) {
  pv_status st;
  if (os->fd >= 0 && pv_shard_writer_count(os->w) > 0 &&
      (pv_shard_writer_bound(os->w, r->length) > os->shard_bytes ||
       pv_shard_writer_count(os->w) == UINT32_MAX - 1)) {
    if ((st = shard_close(os, err, cap)) != PV_OK) return st;
  }
  if (os->fd < 0 && (st = shard_open(os, record, err, cap)) != PV_OK) return st;
  pv_record_entry e = {0, r->length, label, r->width, r->height, r->codec, 3, r->flags, 0};
  uint32_t pad;
  if ((st = pv_shard_writer_append(os->w, &e, r->payload, &pad)) != PV_OK) {
    snprintf(err, cap, "record %llu: %s", (unsigned long long)record, pv_strerror(st));
    return st;
  }
  if ((st = pv__write_all(os->fd, zero, pad, &os->offset, err, cap)) != PV_OK) return st;
  return pv__write_all(os->fd, r->payload, r->length, &os->offset, err, cap);
}

/* ---- progress ---------------------------------------------------------------- */

typedef struct progress {
  int mode; /* 0 none, 1 bar, 2 lines, 3 the on_progress callback */
  double start, last;
  const pv_build_options *o;
} progress;

static void progress_show(progress *p, uint64_t done, uint64_t total, int final) {
  if (!p->mode) return;
  double t = pv__build_now();
  if (!final && t - p->last < (p->mode != 2 ? 0.2 : 5.0)) return;
  p->last = t;
  if (p->mode == 3) {
    p->o->on_progress(p->o->progress_ctx, done, total);
    return;
  }
  double el = t - p->start, rate = el > 0 ? done / el : 0;
  double eta = rate > 0 ? (total - done) / rate : 0;
  if (p->mode == 1) {
    int width = 30, fill = total ? (int)(width * done / total) : width;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r[%s] %llu/%llu  %.0f img/s  ETA %d:%02d ", bar, (unsigned long long)done,
            (unsigned long long)total, rate, (int)eta / 60, (int)eta % 60);
    if (final) fputc('\n', stderr);
  } else {
    fprintf(stderr, "progress: %llu/%llu images, %.0f img/s, ETA %.0f s\n",
            (unsigned long long)done, (unsigned long long)total, rate, eta);
  }
  fflush(stderr);
}

/* ---- the stage ---------------------------------------------------------------- */

pv_status pv__write_shards(const pv__plan *p, uint64_t first, uint64_t end, const char *dir,
                           pv__shards *s, pv_build_summary *sum, char *err, size_t cap) {
  const pv_build_options *o = p->o;
  const int threads = o->threads ? o->threads : default_threads();
  const uint64_t jobs = end - first;
  pv_status st = PV_OK;
  FILE *report = NULL, *skipped_f = NULL;
  size_t skipped_len = 0;
  pool b;
  out_state os;
  memset(s, 0, sizeof *s);
  memset(&b, 0, sizeof b);
  memset(&os, 0, sizeof os);
  os.dir = dir;
  os.dataset_id = p->dataset_id;
  os.shard_bytes = o->shard_bytes;
  os.fd = -1;
  os.s = s;

  if (!(report = pv__fopen_in(dir, PV_REPORT_FILENAME, err, cap))) {
    st = PV_ERR_IO;
    goto out;
  }
  if (!(skipped_f = open_memstream(&s->skipped, &skipped_len))) goto out_nomem;
  s->paths = malloc((jobs ? jobs : 1) * sizeof *s->paths);
  s->labels = malloc((jobs ? jobs : 1) * sizeof *s->labels);
  s->class_counts = calloc(p->walk.class_count ? p->walk.class_count : 1, sizeof *s->class_counts);
  if (!s->paths || !s->labels || !s->class_counts) goto out_nomem;
  if (pv_shard_writer_create(&os.w) != PV_OK) goto out_nomem;
  if ((st = pool_start(&b, p, first, end, threads, err, cap)) != PV_OK) goto out;

  progress pg = {0};
  pg.mode = o->progress < 0 ? (isatty(2) ? 1 : 2) : o->progress;
  if (o->on_progress && pg.mode) pg.mode = 3;
  pg.o = o;
  pg.start = pg.last = pv__build_now();
  for (uint64_t j = first; j < end; j++) {
    job_result r;
    if ((st = pool_take(&b, j, &r)) != PV_OK) {
      snprintf(err, cap, "interrupted; no output written");
      goto out;
    }
    const pv_walk_file *f = pv__plan_file(p, j);
    sum->bytes_in += r.bytes_in;
    if (r.status == PV_ERR_CHANGED) { /* a part from a plan file: the tree changed */
      snprintf(err, cap, "%s/%s: %s; make the plan again (pvpack build --plan --force) and "
               "rebuild every part", p->src, f->relpath, r.reason);
      st = PV_ERR_CHANGED;
      free(r.payload);
      goto out;
    }
    if (r.status != PV_OK) {
      sum->skipped++;
      s->skipped_count++;
      fprintf(report, "skipped\t%s\t%s\n", f->relpath, r.reason);
      fprintf(skipped_f, "%s\t%s\n", f->relpath, r.reason);
      pv__build_log(o, PV_LOG_SKIP, "skipped %s: %s", f->relpath, r.reason);
      if (o->strict) {
        snprintf(err, cap, "%s: %s (strict mode)", f->relpath, r.reason);
        st = PV_ERR_SKIPPED;
        goto out;
      }
    } else {
      st = shard_append(&os, s->records, f->label, &r, err, cap);
      free(r.payload);
      if (st != PV_OK) goto out;
      s->paths[s->records] = f->relpath;
      s->labels[s->records] = f->label;
      s->class_counts[f->label]++;
      s->records++;
      sum->codec_records[r.codec]++; /* r.codec < PV_CODEC_COUNT <= slots */
      if (r.flags & PV_RECORD_FLAG_ORIGINAL) sum->original_records++;
      sum->images++;
    }
    progress_show(&pg, j + 1 - first, jobs, j + 1 == end);
  }
  if (os.fd >= 0 && (st = shard_close(&os, err, cap)) != PV_OK) goto out;
  if (fclose(report) != 0) {
    report = NULL;
    snprintf(err, cap, "writing %s: %s", PV_REPORT_FILENAME, strerror(errno));
    st = PV_ERR_IO;
    goto out;
  }
  report = NULL;
  if ((st = pv__fsync_path(dir, PV_REPORT_FILENAME, err, cap)) != PV_OK) goto out;
  goto out;

out_nomem:
  st = PV_ERR_NOMEM;
  snprintf(err, cap, "out of memory");
out:
  pool_stop(&b);
  if (os.fd >= 0) close(os.fd);
  pv_shard_writer_destroy(os.w);
  if (report) fclose(report);
  if (skipped_f) fclose(skipped_f); /* s->skipped: the text written, NUL-terminated */
  sum->shards = s->shard_count;
  sum->bytes_out = s->bytes_out;
  sum->threads = b.started;
  return st;
}

void pv__shards_free(pv__shards *s) {
  free(s->refs);
  free(s->paths);
  free(s->labels);
  free(s->class_counts);
  free(s->skipped);
  memset(s, 0, sizeof *s);
}
