/* loader.c - the batch loader (see pvpack.h for the contract).
 *
 * Sample sequence. For epoch e, this rank's k-th sample is at global
 * position p = k * world_size + rank (torch's DistributedSampler deal), and
 * its record is order(e, p mod N): padding repeats the sequence from its
 * start exactly as DistributedSampler pads (rank_drop: no padding, the tail
 * dropped; rank_unrepeated: no padding, rank r stops at the last p < N). order() is computed, not
 * stored: a keyed Feistel network with cycle walking is a bijection on
 * [0, N) evaluated in O(1) per position, so a shuffle costs no memory, any
 * position (resume, a rank's share) is reachable directly, and the result is
 * the same on every machine.
 *
 * Augmentation draws for a sample come from a splitmix64 stream seeded by
 * hash(seed, epoch, p): they depend on nothing else.
 *
 * Threads. Workers claim samples in sequence order under one mutex, write
 * them straight into the batch buffer of the ring slot assigned to their
 * batch, and mark the slot ready when its last sample lands. Slots are
 * assigned to batches in order, at most `prefetch` batches ahead of the
 * consumer; a slot held by the caller is simply not reused until released.
 */
/* pv_batch.slot: the ring slot, visible with the opt-in macro (pvpack.h). */
#ifndef PV_STATIC_LINKING_ONLY
#define PV_STATIC_LINKING_ONLY 1
#endif
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "augment.h"
#include "convert.h"
#include "cpus.h"
#include "guard.h"
#include "opts_copy.h"
#include "pvpack.h"
#include "resample.h"

/* ---- keyed permutation ------------------------------------------------------- */

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c) {
  return mix64(mix64(mix64(a + 0x9E3779B97F4A7C15ull) ^ b) + c * 0x9E3779B97F4A7C15ull);
}

typedef struct pv_perm {
  uint64_t n;
  unsigned half; /* bits per Feistel half */
  uint64_t mask;
  uint64_t key[4];
} pv_perm;

static void perm_init(pv_perm *p, uint64_t n, uint64_t key) {
  p->n = n;
  unsigned bits = 2;
  while (bits < 64 && (1ull << bits) < n) bits++;
  p->half = (bits + 1) / 2;
  p->mask = (1ull << p->half) - 1;
  for (int r = 0; r < 4; r++) p->key[r] = hash3(key, (uint64_t)r, 0x5eed);
}

/* A 4-round Feistel network on 2*half bits, cycle-walked into [0, n). The
 * domain is < 4n, so the expected number of walks is below 4. */
static uint64_t perm_apply(const pv_perm *p, uint64_t x) {
  if (p->n <= 1) return 0;
  do {
    uint64_t l = x >> p->half, r = x & p->mask;
    for (int k = 0; k < 4; k++) {
      uint64_t t = l ^ (mix64(r ^ p->key[k]) & p->mask);
      l = r;
      r = t;
    }
    x = (l << p->half) | r;
  } while (x >= p->n);
  return x;
}

/* ---- the loader ---------------------------------------------------------------- */

/* The order of one epoch: everything order_map needs beyond the loader's
 * immutable fields. Copied by value, so workers never share it. */
typedef struct epoch_order {
  pv_perm perm;       /* SHUFFLE: records; BLOCKS: block order */
  uint64_t short_pos; /* BLOCKS: block-order position of the short block */
} epoch_order;

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_HANDED };

typedef struct slot {
  pv_batch batch;
  int state;
  uint64_t batch_no; /* batch of the current epoch generation */
  uint64_t gen;
  uint32_t done;     /* samples finished */
  pv_status status;  /* first failure (by sample index) */
  uint32_t fail_at;  /* its sample index */
  char error[512];
} slot;

typedef struct worker {
  struct pv_loader *l;
  pv_sampler *sampler;
  uint64_t seq;     /* l->cancel_seq when it claimed its current sample */
} worker;

struct pv_loader {
  const pv_dataset *ds;
  pv_loader_options o;   /* o.indices: NULL, or our copy (indices) */
  uint64_t n_records;    /* the order's domain: the dataset's records, or indices_count */
  uint64_t *indices;     /* the subset's records (options.indices), or NULL */
  int rank, world;
  uint64_t samples;      /* per epoch for this rank */
  uint64_t batches;      /* per epoch for this rank */
  size_t sample_bytes;   /* bytes of one sample in the batch buffer */

  /* epoch state (under mu) */
  uint64_t epoch, gen;
  /* The current epoch's deal: this rank's sample k is at global position
   * base + k * world + rank, its record at order position base + (k * world
   * + rank) mod span; ep_samples / ep_batches of it. A full epoch: base 0,
   * span n_records, samples, batches. An elastic rest
   * (pv_loader_set_epoch_rest): base = the first position not delivered,
   * span = n_records - base. */
  uint64_t ep_base, ep_span, ep_samples, ep_batches;
  epoch_order eo;        /* order of the current epoch */
  uint64_t nblocks, last_block; /* BLOCKS (immutable) */
  uint64_t next_sample;  /* next sample (in this rank's sequence) to claim */
  uint64_t end_sample;   /* samples of this epoch to produce */
  uint64_t next_batch;   /* next batch to hand to the caller */
  uint64_t next_assign;  /* next batch to get a slot */
  int inflight;          /* runs being processed */
  uint32_t run;          /* samples per claim (run_length) */
  int idle;              /* workers waiting on cv_work */

  slot *slots;
  uint32_t nslots;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_ready;
  pthread_t *threads;
  worker *workers;  /* nworkers, each with its sampler */
  int nworkers;
  int nthreads;     /* started */
  int stop;
  /* Bumped under mu by destroy and set_epoch (read without it by the
   * workers' cancel hook): a worker whose sample was claimed under an older
   * value abandons its JPEG decode at the next progress step instead of
   * finishing a slow record nobody will use. */
  _Atomic uint64_t cancel_seq;

  pv_loader_stats stats;
  char last_error[512];
};

static void set_error(pv_loader *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(l->last_error, sizeof l->last_error, fmt, ap);
  va_end(ap);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Record at position q in [0, N) of epoch e's order. Reads only the
 * loader's immutable fields and eo. */
static uint64_t order_map(const pv_loader *l, uint64_t e, uint64_t q, const epoch_order *eo) {
  const pv_perm *perm = &eo->perm;
  switch (l->o.order) {
    case PV_ORDER_SEQUENTIAL:
      return q;
    case PV_ORDER_SHUFFLE:
      return perm_apply(perm, q);
    case PV_ORDER_BLOCKS:
      break;
  }
  /* Blocks of B records; the block order is perm; groups of G consecutive
   * block-order positions are interleaved by a per-group permutation.
   * Only the dataset's last block may be short (last_block records); it
   * sits at block-order position short_pos. */
  uint64_t B = l->o.block_records, G = l->o.block_group, nb = l->nblocks;
  uint64_t shortfall = B - l->last_block;
#define OFF(j) ((j) <= eo->short_pos ? (j) * B : (j) * B - shortfall)
  uint64_t g = q / (G * B);
  uint64_t gend = (g + 1) * G < nb ? (g + 1) * G : nb;
  if (q >= OFF(gend)) {
    g++;
    gend = (g + 1) * G < nb ? (g + 1) * G : nb;
  }
  uint64_t gbeg = g * G, base = OFF(gbeg), m = OFF(gend) - base;
  pv_perm inner;
  perm_init(&inner, m, hash3(l->o.seed ^ 0xB10C, e, g));
  uint64_t u = perm_apply(&inner, q - base), j, off;
  if (eo->short_pos < gbeg || eo->short_pos >= gend) {
    j = gbeg + u / B;
    off = u % B;
  } else {
    uint64_t k = eo->short_pos - gbeg;
    if (u < k * B) {
      j = gbeg + u / B;
      off = u % B;
    } else if (u < k * B + l->last_block) {
      j = eo->short_pos;
      off = u - k * B;
    } else {
      uint64_t v = u - k * B - l->last_block;
      j = eo->short_pos + 1 + v / B;
      off = v % B;
    }
  }
#undef OFF
  return perm_apply(perm, j) * B + off;
}

/* Sets up the order of epoch e. */
static void epoch_setup(const pv_loader *l, uint64_t e, epoch_order *eo) {
  pv_perm *perm = &eo->perm;
  uint64_t *short_pos = &eo->short_pos;
  memset(eo, 0, sizeof *eo);
  if (l->o.order == PV_ORDER_SHUFFLE) {
    perm_init(perm, l->n_records, hash3(l->o.seed, e, 0x5u));
  } else if (l->o.order == PV_ORDER_BLOCKS) {
    perm_init(perm, l->nblocks, hash3(l->o.seed, e, 0xB1u));
    *short_pos = l->nblocks - 1;
    for (uint64_t j = 0; j < l->nblocks; j++)
      if (perm_apply(perm, j) == l->nblocks - 1) {
        *short_pos = j;
        break;
      }
  }
}

/* The dataset record at subset position j in [0, n_records). */
static uint64_t subset_record(const pv_loader *l, uint64_t j) {
  return l->indices ? l->indices[j] : j;
}

uint64_t pv_loader_sample_record(const pv_loader *l, uint64_t epoch, uint64_t k) {
  if (!l || k >= l->samples) return UINT64_MAX;
  epoch_order eo;
  epoch_setup(l, epoch, &eo);
  uint64_t p = k * (uint64_t)l->world + (uint64_t)l->rank;
  return subset_record(l, order_map(l, epoch, p % l->n_records, &eo));
}

/* This rank's share of `span` positions dealt over the ranks (padding,
 * rank_drop or rank_unrepeated as configured). */
static uint64_t share_of(const pv_loader *l, uint64_t span) {
  uint64_t w = (uint64_t)l->world, r = (uint64_t)l->rank;
  if (l->o.rank_unrepeated) return r < span ? (span - r + w - 1) / w : 0;
  return l->o.rank_drop ? span / w : (span + w - 1) / w;
}

static uint64_t batches_of(const pv_loader *l, uint64_t samples) {
  uint64_t bs = l->o.batch_size;
  return l->o.drop_last ? samples / bs : (samples + bs - 1) / bs;
}

/* ---- per-sample work ----------------------------------------------------------- */

typedef struct rng {
  uint64_t s;
} rng;

static double rng_uniform(void *ctx) {
  rng *r = ctx;
  uint64_t z = mix64(r->s += 0x9E3779B97F4A7C15ull);
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* The batch element at dst in the loader's dtype and layout
 * (image/convert.h): the samplers write it directly, from the resampler's
 * last pass. */
static void sample_out(const pv_loader *l, void *dst, pv_pix_out *out) {
  const pv_loader_options *o = &l->o;
  const int planar = o->layout != PV_LAYOUT_NHWC;
  const pv_pix_format f = o->dtype == PV_DTYPE_UINT8
                              ? (planar ? PV_PIX_RGB8_PLANAR : PV_PIX_RGB8)
                              : (planar ? PV_PIX_F32_PLANAR : PV_PIX_F32);
  pv__pix_out_init(out, f, dst, o->width, o->height, 0, o->mean, o->std);
}

/* The part of a sample that reads the record's payload (checksum, decode,
 * crop, resize): run under a fault guard on the payload (guard.h). */
typedef struct sample_job {
  worker *w;
  const pv_record *r;
  rng *g;
  const pv_pix_out *out;
} sample_job;

static pv_status sample_run(void *arg) {
  sample_job *j = arg;
  const pv_loader_options *o = &j->w->l->o;
  const pv_record *r = j->r;
  if (o->verify_checksums && pv_checksum(r->data, r->length) != r->checksum)
    return PV_ERR_CHECKSUM;
  if (o->pipeline == PV_PIPELINE_TRAIN) {
    pv_crop c;
    pv__rrc_params(r->width, r->height, o->scale_min, o->scale_max, o->ratio_min, o->ratio_max,
                   rng_uniform, j->g, &c);
    int flip = rng_uniform(j->g) < o->flip_prob;
    return pv__sample_crop_to(j->w->sampler, r, c, flip, (pv_filter)o->filter, 0, j->out);
  }
  if (o->pipeline == PV_PIPELINE_EVAL)
    return pv__sample_eval_to(j->w->sampler, r, o->eval_resize, (pv_filter)o->filter, j->out);
  pv_crop c = {0, 0, r->width, r->height};
  return pv__sample_crop_to(j->w->sampler, r, c, 0, (pv_filter)o->filter, 0, j->out);
}

/* Produces sample k (global position p = base + k * world + rank) of epoch
 * e, whose record is at subset
 * position `record` (the record itself without indices), into dst. Returns
 * PV_OK or the failure, with a message naming shard, record and source path. */
static pv_status make_sample(worker *w, uint64_t e, uint64_t base, uint64_t k, uint64_t record,
                             void *dst,
                             int64_t *label, uint64_t *rec_out, uint32_t *replaced, char *msg,
                             size_t msgcap, double *t_dec, double *t_conv) {
  pv_loader *l = w->l;
  const pv_loader_options *o = &l->o;
  uint64_t p = base + k * (uint64_t)l->world + (uint64_t)l->rank;
  pv_pix_out out;
  sample_out(l, dst, &out);
  pv_status st = PV_OK;
  *replaced = 0;
  for (int attempt = 0; attempt < 16; attempt++) {
    uint64_t rec_no = subset_record(l, (record + (uint64_t)attempt) % l->n_records);
    pv_record r;
    double t0 = now_s();
    rng g = {hash3(o->seed, e, p)};
    char detail[320] = "";
    st = pv_dataset_record_ex(l->ds, rec_no, &r, detail, sizeof detail);
    if (st == PV_OK) {
      sample_job job = {w, &r, &g, &out};
      st = pv__guard_call(r.data, r.length, sample_run, &job);
      if (st == PV_ERR_CHANGED) {
        pv__sampler_reset(w->sampler);
        st = pv_dataset_explain_fault(l->ds, r.shard, detail, sizeof detail);
      } else if (st != PV_OK && st != PV_ERR_CHECKSUM) {
        snprintf(detail, sizeof detail, "%s", pv__sampler_last_error(w->sampler));
      }
    }
    *t_dec += now_s() - t0;
    if (st == PV_OK) {
      *label = r.label;
      *rec_out = rec_no;
      (void)t_conv; /* the conversion is part of the resample now (issue 13) */
      return PV_OK;
    }
    if (attempt == 0) {
      char src[201], who[96];
      if (!pv_dataset_source_path_copy(l->ds, rec_no, src, sizeof src)) snprintf(src, sizeof src, "?");
      /* pv_dataset_record_ex's reason starts with the record's name, which
       * the line below gives already. */
      int wn = snprintf(who, sizeof who, "shard-%05u.pvs record %llu (entry %u): ", r.shard,
                        (unsigned long long)rec_no, r.shard_record);
      const char *why = wn > 0 && strncmp(detail, who, (size_t)wn) == 0 ? detail + wn : detail;
      snprintf(msg, msgcap, "shard-%05u.pvs record %llu (entry %u, source %s): %s%s%s", r.shard,
               (unsigned long long)rec_no, r.shard_record, src, pv_strerror(st),
               why[0] ? ": " : "", why);
    }
    /* Cancelled: the loader is going away or moving on; nothing to replace. */
    if (o->on_error != PV_ON_ERROR_REPLACE || st == PV_ERR_CANCELLED) return st;
    (*replaced)++;
  }
  return st;
}

static slot *slot_of(pv_loader *l, uint64_t gen, uint64_t b) {
  for (uint32_t i = 0; i < l->nslots; i++)
    if (l->slots[i].gen == gen && l->slots[i].batch_no == b &&
        (l->slots[i].state == SLOT_FILLING || l->slots[i].state == SLOT_READY))
      return &l->slots[i];
  return NULL;
}

/* Finds or assigns the slot of batch b (under mu). NULL: not yet. */
static slot *claim_slot(pv_loader *l, uint64_t b) {
  slot *s = slot_of(l, l->gen, b);
  if (s) return s;
  if (b != l->next_assign || b >= l->next_batch + l->nslots) return NULL;
  for (uint32_t i = 0; i < l->nslots; i++) {
    s = &l->slots[i];
    if (s->state != SLOT_FREE) continue;
    s->state = SLOT_FILLING;
    s->gen = l->gen;
    s->batch_no = b;
    s->done = 0;
    s->status = PV_OK;
    s->fail_at = UINT32_MAX;
    s->error[0] = 0;
    uint64_t first = b * l->o.batch_size;
    uint64_t left = l->end_sample - first;
    s->batch.count = (uint32_t)(left < l->o.batch_size ? left : l->o.batch_size);
    s->batch.epoch = l->epoch;
    s->batch.index = b;
    s->batch.replaced = 0;
    l->next_assign++;
    return s;
  }
  return NULL;
}

/* Whether a worker would find a run to claim now (under mu): claim_slot's
 * test without its effect. */
static int can_claim(const pv_loader *l) {
  if (l->stop || l->next_sample >= l->end_sample) return 0;
  const uint64_t b = l->next_sample / l->o.batch_size;
  if (slot_of((pv_loader *)l, l->gen, b)) return 1;
  if (b != l->next_assign || b >= l->next_batch + l->nslots) return 0;
  for (uint32_t i = 0; i < l->nslots; i++)
    if (l->slots[i].state == SLOT_FREE) return 1;
  return 0;
}

/* New work (a slot freed, the ring moved on): one idle worker is woken; it
 * wakes the next when it leaves work behind (worker_main), so a batch's
 * runs reach as many workers as they need, one wake-up per claim, instead
 * of every worker waking for every event to find the work already taken. */
static void wake_worker(pv_loader *l) {
  if (l->idle > 0 && can_claim(l)) pthread_cond_signal(&l->cv_work);
}

/* The samplers' cancel hook (augment.h): a relaxed load per libjpeg
 * progress step. */
static int worker_cancelled(void *ctx) {
  const worker *w = ctx;
  return atomic_load_explicit(&w->l->cancel_seq, memory_order_relaxed) != w->seq;
}

/* Samples a worker claims at once: consecutive samples of one batch, so
 * that the loader's lock is taken twice per run (claim, hand back) rather
 * than per sample, and is no longer what bounds the thread count (issue 13:
 * 8-32 threads on an oversubscribed machine, bench/threads_bench.py). At
 * most 16, and small enough that the ring's batches (prefetch of them at
 * once) hold at least two runs per thread, so that every thread has work:
 * prefetch x batch_size / (2 x threads). The output does not depend on it:
 * a sample's pixels depend only on (seed, epoch, position). */
#define PV_RUN_MAX 16u
static uint32_t run_length(uint32_t batch_size, uint32_t prefetch, int nthreads) {
  uint64_t r = (uint64_t)batch_size * prefetch / (2u * (uint64_t)nthreads);
  return r < 1 ? 1 : r > PV_RUN_MAX ? PV_RUN_MAX : (uint32_t)r;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  pv_loader *l = w->l;
  uint64_t records[PV_RUN_MAX];
  pthread_mutex_lock(&l->mu);
  for (;;) {
    slot *s = NULL;
    uint64_t k = 0;
    while (!l->stop) {
      if (l->next_sample < l->end_sample) {
        k = l->next_sample;
        s = claim_slot(l, k / l->o.batch_size);
        if (s) break;
      }
      l->idle++;
      pthread_cond_wait(&l->cv_work, &l->mu);
      l->idle--;
    }
    if (l->stop) break;
    /* The run: samples [k, k + n) of batch k / batch_size. */
    const uint64_t batch_end = (k / l->o.batch_size + 1) * l->o.batch_size;
    const uint64_t end = batch_end < l->end_sample ? batch_end : l->end_sample;
    const uint32_t n = (uint32_t)(end - k < l->run ? end - k : l->run);
    l->next_sample += n;
    l->inflight++;
    l->stats.claims++;
    wake_worker(l); /* the baton: more to claim, someone to claim it */
    w->seq = atomic_load_explicit(&l->cancel_seq, memory_order_relaxed);
    uint64_t e = l->epoch, gen = l->gen, base = l->ep_base;
    for (uint32_t j = 0; j < n; j++)
      records[j] = order_map(
          l, e, base + ((k + j) * (uint64_t)l->world + (uint64_t)l->rank) % l->ep_span, &l->eo);
    pthread_mutex_unlock(&l->mu);

    char msg[512] = "", later[512];
    uint32_t replaced = 0, fail_i = UINT32_MAX, made = 0;
    pv_status fail_st = PV_OK;
    double td = 0, tc = 0;
    for (uint32_t j = 0; j < n; j++) {
      const uint32_t i = (uint32_t)((k + j) % l->o.batch_size);
      pv_status st;
      uint32_t rep = 0;
      if (worker_cancelled(w)) {
        st = PV_ERR_CANCELLED; /* the rest of the run: nobody will use it */
        snprintf(fail_st == PV_OK ? msg : later, sizeof msg, "cancelled");
      } else {
        st = make_sample(w, e, base, k + j, records[j],
                         (uint8_t *)s->batch.images + i * l->sample_bytes, &s->batch.labels[i],
                         &s->batch.records[i], &rep, fail_st == PV_OK ? msg : later, sizeof msg,
                         &td, &tc);
        made++;
      }
      replaced += rep;
      if (st != PV_OK && fail_st == PV_OK) {
        fail_st = st;
        fail_i = i; /* the run's first failure is its lowest index */
      }
      if (st == PV_ERR_CANCELLED) break;
    }

    pthread_mutex_lock(&l->mu);
    l->inflight--;
    l->stats.samples += made;
    l->stats.replaced += replaced;
    l->stats.decode_resize_s += td;
    l->stats.convert_s += tc;
    if (s->gen == gen && s->state == SLOT_FILLING) {
      s->batch.replaced += replaced;
      if (fail_st != PV_OK && fail_i < s->fail_at) {
        s->fail_at = fail_i;
        s->status = fail_st;
        snprintf(s->error, sizeof s->error, "%s", msg);
      }
      s->done += n;
      if (s->done == s->batch.count) {
        s->state = SLOT_READY;
        pthread_cond_broadcast(&l->cv_ready);
      }
    }
    /* No wake-up of the other workers: finishing a run frees no slot and
     * adds no sample to claim (pv_loader_next, _release, _detach and the
     * epoch changes wake them). */
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void *default_alloc(void *ctx, size_t size, size_t align) {
  (void)ctx;
  void *p = NULL;
  return posix_memalign(&p, align, size ? size : align) == 0 ? p : NULL;
}

static void default_free(void *ctx, void *p, size_t size) {
  (void)ctx;
  (void)size;
  free(p);
}

static int env_int(const char *name, int def) {
  const char *v = getenv(name);
  if (!v || !*v) return def;
  char *end;
  long x = strtol(v, &end, 10);
  return (*end || x < 0 || x > 1 << 30) ? -2 : (int)x;
}

/* Resets epoch state to (epoch, start_batch) of the deal that starts at
 * global position base (0: a full epoch); under mu, no work in flight. */
static void start_epoch(pv_loader *l, uint64_t epoch, uint64_t base, uint64_t start_batch) {
  l->epoch = epoch;
  l->gen++;
  epoch_setup(l, epoch, &l->eo);
  l->ep_base = base;
  l->ep_span = l->n_records - base;
  l->ep_samples = base ? share_of(l, l->ep_span) : l->samples;
  l->ep_batches = base ? batches_of(l, l->ep_samples) : l->batches;
  uint64_t b0 = start_batch < l->ep_batches ? start_batch : l->ep_batches;
  l->next_batch = l->next_assign = b0;
  l->next_sample = b0 * l->o.batch_size;
  l->end_sample = l->o.drop_last ? l->ep_batches * l->o.batch_size : l->ep_samples;
  for (uint32_t i = 0; i < l->nslots; i++)
    if (l->slots[i].state == SLOT_FILLING || l->slots[i].state == SLOT_READY)
      l->slots[i].state = SLOT_FREE;
}

pv_status pv_loader_create(const pv_dataset *ds, const pv_loader_options *opts, pv_loader **out,
                           char *err, size_t errcap) {
  char ebuf[256];
  if (!err) {
    err = ebuf;
    errcap = sizeof ebuf;
  }
  if (!ds || !out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pv_loader_options o;
  /* An older caller's smaller struct: its fields, the defaults for the rest
   * (opts_copy.h). */
  if (PV__OPTS_COPY(&o, pv_loader_options_init, opts) != PV_OK) {
    snprintf(err, errcap, "options not initialised with pv_loader_options_init (size %zu)",
             opts->size);
    return PV_ERR_INVALID_ARG;
  }
  if (pv_loader_options_check(&o, err, errcap) != PV_OK) return PV_ERR_INVALID_ARG;
  int rank = o.rank >= 0 ? o.rank : env_int("RANK", 0);
  int world = o.world_size >= 0 ? o.world_size : env_int("WORLD_SIZE", 1);
  if (rank < 0 || world < 1 || rank >= world) {
    snprintf(err, errcap, "rank %d / world size %d invalid (check RANK and WORLD_SIZE)", rank,
             world);
    return PV_ERR_INVALID_ARG;
  }
  uint64_t n = pv_dataset_record_count(ds);
  if (n == 0) {
    snprintf(err, errcap, "dataset has no records");
    return PV_ERR_EMPTY;
  }
  if (!o.indices != !o.indices_count) {
    snprintf(err, errcap, o.indices ? "indices: an empty list (no record to load)"
                                    : "indices_count %llu without indices",
             (unsigned long long)o.indices_count);
    return o.indices ? PV_ERR_EMPTY : PV_ERR_INVALID_ARG;
  }
  if (o.indices_count > SIZE_MAX / sizeof(uint64_t)) {
    snprintf(err, errcap, "indices_count %llu too large", (unsigned long long)o.indices_count);
    return PV_ERR_INVALID_ARG;
  }
  for (uint64_t i = 0; i < o.indices_count; i++)
    if (o.indices[i] >= n) {
      snprintf(err, errcap, "indices[%llu] = %llu: the dataset has %llu records",
               (unsigned long long)i, (unsigned long long)o.indices[i], (unsigned long long)n);
      return PV_ERR_INVALID_ARG;
    }
  pv_loader *l = calloc(1, sizeof *l);
  if (!l) return PV_ERR_NOMEM;
  l->ds = ds;
  l->o = o;
  l->o.indices = NULL;
  l->n_records = n;
  if (o.indices) {
    l->indices = malloc((size_t)o.indices_count * sizeof *l->indices);
    if (!l->indices) {
      free(l);
      snprintf(err, errcap, "out of memory copying %llu indices",
               (unsigned long long)o.indices_count);
      return PV_ERR_NOMEM;
    }
    memcpy(l->indices, o.indices, (size_t)o.indices_count * sizeof *l->indices);
    l->o.indices = l->indices;
    l->n_records = n = o.indices_count;
  }
  l->rank = rank;
  l->world = world;
  l->samples = share_of(l, n); /* rank_unrepeated: positions rank, rank + world, ... < n */
  l->batches = batches_of(l, l->samples);
  if (l->batches == 0) {
    snprintf(err, errcap, "rank %d gets %llu samples: no batch of %u (drop_last)", rank,
             (unsigned long long)l->samples, o.batch_size);
    free(l->indices);
    free(l);
    return PV_ERR_EMPTY;
  }
  if (o.order == PV_ORDER_BLOCKS) {
    l->nblocks = (n + o.block_records - 1) / o.block_records;
    l->last_block = n - (l->nblocks - 1) * o.block_records;
  }
  size_t elem = o.dtype == PV_DTYPE_FLOAT32 ? 4 : 1;
  l->sample_bytes = (size_t)o.height * o.width * 3 * elem;
  if (!l->o.allocator.alloc || !l->o.allocator.free) {
    l->o.allocator.alloc = default_alloc;
    l->o.allocator.free = default_free;
    l->o.allocator.ctx = NULL;
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv_work, NULL);
  pthread_cond_init(&l->cv_ready, NULL);
  l->nslots = o.prefetch;
  l->slots = calloc(l->nslots, sizeof *l->slots);
  int nthreads = o.threads ? o.threads : pv__available_cpus();
  if (nthreads < 1) nthreads = 1;
  if (nthreads > 1024) nthreads = 1024; /* the option's own bound */
  l->threads = calloc((size_t)nthreads, sizeof *l->threads);
  worker *ws = l->workers = calloc((size_t)nthreads, sizeof *ws);
  if (!l->slots || !l->threads || !ws) goto out_nomem;
  l->nworkers = nthreads;
  l->run = run_length(o.batch_size, o.prefetch, nthreads);
  /* auto: fast where the pixels are augmented anyway (train), exact where
   * they are scored (eval, none). */
  const int jpeg_fast = o.jpeg_decode == PV_JPEG_DECODE_FAST ||
                        (o.jpeg_decode == PV_JPEG_DECODE_AUTO && o.pipeline == PV_PIPELINE_TRAIN);
  for (uint32_t i = 0; i < l->nslots; i++) {
    pv_batch *b = &l->slots[i].batch;
    b->images_bytes = l->sample_bytes * o.batch_size;
    b->images = l->o.allocator.alloc(l->o.allocator.ctx, b->images_bytes, 4096);
    b->labels = calloc(o.batch_size, sizeof *b->labels);
    b->records = calloc(o.batch_size, sizeof *b->records);
    if (!b->images || !b->labels || !b->records) goto out_nomem;
    b->batch_size = o.batch_size;
    b->height = o.height;
    b->width = o.width;
    b->layout = o.layout;
    b->dtype = o.dtype;
    b->slot = i;
  }
  for (int t = 0; t < nthreads; t++) {
    ws[t].l = l;
    if (pv__sampler_create(&ws[t].sampler) != PV_OK) goto out_nomem;
    /* The dataset's limits, the ones pv_decoder_decode applies to it. */
    pv__sampler_set_limits(ws[t].sampler, pv_dataset_limits(ds));
    pv__sampler_set_cancel(ws[t].sampler, worker_cancelled, &ws[t]);
    pv__sampler_set_jpeg_fast(ws[t].sampler, jpeg_fast);
  }
  pthread_mutex_lock(&l->mu);
  start_epoch(l, o.epoch, 0, o.start_batch);
  pthread_mutex_unlock(&l->mu);
  for (int t = 0; t < nthreads; t++) {
    if (pthread_create(&l->threads[t], NULL, worker_main, &ws[t]) != 0) break;
    l->nthreads++;
  }
  if (l->nthreads == 0) goto out_nomem;
  *out = l;
  return PV_OK;

out_nomem:
  snprintf(err, errcap, "out of memory allocating %u batch buffers of %zu bytes", o.prefetch,
           l->sample_bytes * o.batch_size);
  pv_loader_destroy(l);
  return PV_ERR_NOMEM;
}

void pv_loader_destroy(pv_loader *l) {
  if (!l) return;
  if (l->nthreads) {
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    /* Under mu with stop: a worker either claimed its sample before (old
     * seq: its decode gives up) or sees stop and claims nothing. */
    atomic_fetch_add(&l->cancel_seq, 1);
    pthread_cond_broadcast(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
    for (int t = 0; t < l->nthreads; t++) pthread_join(l->threads[t], NULL);
  }
  if (l->workers)
    for (int t = 0; t < l->nworkers; t++) {
      pv__sampler_destroy(l->workers[t].sampler);
    }
  free(l->workers);
  if (l->slots)
    for (uint32_t i = 0; i < l->nslots; i++) {
      pv_batch *b = &l->slots[i].batch;
      if (b->images) l->o.allocator.free(l->o.allocator.ctx, b->images, b->images_bytes);
      free(b->labels);
      free(b->records);
    }
  free(l->slots);
  free(l->threads);
  free(l->indices);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv_work);
  pthread_cond_destroy(&l->cv_ready);
  free(l);
}

pv_status pv_loader_next(pv_loader *l, pv_batch **out) {
  if (!l || !out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pthread_mutex_lock(&l->mu);
  uint64_t b = l->next_batch;
  if (b >= l->ep_batches || b * l->o.batch_size >= l->end_sample) {
    pthread_mutex_unlock(&l->mu);
    return PV_OK; /* end of epoch */
  }
  double t0 = now_s();
  slot *s;
  for (;;) {
    s = slot_of(l, l->gen, b);
    if (s && s->state == SLOT_READY) break;
    if (!s) {
      /* Not assigned yet: possible only while a slot can still free up. */
      int free_or_busy = 0;
      for (uint32_t i = 0; i < l->nslots; i++) free_or_busy |= l->slots[i].state != SLOT_HANDED;
      if (!free_or_busy) {
        pthread_mutex_unlock(&l->mu);
        set_error(l, "all %u batch buffers are held by the caller: release one", l->nslots);
        return PV_ERR_LIMIT;
      }
    }
    pthread_cond_wait(&l->cv_ready, &l->mu);
  }
  l->stats.wait_s += now_s() - t0;
  l->next_batch++;
  pv_status st = s->status;
  if (st != PV_OK) {
    set_error(l, "batch %llu of epoch %llu: %s", (unsigned long long)b,
              (unsigned long long)l->epoch, s->error);
    s->state = SLOT_FREE;
  } else {
    s->state = SLOT_HANDED;
    *out = &s->batch;
  }
  wake_worker(l); /* next_batch moved: the ring may take one more batch */
  pthread_mutex_unlock(&l->mu);
  return st;
}

void pv_loader_release(pv_loader *l, pv_batch *b) {
  if (!l || !b || b->slot >= l->nslots) return;
  pthread_mutex_lock(&l->mu);
  slot *s = &l->slots[b->slot];
  if (s->state == SLOT_HANDED) {
    s->state = SLOT_FREE;
    wake_worker(l);
    pthread_cond_broadcast(&l->cv_ready);
  }
  pthread_mutex_unlock(&l->mu);
}

/* True when pv_loader_next would not block (under mu): the epoch is over,
 * the next batch is ready or failed, or every slot is with the caller. */
static int next_is_ready(pv_loader *l) {
  uint64_t b = l->next_batch;
  if (b >= l->ep_batches || b * l->o.batch_size >= l->end_sample) return 1;
  slot *s = slot_of(l, l->gen, b);
  if (s) return s->state == SLOT_READY;
  for (uint32_t i = 0; i < l->nslots; i++)
    if (l->slots[i].state != SLOT_HANDED) return 0;
  return 1;
}

int pv_loader_wait(pv_loader *l, unsigned timeout_ms) {
  if (!l) return 1;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline); /* the condition variables' clock */
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  double t0 = now_s();
  pthread_mutex_lock(&l->mu);
  int ready;
  while (!(ready = next_is_ready(l)))
    if (pthread_cond_timedwait(&l->cv_ready, &l->mu, &deadline) == ETIMEDOUT) {
      ready = next_is_ready(l);
      break;
    }
  l->stats.wait_s += now_s() - t0;
  pthread_mutex_unlock(&l->mu);
  return ready;
}

pv_status pv_loader_detach(pv_loader *l, pv_batch *b, void **images) {
  if (!l || !b || !images || b->slot >= l->nslots || b != &l->slots[b->slot].batch)
    return PV_ERR_INVALID_ARG;
  *images = NULL;
  size_t bytes = l->sample_bytes * l->o.batch_size;
  /* Allocate outside the lock: the workers need not wait for the kernel. */
  void *fresh = l->o.allocator.alloc(l->o.allocator.ctx, bytes, 4096);
  if (!fresh) {
    set_error(l, "out of memory allocating a replacement batch buffer of %zu bytes", bytes);
    return PV_ERR_NOMEM;
  }
  pthread_mutex_lock(&l->mu);
  slot *s = &l->slots[b->slot];
  if (s->state != SLOT_HANDED) {
    pthread_mutex_unlock(&l->mu);
    l->o.allocator.free(l->o.allocator.ctx, fresh, bytes);
    return PV_ERR_INVALID_ARG;
  }
  *images = s->batch.images;
  s->batch.images = fresh;
  s->state = SLOT_FREE;
  wake_worker(l);
  pthread_cond_broadcast(&l->cv_ready);
  pthread_mutex_unlock(&l->mu);
  return PV_OK;
}

void pv_loader_free_detached(pv_loader *l, void *images) {
  if (l && images) l->o.allocator.free(l->o.allocator.ctx, images, l->sample_bytes * l->o.batch_size);
}

static pv_status restart(pv_loader *l, uint64_t epoch, uint64_t base, uint64_t start_batch);

pv_status pv_loader_set_epoch(pv_loader *l, uint64_t epoch, uint64_t start_batch) {
  if (!l) return PV_ERR_INVALID_ARG;
  return restart(l, epoch, 0, start_batch);
}

pv_status pv_loader_set_epoch_rest(pv_loader *l, uint64_t epoch, uint64_t first,
                                   uint64_t start_batch) {
  if (!l) return PV_ERR_INVALID_ARG;
  if (first >= l->n_records) {
    set_error(l, "first position %llu out of range: an epoch has %llu positions",
              (unsigned long long)first, (unsigned long long)l->n_records);
    return PV_ERR_INVALID_ARG;
  }
  return restart(l, epoch, first, start_batch);
}

uint64_t pv_loader_epoch_batches(const pv_loader *l) {
  if (!l) return 0;
  pthread_mutex_lock((pthread_mutex_t *)&l->mu);
  uint64_t b = l->ep_batches;
  pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
  return b;
}

static pv_status restart(pv_loader *l, uint64_t epoch, uint64_t base, uint64_t start_batch) {
  pthread_mutex_lock(&l->mu);
  /* Let samples in flight land (they check the generation and are dropped);
   * a JPEG decode among them gives up at its next progress step. */
  atomic_fetch_add(&l->cancel_seq, 1);
  l->end_sample = l->next_sample;
  while (l->inflight > 0) {
    pthread_mutex_unlock(&l->mu);
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&l->mu);
  }
  start_epoch(l, epoch, base, start_batch);
  pthread_cond_broadcast(&l->cv_work);
  pthread_mutex_unlock(&l->mu);
  return PV_OK;
}

uint64_t pv_loader_batches_per_epoch(const pv_loader *l) { return l ? l->batches : 0; }
uint64_t pv_loader_samples_per_epoch(const pv_loader *l) { return l ? l->samples : 0; }
int pv_loader_thread_count(const pv_loader *l) { return l ? l->nthreads : 0; }

int pv_available_cpus(void) { return pv__available_cpus(); }

const char *pv_loader_last_error(const pv_loader *l) { return l ? l->last_error : ""; }

void pv_loader_get_stats(const pv_loader *l, pv_loader_stats *s) {
  pthread_mutex_lock((pthread_mutex_t *)&l->mu);
  *s = l->stats;
  pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
}
