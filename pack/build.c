/* build.c - pvpack build: ImageFolder tree -> shards + index.
 *
 * Pipeline: walk (torchvision order) -> optional seeded shuffle -> a pool of
 * workers that each read, decode, resize and encode one file -> an ordered
 * writer that appends results to shards in job order. Job j's result goes to
 * slot j % window; a worker may not start job j before job j - window has
 * been written, so at most `window` results (each bounded by max_file_bytes
 * or the encoded size of max_pixels) are in memory at once, whatever the
 * dataset size. Output bytes depend only on (input, options), never on the
 * thread count or timing: the writer consumes strictly in job order and
 * every encoder used is deterministic.
 *
 * Crash safety: everything is written into a temporary sibling directory,
 * each file is fsynced, the index (the only file that makes a directory a
 * dataset) is written last, then the directory is renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h> /* ZSTD_maxCLevel: the options range check */

#include "codec.h"
#include "cpus.h"
#include "decode.h"
#include "pack_util.h"
#include "pv_format.h"
#include "pv_pack.h"
#include "resample.h"
#include "walk.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

void pv_build_options_init(pv_build_options *o) {
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  o->resize = PV_RESIZE_SHORTER;
  o->resize_to = 256;
  o->filter = PV_FILTER_BILINEAR;
  o->codec = PV_PACK_CODEC_JPEG;
  o->auto_threshold = 64 * 1024;
  o->jpeg_quality = 90;
  o->zstd_level = 3;
  o->jpeg_restart = 4;
  o->keep_original = 1;
  o->shard_bytes = 256ull << 20;
  o->shuffle = 1;
  o->seed = 0;
  o->threads = 0;
  o->max_pixels = 178956970ull; /* 2 x PIL's MAX_IMAGE_PIXELS: PIL errors above */
  o->max_file_bytes = 1ull << 30;
  o->progress = -1;
}

char *pv_default_output_dir(const char *src) {
  size_t n = strlen(src);
  while (n > 1 && src[n - 1] == '/') n--;
  char *o = malloc(n + 8);
  if (!o) return NULL;
  memcpy(o, src, n);
  memcpy(o + n, ".pvpack", 8);
  return o;
}

/* ---- one job ------------------------------------------------------------------ */

typedef struct job_result {
  int ready;            /* set by the worker under the lock */
  pv_status status;     /* PV_OK: payload holds a record; else skipped */
  char reason[256];
  uint8_t *payload;
  uint32_t length, width, height;
  uint8_t codec;
  uint16_t flags;
  uint64_t bytes_in;
} job_result;

typedef struct worker_ctx {
  pv__codec_enc *enc; /* the record codecs' encoders (codec/codec.h) */
  pv_resampler *rs;
} worker_ctx;

typedef struct build_state {
  const pv_build_options *o;
  const char *src;
  const pv_walk_result *walk;
  const uint64_t *order; /* job -> walk file index */
  uint64_t jobs;
  uint32_t window;
  job_result *slots;
  pthread_mutex_t mu;
  pthread_cond_t cv_ready; /* a result became ready */
  pthread_cond_t cv_space; /* the writer advanced */
  uint64_t next_job;       /* next job to hand out (under mu) */
  uint64_t written;        /* jobs consumed by the writer (under mu) */
  int stop;                /* abort workers (under mu) */
} build_state;

static void reasonf(job_result *r, pv_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->reason, sizeof r->reason, fmt, ap);
  va_end(ap);
  r->status = st;
}

/* Target size for a source of w x h under the resize policy; never upscales.
 * Mirrors torchvision's Resize(int): the other side is truncated, not
 * rounded (int(size * long / short)). */
static void target_size(const pv_build_options *o, uint32_t w, uint32_t h, uint32_t *tw,
                        uint32_t *th) {
  *tw = w;
  *th = h;
  if (o->resize == PV_RESIZE_NONE) return;
  uint32_t n = o->resize_to;
  int w_is_short = w <= h;
  uint32_t s = w_is_short ? w : h, l = w_is_short ? h : w;
  uint32_t ns, nl;
  if (o->resize == PV_RESIZE_SHORTER) {
    if (s <= n) return;
    ns = n;
    nl = (uint32_t)((uint64_t)n * l / s);
  } else {
    if (l <= n) return;
    nl = n;
    ns = (uint32_t)((uint64_t)n * s / l);
  }
  if (ns < 1) ns = 1;
  if (nl < 1) nl = 1;
  *tw = w_is_short ? ns : nl;
  *th = w_is_short ? nl : ns;
}

static void process_job(build_state *b, worker_ctx *w, uint64_t job, job_result *r) {
  const pv_build_options *o = b->o;
  const pv_walk_file *f = &b->walk->files[b->order[job]];
  pv_image img = {0}, small = {0};
  uint8_t *file = NULL;
  size_t flen = 0;
  char err[200];

  pv_status st = pv__read_file(b->src, f->relpath, o->max_file_bytes, &file, &flen, err, sizeof err);
  if (st != PV_OK) {
    reasonf(r, st, "%s", err);
    return;
  }
  r->bytes_in = flen;
  pv_src_info info;
  st = pv__probe_image(file, flen, &info, err, sizeof err);
  if (st != PV_OK) {
    reasonf(r, st, "%s", flen == 0 ? "empty file" : err);
    goto out;
  }
  if (o->max_pixels && (uint64_t)info.width * info.height > o->max_pixels) {
    reasonf(r, PV_ERR_LIMIT, "image %ux%u exceeds the pixel limit %llu", info.width, info.height,
            (unsigned long long)o->max_pixels);
    goto out;
  }
  int oriented = o->apply_exif_orientation && info.orientation >= 5; /* 90-degree turns swap */
  uint32_t ow = oriented ? info.height : info.width, oh = oriented ? info.width : info.height;
  uint32_t tw, th;
  target_size(o, ow, oh, &tw, &th);
  int keep = (o->codec == PV_PACK_CODEC_JPEG || o->codec == PV_PACK_CODEC_AUTO) && o->keep_original && info.format == PV_SRC_JPEG &&
             info.jpeg_is_ycc3 && tw == ow && th == oh &&
             !(o->apply_exif_orientation && info.orientation != 1) && flen <= PV_MAX_RECORD_BYTES;

  pv_decode_opts dopt = {0};
  dopt.max_pixels = o->max_pixels;
  dopt.apply_exif_orientation = o->apply_exif_orientation;
  /* A kept original is still decoded to prove that it decodes cleanly, at
   * the smallest DCT scale: entropy decoding (where corruption shows) is
   * complete, the inverse transforms are 1/64 of the work. */
  dopt.min_width = keep ? 1 : (oriented ? th : tw);
  dopt.min_height = keep ? 1 : (oriented ? tw : th);
  st = pv__decode_image(file, flen, &dopt, &img, err, sizeof err);
  if (st != PV_OK) {
    reasonf(r, st, "%s", err);
    goto out;
  }
  if (keep) {
    r->payload = file;
    file = NULL;
    r->length = (uint32_t)flen;
    r->width = info.width;
    r->height = info.height;
    r->codec = PV_CODEC_JPEG;
    r->flags = PV_RECORD_FLAG_ORIGINAL;
    r->status = PV_OK;
    goto out;
  }
  if (img.width != tw || img.height != th) {
    small.width = tw;
    small.height = th;
    small.pixels = malloc((size_t)tw * th * 3);
    if (!small.pixels) {
      reasonf(r, PV_ERR_NOMEM, "out of memory resizing to %ux%u", tw, th);
      goto out;
    }
    st = pv__resample_rgb8(w->rs, (pv_filter)o->filter, img.pixels, img.width, img.height,
                           (size_t)img.width * 3, 0, 0, img.width, img.height, small.pixels, tw, th,
                           (size_t)tw * 3);
    if (st != PV_OK) {
      reasonf(r, st, "resize %ux%u -> %ux%u failed", img.width, img.height, tw, th);
      goto out;
    }
    pv__image_free(&img);
    img = small;
    small.pixels = NULL;
  }
  r->width = img.width;
  r->height = img.height;
  size_t raw = (size_t)img.width * img.height * 3;
  int codec = o->codec;
  if (codec == PV_PACK_CODEC_AUTO)
    codec = raw <= o->auto_threshold ? PV_PACK_CODEC_ZSTD : PV_PACK_CODEC_JPEG;
  /* The codec table (codec/codec.h) writes the payload. */
  const pv__codec *k = pv__codec_get(codec);
  if (!k || !k->encode) {
    reasonf(r, PV_ERR_INVALID_ARG, "codec %d cannot be written", codec);
    goto out;
  }
  const pv__encode_opts eo = {o->jpeg_quality, o->jpeg_restart, o->zstd_level};
  size_t n = 0;
  st = k->encode(w->enc, img.pixels, img.width, img.height, (size_t)img.width * 3, &eo,
                 &r->payload, &n, err, sizeof err);
  if (st != PV_OK) {
    reasonf(r, st, "%s", err);
    goto out;
  }
  r->length = (uint32_t)n;
  r->codec = k->id;
  r->status = PV_OK;
out:
  if (r->status != PV_OK) {
    free(r->payload);
    r->payload = NULL;
  }
  pv__image_free(&img);
  pv__image_free(&small);
  free(file);
}

static void *worker_main(void *arg) {
  build_state *b = arg;
  worker_ctx w = {0};
  int ok = pv__codec_enc_create(&w.enc) == PV_OK && pv__resampler_create(&w.rs) == PV_OK;
  for (;;) {
    pthread_mutex_lock(&b->mu);
    while (!b->stop && b->next_job < b->jobs && b->next_job >= b->written + b->window)
      pthread_cond_wait(&b->cv_space, &b->mu);
    if (b->stop || b->next_job >= b->jobs) {
      pthread_mutex_unlock(&b->mu);
      break;
    }
    uint64_t job = b->next_job++;
    pthread_mutex_unlock(&b->mu);

    job_result r;
    memset(&r, 0, sizeof r);
    if (ok)
      process_job(b, &w, job, &r);
    else
      reasonf(&r, PV_ERR_NOMEM, "worker could not allocate its codecs");

    pthread_mutex_lock(&b->mu);
    b->slots[job % b->window] = r;
    b->slots[job % b->window].ready = 1;
    pthread_cond_broadcast(&b->cv_ready);
    pthread_mutex_unlock(&b->mu);
  }
  pv__codec_enc_destroy(w.enc);
  pv__resampler_destroy(w.rs);
  return NULL;
}

/* ---- the ordered writer ----------------------------------------------------- */

typedef struct shard_writer {
  int fd;
  uint32_t index;
  uint64_t first_record;
  uint64_t offset; /* bytes written so far */
  uint8_t *table;  /* entries of the open shard */
  uint32_t count, cap;
} shard_writer;

typedef struct out_state {
  const char *tmpdir;
  uint64_t dataset_id;
  uint64_t shard_bytes;
  shard_writer sw;
  pv_shard_ref *shards;
  uint32_t shard_count, shard_cap;
  uint64_t bytes_out;
} out_state;

static pv_status shard_open(out_state *s, uint64_t first_record, char *err, size_t cap) {
  char name[64];
  if (s->shard_count >= PV_MAX_SHARDS) {
    /* A reader maps every shard (spec/FORMAT.md 8): more would not open. */
    snprintf(err, cap,
             "the dataset needs more than %u shards of at most %llu bytes (the format's limit): "
             "use a larger --shard-size (%llu bytes written so far)",
             PV_MAX_SHARDS, (unsigned long long)s->shard_bytes,
             (unsigned long long)s->bytes_out);
    return PV_ERR_LIMIT;
  }
  snprintf(name, sizeof name, PV_SHARD_NAME_FMT, s->shard_count);
  shard_writer *w = &s->sw;
  w->fd = pv__create_file(s->tmpdir, name, err, cap);
  if (w->fd < 0) return PV_ERR_IO;
  w->index = s->shard_count;
  w->first_record = first_record;
  w->count = 0;
  /* The header is rewritten once the count is known; reserve its bytes. */
  static const uint8_t zero[PV_SHARD_HEADER_SIZE];
  w->offset = 0;
  return pv__write_all(w->fd, zero, sizeof zero, &w->offset, err, cap);
}

static pv_status shard_close(out_state *s, char *err, size_t cap) {
  shard_writer *w = &s->sw;
  static const uint8_t zero[PV_RECORD_ALIGN];
  pv_status st;
  uint64_t pad = (PV_RECORD_ALIGN - w->offset % PV_RECORD_ALIGN) % PV_RECORD_ALIGN;
  if ((st = pv__write_all(w->fd, zero, (size_t)pad, &w->offset, err, cap)) != PV_OK) return st;
  pv_shard_header h = {PV_FORMAT_VERSION_MAJOR, PV_FORMAT_VERSION_MINOR, 0, 0, s->dataset_id,
                       w->index, w->count, w->first_record};
  uint8_t hb[PV_SHARD_HEADER_SIZE], fb[PV_SHARD_FOOTER_SIZE];
  pv_shard_header_encode(&h, hb);
  pv_shard_footer f = {0};
  f.table_offset = w->offset;
  f.record_count = w->count;
  f.shard_index = w->index;
  f.dataset_id = s->dataset_id;
  f.header_checksum = pv_load64(hb + 56);
  f.table_checksum = pv_checksum(w->table, (size_t)w->count * PV_RECORD_ENTRY_SIZE);
  pv_shard_footer_encode(&f, fb);
  if ((st = pv__write_all(w->fd, w->table, (size_t)w->count * PV_RECORD_ENTRY_SIZE, &w->offset,
                          err, cap)) != PV_OK ||
      (st = pv__write_all(w->fd, fb, sizeof fb, &w->offset, err, cap)) != PV_OK)
    return st;
  if (pwrite(w->fd, hb, sizeof hb, 0) != (ssize_t)sizeof hb) {
    snprintf(err, cap, "writing shard header: %s", strerror(errno));
    return PV_ERR_IO;
  }
  if ((st = pv__fsync_close(w->fd, err, cap)) != PV_OK) return st;
  w->fd = -1;
  if (s->shard_count == s->shard_cap) {
    uint32_t nc = s->shard_cap ? s->shard_cap * 2 : 16;
    pv_shard_ref *n = realloc(s->shards, nc * sizeof *n);
    if (!n) return PV_ERR_NOMEM;
    s->shards = n;
    s->shard_cap = nc;
  }
  pv_shard_ref *ref = &s->shards[s->shard_count++];
  ref->file_size = w->offset;
  ref->first_record = w->first_record;
  ref->record_count = w->count;
  ref->footer_checksum = f.footer_checksum;
  s->bytes_out += w->offset;
  return PV_OK;
}

/* Appends one record, opening a new shard when this one would grow past the
 * target size (a record larger than the target gets a shard of its own). */
static pv_status shard_append(out_state *s, uint64_t record, uint32_t label, const job_result *r,
                              char *err, size_t cap) {
  shard_writer *w = &s->sw;
  pv_status st;
  uint64_t pad = (PV_RECORD_ALIGN - w->offset % PV_RECORD_ALIGN) % PV_RECORD_ALIGN;
  if (w->fd >= 0 && w->count > 0) {
    uint64_t after = w->offset + pad + r->length + PV_RECORD_ALIGN +
                     (uint64_t)(w->count + 1) * PV_RECORD_ENTRY_SIZE + PV_SHARD_FOOTER_SIZE;
    if (after > s->shard_bytes || w->count == UINT32_MAX - 1) {
      if ((st = shard_close(s, err, cap)) != PV_OK) return st;
    }
  }
  if (w->fd < 0) {
    if ((st = shard_open(s, record, err, cap)) != PV_OK) return st;
    pad = 0;
  }
  static const uint8_t zero[PV_RECORD_ALIGN];
  if ((st = pv__write_all(w->fd, zero, (size_t)pad, &w->offset, err, cap)) != PV_OK) return st;
  pv_record_entry e = {w->offset, r->length, label, r->width, r->height, r->codec, 3, r->flags,
                       pv_checksum(r->payload, r->length)};
  if ((st = pv__write_all(w->fd, r->payload, r->length, &w->offset, err, cap)) != PV_OK) return st;
  if (w->count == w->cap) {
    uint32_t nc = w->cap ? w->cap * 2 : 1024;
    uint8_t *n = realloc(w->table, (size_t)nc * PV_RECORD_ENTRY_SIZE);
    if (!n) return PV_ERR_NOMEM;
    w->table = n;
    w->cap = nc;
  }
  pv_record_entry_encode(&e, w->table + (size_t)w->count * PV_RECORD_ENTRY_SIZE);
  w->count++;
  return PV_OK;
}

/* ---- options text and dataset id ------------------------------------------- */

static char *options_text(const pv_build_options *o, const char *src_abs) {
  static const char *const resize_names[] = {"shorter", "longer", "none"};
  char *t = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&t, &n);
  if (!f) return NULL;
  fprintf(f, "tool=pvpack %s\n", PV_VERSION_STRING);
  fprintf(f, "format=%u.%u\n", PV_FORMAT_VERSION_MAJOR, PV_FORMAT_VERSION_MINOR);
  fprintf(f, "source=%s\n", src_abs);
  fprintf(f, "resize=%s\n", resize_names[o->resize]);
  fprintf(f, "resize_to=%u\n", o->resize_to);
  fprintf(f, "filter=%s\n", pv__filter_name((pv_filter)o->filter));
  fprintf(f, "codec=%s\n", o->codec == PV_PACK_CODEC_AUTO ? "auto" : pv_codec_name(o->codec));
  if (o->codec == PV_PACK_CODEC_AUTO) fprintf(f, "auto_threshold=%u\n", o->auto_threshold);
  fprintf(f, "jpeg_quality=%d\n", o->jpeg_quality);
  fprintf(f, "jpeg_restart=%u\n", o->jpeg_restart);
  fprintf(f, "zstd_level=%d\n", o->zstd_level);
  fprintf(f, "keep_original=%d\n", o->keep_original);
  fprintf(f, "shard_bytes=%llu\n", (unsigned long long)o->shard_bytes);
  fprintf(f, "shuffle=%d\n", o->shuffle);
  fprintf(f, "seed=%llu\n", (unsigned long long)o->seed);
  fprintf(f, "max_pixels=%llu\n", (unsigned long long)o->max_pixels);
  fprintf(f, "max_file_bytes=%llu\n", (unsigned long long)o->max_file_bytes);
  fprintf(f, "exif_orientation=%d\n", o->apply_exif_orientation);
  fclose(f);
  return t;
}

/* splitmix64: a tiny, well-known, platform-independent PRNG, so that the
 * shuffle (and thus the output bytes) is the same on every machine. */
static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t uniform_below(uint64_t *s, uint64_t n) {
  /* Rejection sampling: unbiased and deterministic. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = splitmix64(s);
  while (x >= limit);
  return x % n;
}

/* ---- logging and progress --------------------------------------------------- */

static void logline(const pv_build_options *o, pv_log_level lv, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (o->log)
    o->log(o->log_ctx, lv, line);
  else
    fprintf(stderr, "%s\n", line);
}

static void walk_warn(void *ctx, const char *msg) {
  logline((const pv_build_options *)ctx, PV_LOG_WARN, "warning: %s", msg);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct progress {
  int mode; /* 0 none, 1 bar, 2 lines */
  double start, last;
} progress;

static void progress_show(progress *p, uint64_t done, uint64_t total, int final) {
  if (!p->mode) return;
  double t = now_s();
  if (!final && t - p->last < (p->mode == 1 ? 0.2 : 5.0)) return;
  p->last = t;
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

/* ---- pv_build ----------------------------------------------------------------- */

static int default_threads(void) {
  int n = pv__available_cpus();
  return n > 1024 ? 1024 : n;
}

static int check_options(const pv_build_options *o, char *err, size_t cap) {
  if (o->resize > PV_RESIZE_NONE || (o->resize != PV_RESIZE_NONE && o->resize_to == 0))
    snprintf(err, cap, "bad resize policy");
  else if (o->filter < 0 || o->filter > PV_FILTER_LANCZOS)
    snprintf(err, cap, "bad filter");
  else if (o->codec < 0 || o->codec > PV_PACK_CODEC_AUTO)
    snprintf(err, cap, "bad codec");
  else if (o->jpeg_quality < 1 || o->jpeg_quality > 100)
    snprintf(err, cap, "jpeg quality must be 1..100");
  else if (o->zstd_level < 1 || o->zstd_level > ZSTD_maxCLevel())
    snprintf(err, cap, "zstd level must be 1..%d", ZSTD_maxCLevel());
  else if (o->shard_bytes < 4096)
    snprintf(err, cap, "shard size must be at least 4096 bytes");
  else if (o->threads < 0 || o->threads > 1024)
    snprintf(err, cap, "threads must be 0..1024");
  else
    return 1;
  return 0;
}

pv_status pv_build(const char *src, const char *out_dir, const pv_build_options *opts,
                   pv_build_summary *summary, char *err, size_t errcap) {
  pv_build_options o;
  pv_build_summary sum;
  char ebuf[512] = "";
  if (!err) {
    err = ebuf;
    errcap = sizeof ebuf;
  }
  err[0] = 0;
  memset(&sum, 0, sizeof sum);
  if (!src) return PV_ERR_INVALID_ARG;
  if (opts)
    o = *opts;
  else
    pv_build_options_init(&o);
  if (!check_options(&o, err, errcap)) return PV_ERR_INVALID_ARG;
  int threads = o.threads ? o.threads : default_threads();
  double t0 = now_s();

  pv_status st = PV_OK;
  char *out_owned = out_dir ? NULL : pv_default_output_dir(src);
  if (!out_dir) out_dir = out_owned;
  char *src_abs = NULL, *tmpdir = NULL, *opt_text = NULL, *skipped = NULL;
  size_t skipped_len = 0;
  FILE *skipped_f = NULL, *report = NULL;
  uint64_t *order = NULL;
  const char **paths = NULL;
  uint32_t *labels = NULL;
  uint64_t *class_counts = NULL;
  uint8_t *index_buf = NULL;
  build_state b;
  int pool_started = 0;
  pthread_t *tids = NULL;
  int nthreads_started = 0;
  out_state os;
  memset(&b, 0, sizeof b);
  memset(&os, 0, sizeof os);
  os.sw.fd = -1;
  pv_walk_result walk;
  memset(&walk, 0, sizeof walk);

  if (!out_dir) return PV_ERR_NOMEM;
  if (!(src_abs = realpath(src, NULL))) {
    snprintf(err, errcap, "%s: %s", src, strerror(errno));
    st = errno == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
    goto out;
  }
  /* Never over, above or inside the source; --force only over a dataset. */
  if ((st = pv__check_output(src_abs, out_dir, o.force, err, errcap)) != PV_OK) goto out;
  st = pv__walk_imagefolder(src_abs, &walk, walk_warn, &o, err, errcap);
  if (st != PV_OK) goto out;
  if (o.cancel && *o.cancel) {
    snprintf(err, errcap, "interrupted; no output written");
    st = PV_ERR_CANCELLED;
    goto out;
  }
  for (uint32_t c = 0; c < walk.class_count; c++)
    if (strlen(walk.classes[c]) > PV_MAX_PATH_BYTES) {
      snprintf(err, errcap, "class name longer than %u bytes", PV_MAX_PATH_BYTES);
      st = PV_ERR_LIMIT;
      goto out;
    }
  sum.files = walk.file_count;
  sum.classes = walk.class_count;
  if (walk.file_count == 0) {
    snprintf(err, errcap, "%s: no image files in %u class folders", src, walk.class_count);
    st = PV_ERR_EMPTY;
    goto out;
  }

  /* Job order: torchvision's order, or a seeded Fisher-Yates shuffle of it. */
  order = malloc(walk.file_count * sizeof *order);
  if (!order) goto out_nomem;
  for (size_t i = 0; i < walk.file_count; i++) order[i] = i;
  if (o.shuffle) {
    uint64_t s = o.seed;
    for (size_t i = walk.file_count - 1; i > 0; i--) {
      size_t j = (size_t)uniform_below(&s, i + 1);
      uint64_t t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }
  if (!(opt_text = options_text(&o, src_abs))) goto out_nomem;
  {
    /* dataset_id: a fingerprint of the options and the ordered input list,
     * so shards of another build are told apart (spec: dataset_id). */
    XXH3_state_t *hs = XXH3_createState();
    if (!hs) goto out_nomem;
    XXH3_64bits_reset(hs);
    XXH3_64bits_update(hs, opt_text, strlen(opt_text));
    for (size_t i = 0; i < walk.file_count; i++) {
      const pv_walk_file *f = &walk.files[order[i]];
      XXH3_64bits_update(hs, f->relpath, strlen(f->relpath) + 1);
      uint8_t le[4]; /* little-endian, so the id is the same on every host */
      pv_store32(le, f->label);
      XXH3_64bits_update(hs, le, sizeof le);
    }
    os.dataset_id = XXH3_64bits_digest(hs);
    XXH3_freeState(hs);
  }
  if ((st = pv__make_tmpdir(out_dir, &tmpdir, err, errcap)) != PV_OK) goto out;
  os.tmpdir = tmpdir;
  os.shard_bytes = o.shard_bytes;
  if (!(report = pv__fopen_in(tmpdir, PV_REPORT_FILENAME, err, errcap))) {
    st = PV_ERR_IO;
    goto out;
  }
  if (!(skipped_f = open_memstream(&skipped, &skipped_len))) goto out_nomem;
  paths = malloc(walk.file_count * sizeof *paths);
  labels = malloc(walk.file_count * sizeof *labels);
  class_counts = calloc(walk.class_count ? walk.class_count : 1, sizeof *class_counts);
  if (!paths || !labels || !class_counts) goto out_nomem;

  /* Start the pool. */
  b.o = &o;
  b.src = src_abs;
  b.walk = &walk;
  b.order = order;
  b.jobs = walk.file_count;
  b.window = (uint32_t)threads * 4;
  b.slots = calloc(b.window, sizeof *b.slots);
  tids = calloc((size_t)threads, sizeof *tids);
  if (!b.slots || !tids) goto out_nomem;
  pthread_mutex_init(&b.mu, NULL);
  pthread_cond_init(&b.cv_ready, NULL);
  pthread_cond_init(&b.cv_space, NULL);
  pool_started = 1;
  for (int t = 0; t < threads; t++) {
    if (pthread_create(&tids[t], NULL, worker_main, &b) != 0) break;
    nthreads_started++;
  }
  if (nthreads_started == 0) {
    snprintf(err, errcap, "could not start worker threads");
    st = PV_ERR_NOMEM;
    goto out;
  }

  progress pg = {0};
  pg.mode = o.progress < 0 ? (isatty(2) ? 1 : 2) : o.progress;
  pg.start = pg.last = now_s();
  for (uint64_t j = 0; j < b.jobs; j++) {
    job_result r;
    pthread_mutex_lock(&b.mu);
    while (!b.slots[j % b.window].ready) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 100 * 1000 * 1000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&b.cv_ready, &b.mu, &ts);
      if (o.cancel && *o.cancel) break;
    }
    if (o.cancel && *o.cancel) {
      pthread_mutex_unlock(&b.mu);
      snprintf(err, errcap, "interrupted; no output written");
      st = PV_ERR_CANCELLED;
      goto out;
    }
    r = b.slots[j % b.window];
    memset(&b.slots[j % b.window], 0, sizeof r);
    b.written = j + 1;
    pthread_cond_broadcast(&b.cv_space);
    pthread_mutex_unlock(&b.mu);

    const pv_walk_file *f = &walk.files[order[j]];
    sum.bytes_in += r.bytes_in;
    if (r.status != PV_OK) {
      sum.skipped++;
      fprintf(report, "skipped\t%s\t%s\n", f->relpath, r.reason);
      fprintf(skipped_f, "%s\t%s\n", f->relpath, r.reason);
      logline(&o, PV_LOG_SKIP, "skipped %s: %s", f->relpath, r.reason);
      if (o.strict) {
        snprintf(err, errcap, "%s: %s (strict mode)", f->relpath, r.reason);
        st = PV_ERR_SKIPPED;
        goto out;
      }
    } else {
      st = shard_append(&os, sum.images, f->label, &r, err, errcap);
      free(r.payload);
      if (st != PV_OK) goto out;
      paths[sum.images] = f->relpath;
      labels[sum.images] = f->label;
      class_counts[f->label]++;
      sum.codec_records[r.codec]++;
      if (r.flags & PV_RECORD_FLAG_ORIGINAL) sum.original_records++;
      sum.images++;
    }
    progress_show(&pg, j + 1, b.jobs, j + 1 == b.jobs);
  }
  if (sum.images == 0) {
    snprintf(err, errcap, "%s: none of the %llu image files could be packed (see %s)", src,
             (unsigned long long)walk.file_count, PV_REPORT_FILENAME);
    st = PV_ERR_EMPTY;
    goto out;
  }
  if ((st = shard_close(&os, err, errcap)) != PV_OK) goto out;
  for (uint32_t c = 0; c < walk.class_count; c++)
    if (class_counts[c] == 0 && walk.class_file_count[c] > 0)
      logline(&o, PV_LOG_WARN, "warning: class '%s' has no packable image (all skipped)",
              walk.classes[c]);
  fflush(skipped_f);
  {
    pv_index_input in = {0};
    in.dataset_id = os.dataset_id;
    in.shard_count = os.shard_count;
    in.shards = os.shards;
    in.class_count = walk.class_count;
    in.class_names = (const char *const *)walk.classes;
    in.class_record_counts = class_counts;
    in.record_count = sum.images;
    in.record_paths = paths;
    in.record_labels = labels;
    in.options = opt_text;
    in.skipped = skipped ? skipped : "";
    in.skipped_count = sum.skipped;
    uint64_t isz = pv_index_encoded_size(&in);
    if (isz == 0) {
      snprintf(err, errcap, "index limits exceeded");
      st = PV_ERR_LIMIT;
      goto out;
    }
    if (!(index_buf = malloc((size_t)isz))) goto out_nomem;
    if ((st = pv_index_encode(&in, index_buf, isz)) != PV_OK) goto out;
    if (fclose(report) != 0) {
      report = NULL;
      snprintf(err, errcap, "writing %s: %s", PV_REPORT_FILENAME, strerror(errno));
      st = PV_ERR_IO;
      goto out;
    }
    report = NULL;
    if ((st = pv__fsync_path(tmpdir, PV_REPORT_FILENAME, err, errcap)) != PV_OK) goto out;
    int fd = pv__create_file(tmpdir, PV_INDEX_FILENAME, err, errcap);
    uint64_t off = 0;
    if (fd < 0) {
      st = PV_ERR_IO;
      goto out;
    }
    if ((st = pv__write_all(fd, index_buf, (size_t)isz, &off, err, errcap)) != PV_OK ||
        (st = pv__fsync_close(fd, err, errcap)) != PV_OK) {
      if (st != PV_OK) close(fd);
      goto out;
    }
    os.bytes_out += isz;
  }
  {
    char *leftover = NULL;
    if ((st = pv__commit_dir(tmpdir, out_dir, o.force, &leftover, err, errcap)) != PV_OK) goto out;
    if (leftover)
      logline(&o, PV_LOG_WARN,
              "warning: kept %s (the replaced dataset): files pvpack did not write appeared in it",
              leftover);
    free(leftover);
  }
  free(tmpdir);
  tmpdir = NULL;
  goto out;

out_nomem:
  st = PV_ERR_NOMEM;
  snprintf(err, errcap, "out of memory");
out:
  if (pool_started) {
    pthread_mutex_lock(&b.mu);
    b.stop = 1;
    pthread_cond_broadcast(&b.cv_space);
    pthread_mutex_unlock(&b.mu);
    for (int t = 0; t < nthreads_started; t++) pthread_join(tids[t], NULL);
    for (uint32_t i = 0; i < b.window; i++) free(b.slots[i].payload);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv_ready);
    pthread_cond_destroy(&b.cv_space);
  }
  if (os.sw.fd >= 0) close(os.sw.fd);
  if (report) fclose(report);
  if (skipped_f) fclose(skipped_f);
  if (tmpdir) pv__remove_dataset_dir(tmpdir); /* failed or cancelled: leave nothing */
  sum.shards = os.shard_count;
  sum.bytes_out = os.bytes_out;
  sum.seconds = now_s() - t0;
  sum.threads = nthreads_started;
  if (summary) *summary = sum;
  free(b.slots);
  free(tids);
  free(os.sw.table);
  free(os.shards);
  free(index_buf);
  free(skipped);
  free(paths);
  free(labels);
  free(class_counts);
  free(order);
  free(opt_text);
  free(tmpdir);
  free(src_abs);
  free(out_owned);
  pv__walk_free(&walk);
  return st;
}
