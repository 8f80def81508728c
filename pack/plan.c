/* plan.c - the plan of a build (build.h): walk, job order, options text,
 * dataset id. Nothing is written here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

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

static void walk_warn(void *ctx, const char *msg) {
  pv__build_log((const pv_build_options *)ctx, PV_LOG_WARN, "warning: %s", msg);
}

/* dataset_id: a fingerprint of the options and the ordered input list, so
 * shards of another build are told apart (spec: dataset_id). */
static pv_status dataset_id(pv__plan *p) {
  XXH3_state_t *hs = XXH3_createState();
  if (!hs) return PV_ERR_NOMEM;
  XXH3_64bits_reset(hs);
  XXH3_64bits_update(hs, p->options_text, strlen(p->options_text));
  for (uint64_t j = 0; j < p->jobs; j++) {
    const pv_walk_file *f = &p->walk.files[p->order[j]];
    XXH3_64bits_update(hs, f->relpath, strlen(f->relpath) + 1);
    uint8_t le[4]; /* little-endian, so the id is the same on every host */
    pv_store32(le, f->label);
    XXH3_64bits_update(hs, le, sizeof le);
  }
  p->dataset_id = XXH3_64bits_digest(hs);
  XXH3_freeState(hs);
  return PV_OK;
}

pv_status pv__plan_make(const char *src, const char *src_abs, const pv_build_options *o,
                        pv__plan *p, pv_build_summary *sum, char *err, size_t cap) {
  memset(p, 0, sizeof *p);
  p->o = o;
  p->src = src_abs;
  pv_status st = pv__walk_imagefolder(src_abs, &p->walk, walk_warn, (void *)o, err, cap);
  if (st != PV_OK) return st;
  if (o->cancel && *o->cancel) {
    snprintf(err, cap, "interrupted; no output written");
    return PV_ERR_CANCELLED;
  }
  for (uint32_t c = 0; c < p->walk.class_count; c++)
    if (strlen(p->walk.classes[c]) > PV_MAX_PATH_BYTES) {
      snprintf(err, cap, "class name longer than %u bytes", PV_MAX_PATH_BYTES);
      return PV_ERR_LIMIT;
    }
  sum->files = p->walk.file_count;
  sum->classes = p->walk.class_count;
  if (p->walk.file_count == 0) {
    snprintf(err, cap, "%s: no image files in %u class folders", src, p->walk.class_count);
    return PV_ERR_EMPTY;
  }

  /* Job order: torchvision's order, or a seeded Fisher-Yates shuffle of it. */
  p->jobs = p->walk.file_count;
  if (!(p->order = malloc(p->jobs * sizeof *p->order))) goto nomem;
  for (uint64_t i = 0; i < p->jobs; i++) p->order[i] = i;
  if (o->shuffle) {
    uint64_t s = o->seed;
    for (size_t i = p->jobs - 1; i > 0; i--) {
      size_t j = (size_t)uniform_below(&s, i + 1);
      uint64_t t = p->order[i];
      p->order[i] = p->order[j];
      p->order[j] = t;
    }
  }
  if (!(p->options_text = pv__build_options_text(o, src_abs))) goto nomem;
  if (dataset_id(p) != PV_OK) goto nomem;
  return PV_OK;
nomem:
  snprintf(err, cap, "out of memory");
  return PV_ERR_NOMEM;
}

void pv__plan_free(pv__plan *p) {
  free(p->order);
  free(p->options_text);
  free(p->stamps);
  pv__walk_free(&p->walk);
  memset(p, 0, sizeof *p);
}

/* floor(k * jobs / n) without the 128-bit product: jobs = q*n + r, so
 * k*jobs/n = k*q + k*r/n exactly, and k*r < n*n <= 2^64 fits (k, r < n). */
static uint64_t part_bound(uint64_t jobs, uint64_t k, uint64_t n) {
  uint64_t q = jobs / n, r = jobs % n;
  return k * q + (k * r) / n;
}

pv_status pv__plan_part(uint64_t jobs, uint32_t k, uint32_t n, uint64_t *first, uint64_t *end) {
  *first = *end = 0;
  if (n == 0 || k >= n) return PV_ERR_INVALID_ARG;
  *first = part_bound(jobs, k, n);
  *end = k + 1 == n ? jobs : part_bound(jobs, (uint64_t)k + 1, n);
  return PV_OK;
}
