/* build.c - pvpack build: ImageFolder tree -> shards + index.
 *
 * pv_build runs the stages of build.h: the plan (plan.c: walk, order,
 * options text, dataset id), the write stage (write.c: a pool of workers,
 * an ordered writer, shards cut at the shard size through format/'s shard
 * writer) and the index (index.c). The build options (defaults, checks,
 * the options text) are build_options.c's, from its table; this file holds
 * pv_build and the work of one job: read, decode, resize and encode one
 * source file (pv__encode_job).
 *
 * Crash safety: everything is written into a temporary sibling directory,
 * each file is fsynced, the index (the only file that makes a directory a
 * dataset) is written last, then the directory is renamed into place.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build.h"
#include "build_options.h"
#include "codec.h"
#include "decode.h"
#include "opts_copy.h"
#include "pack_util.h"
#include "pv_format.h"
#include "pv_pack.h"
#include "resample.h"
#include "walk.h"

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

void pv__encode_job(const pv__plan *b, worker_ctx *w, uint64_t job, job_result *r) {
  const pv_build_options *o = b->o;
  const pv_walk_file *f = pv__plan_file(b, job);
  pv_image img = {0}, small = {0};
  uint8_t *file = NULL;
  size_t flen = 0;
  char err[200];

  const pv__file_stamp *want = pv__plan_stamp(b, job);
  pv__file_stamp got;
  pv_status st = pv__read_file_stamped(b->src, f->relpath, o->max_file_bytes, &file, &flen,
                                       want ? &got : NULL, err, sizeof err);
  /* A part built from a plan file: the file must be what the plan listed
   * (its fingerprint says so); a changed, vanished or new file fails the
   * part (write.c), never becomes a skip the one-machine build would not
   * have. */
  if (want && (got.present != want->present || got.size != want->size ||
               got.mtime_sec != want->mtime_sec || got.mtime_nsec != want->mtime_nsec)) {
    reasonf(r, PV_ERR_CHANGED, "%s since the plan was made (size or modification time)",
            !got.present ? "gone or unreadable" : !want->present ? "appeared" : "changed");
    goto out;
  }
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

int pv__worker_ctx_init(worker_ctx *w) {
  memset(w, 0, sizeof *w);
  return pv__codec_enc_create(&w->enc) == PV_OK && pv__resampler_create(&w->rs) == PV_OK;
}

void pv__worker_ctx_free(worker_ctx *w) {
  pv__codec_enc_destroy(w->enc);
  pv__resampler_destroy(w->rs);
  memset(w, 0, sizeof *w);
}

/* ---- logging --------------------------------------------------------------------- */

void pv__build_log(const pv_build_options *o, pv_log_level lv, const char *fmt, ...) {
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

double pv__build_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

pv_status pv__build_options_take(const pv_build_options *opts, pv_build_options *o, char *err,
                                 size_t cap) {
  if (PV__OPTS_COPY(o, pv_build_options_init, opts) != PV_OK) {
    snprintf(err, cap, "options not initialised with pv_build_options_init (size %zu)",
             opts->size);
    return PV_ERR_INVALID_ARG;
  }
  return pv_build_options_check(o, err, cap) != PV_OK ? PV_ERR_INVALID_ARG : PV_OK;
}

pv_status pv__source_realpath(const char *src, char **src_abs, char *err, size_t cap) {
  if ((*src_abs = realpath(src, NULL))) return PV_OK;
  snprintf(err, cap, "%s: %s", src, strerror(errno));
  return errno == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
}

/* ---- pv_build ----------------------------------------------------------------- */

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
  if (pv__build_options_take(opts, &o, err, errcap) != PV_OK) return PV_ERR_INVALID_ARG;
  double t0 = pv__build_now();

  pv_status st = PV_OK;
  char *out_owned = out_dir ? NULL : pv_default_output_dir(src);
  if (!out_dir) out_dir = out_owned;
  char *src_abs = NULL, *tmpdir = NULL;
  pv__plan plan;
  pv__shards shards;
  memset(&plan, 0, sizeof plan);
  memset(&shards, 0, sizeof shards);

  if (!out_dir) return PV_ERR_NOMEM;
  if ((st = pv__source_realpath(src, &src_abs, err, errcap)) != PV_OK) goto out;
  /* Never over, above or inside the source; --force only over a dataset. */
  if ((st = pv__check_output(src_abs, out_dir, o.force, err, errcap)) != PV_OK) goto out;
  if ((st = pv__plan_make(src, src_abs, &o, &plan, &sum, err, errcap)) != PV_OK) goto out;
  if ((st = pv__make_tmpdir(out_dir, &tmpdir, err, errcap)) != PV_OK) goto out;
  if ((st = pv__write_shards(&plan, 0, plan.jobs, tmpdir, &shards, &sum, err, errcap)) != PV_OK)
    goto out;
  if (shards.records == 0) {
    snprintf(err, errcap, "%s: none of the %llu image files could be packed (see %s)", src,
             (unsigned long long)plan.jobs, PV_REPORT_FILENAME);
    st = PV_ERR_EMPTY;
    goto out;
  }
  if ((st = pv__write_index(&plan, &shards, tmpdir, 1, &sum, err, errcap)) != PV_OK) goto out;
  {
    char *leftover = NULL;
    if ((st = pv__commit_dir(tmpdir, out_dir, o.force, &leftover, err, errcap)) != PV_OK) goto out;
    if (leftover)
      pv__build_log(&o, PV_LOG_WARN,
                    "warning: kept %s (the replaced dataset): files pvpack did not write appeared "
                    "in it",
                    leftover);
    free(leftover);
  }
  free(tmpdir);
  tmpdir = NULL;

out:
  if (tmpdir) pv__remove_dataset_dir(tmpdir); /* failed or cancelled: leave nothing */
  sum.seconds = pv__build_now() - t0;
  if (summary) *summary = sum;
  pv__shards_free(&shards);
  pv__plan_free(&plan);
  free(tmpdir);
  free(src_abs);
  free(out_owned);
  return st;
}
