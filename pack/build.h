/* build.h - the stages of pv_build (internal to pack/).
 *
 *   plan   plan.c   what the build will do, decided before a byte is
 *                   written: the walk (torchvision order), the job order
 *                   (the seeded shuffle), the options text and the dataset
 *                   id. Job j is one input file, walk.files[order[j]].
 *   write  write.c  jobs [first, end) of a plan: a pool of workers encodes
 *                   one job each (pv__encode_job, build.c) and one writer
 *                   appends the results in job order to shards it cuts at
 *                   the shard size, laid out by format/'s pv_shard_writer;
 *                   skipped jobs go to report.txt and the skipped list.
 *   index  index.c  the index of a plan and of what its write stage
 *                   produced, written last.
 *
 * pv_build (build.c) resolves the source, applies the output rule, runs
 * plan, write and index into a temporary directory and commits it. The
 * stages meet only through the structs below: every stage takes the plan,
 * and write takes a job range, so that a build can be cut into parts (a
 * part = a range of the plan's jobs, written on its own, its shards and
 * records numbered from 0) and merged; pv_build writes the one range
 * [0, jobs).
 *
 * Output bytes depend only on (input, options): the writer consumes strictly
 * in job order, every encoder is deterministic, the shuffle and the id use
 * platform-independent arithmetic.
 */
#ifndef PV_BUILD_H
#define PV_BUILD_H

#include <stdint.h>

#include "codec.h"
#include "pack_util.h"
#include "pv_format.h"
#include "pv_pack.h"
#include "resample.h"
#include "walk.h"

/* ---- plan (plan.c) ---------------------------------------------------------- */

typedef struct pv__plan {
  const pv_build_options *o; /* borrowed, checked */
  const char *src;           /* the source's realpath, borrowed */
  pv_walk_result walk;       /* classes and files, torchvision order */
  uint64_t *order;           /* job -> index into walk.files */
  uint64_t jobs;             /* walk.file_count */
  char *options_text;        /* the index's options section (NUL-terminated) */
  uint64_t dataset_id;       /* XXH3 of options_text and the jobs' paths and labels */
  /* A part's plan read from a plan file (plan_file.c) holds only its slice:
   * walk.files and order cover jobs [job_base, job_base + walk.file_count)
   * of the `jobs` of the whole plan, and stamps (one per slice job, NULL
   * for a walked plan) what each file was when the plan was made. */
  uint64_t job_base;
  pv__file_stamp *stamps;
} pv__plan;

/* The source file of job `job` of the plan (job_base <= job < job_base + the
 * files it holds), and what the plan recorded of it (NULL: nothing). */
static inline const pv_walk_file *pv__plan_file(const pv__plan *p, uint64_t job) {
  return &p->walk.files[p->order[job - p->job_base]];
}
static inline const pv__file_stamp *pv__plan_stamp(const pv__plan *p, uint64_t job) {
  return p->stamps ? &p->stamps[job - p->job_base] : NULL;
}

/* Plans the build of the ImageFolder tree at src_abs (src: the name the
 * user gave, for messages) under options o (checked; borrowed by the plan,
 * as src_abs is). Sets sum->files and sum->classes once the walk is known.
 * Returns PV_OK; the walk's statuses; PV_ERR_CANCELLED (o->cancel);
 * PV_ERR_LIMIT (a class name over PV_MAX_PATH_BYTES); PV_ERR_EMPTY (no
 * image file); PV_ERR_NOMEM. *p is to be freed with pv__plan_free whatever
 * the status. */
pv_status pv__plan_make(const char *src, const char *src_abs, const pv_build_options *o,
                        pv__plan *p, pv_build_summary *sum, char *err, size_t cap);
void pv__plan_free(pv__plan *p); /* accepts a zeroed plan */

/* Part k of n (0 <= k < n, n >= 1) of a plan of `jobs` jobs: the contiguous
 * slice [*first, *end) of the pack-time order, first = floor(k*jobs/n),
 * end = floor((k+1)*jobs/n), computed without overflow for every jobs and
 * every n up to UINT32_MAX. The n slices are disjoint, cover [0, jobs) in
 * order and differ in size by at most one job; they depend only on (jobs,
 * k, n), so every part of a build computes the same cut. Returns PV_OK, or
 * PV_ERR_INVALID_ARG (n == 0 or k >= n; *first = *end = 0). */
pv_status pv__plan_part(uint64_t jobs, uint32_t k, uint32_t n, uint64_t *first, uint64_t *end);

/* ---- plan files (plan_file.c): list the tree once for all parts ------------ */

/* The fingerprint of an n-part build of plan p (part.txt's "plan"): XXH3-64
 * of the options text (the seed and every option that changes the bytes),
 * n, and for every file of the walk in torchvision order its path, label,
 * size and modification time (stat'ed now; zeros for a vanished file).
 * When stamps is not NULL (walk.file_count entries, walk order), what was
 * stat'ed is stored there. */
pv_status pv__plan_fingerprint(const pv__plan *p, uint32_t n, uint64_t *fp, pv__file_stamp *stamps,
                               char *err, size_t cap);

/* Writes dir/<k>-of-<n>.pvl for k < n: each the slice pv__plan_part gives
 * part k, in pack-time order, with what a part needs to build it without
 * listing the tree (options text, classes, fingerprint fp, dataset id,
 * every file's path, label and stamp; stamps in walk order), each file
 * checksummed and fsynced. */
pv_status pv__plan_files_write(const pv__plan *p, uint32_t n, uint64_t fp,
                               const pv__file_stamp *stamps, const char *dir, char *err,
                               size_t cap);

/* Reads plan file `path` as part k of n of a build of src_abs under options
 * o (checked), into *p (a slice plan: see pv__plan) and *fp. The file is
 * untrusted: bounded, checksummed, every field validated (paths relative,
 * inside their class folder, no "." or ".." component; labels below the
 * class count; the slice is pv__plan_part's). Refused with
 * PV_ERR_INVALID_ARG when it was made for other options (the first line
 * that differs is named), PV_ERR_CORRUPT when damaged, PV_ERR_NOT_FOUND
 * when missing. *p is to be freed with pv__plan_free whatever the status. */
pv_status pv__plan_file_read(const char *path, uint32_t k, uint32_t n, const pv_build_options *o,
                             const char *src_abs, pv__plan *p, uint64_t *fp,
                             pv_build_summary *sum, char *err, size_t cap);

/* Removes a plan directory pvpack wrote (its <k>-of-<n>.pvl regular files,
 * then rmdir: never recursive). 0 when it is gone (or was never there). */
int pv__remove_plan_dir(const char *dir);

/* Reads only the fingerprint and N of plan file `path`; PV_OK or a status. */
pv_status pv__plan_file_peek(const char *path, uint64_t *fp, uint32_t *n);

/* Removes the temporary directories OUT/parts/<k>-of-<n>.tmp-XXXXXX of
 * dead attempts of the parts of n (part.c: killed, their attempt.lock
 * free), each under its part's lock: only the files pvpack writes in them,
 * never a directory where anything else appeared. One scan of parts (OUT/
 * parts). Returns the number of attempts' directories left (alive, or on a
 * file system without flock where live and dead cannot be told apart). */
unsigned pv__parts_sweep(const char *parts, uint32_t n);

/* The common start of pv_build, pv_build_part and pv_build_plan (build.c):
 * *o is opts copied size-tolerantly over the defaults (NULL opts: the
 * defaults) and checked. PV_OK, or PV_ERR_INVALID_ARG with err set. */
pv_status pv__build_options_take(const pv_build_options *opts, pv_build_options *o, char *err,
                                 size_t cap);
/* realpath(src) into *src_abs (malloc'ed); PV_ERR_NOT_FOUND / PV_ERR_IO with
 * err naming src. */
pv_status pv__source_realpath(const char *src, char **src_abs, char *err, size_t cap);

/* The options section's text (build.c, with the options). malloc'ed; NULL
 * when out of memory. */
char *pv__build_options_text(const pv_build_options *o, const char *src_abs);

/* ---- one job (build.c) ----------------------------------------------------- */

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

/* A worker's encoders, made once per thread. */
typedef struct worker_ctx {
  pv__codec_enc *enc; /* the record codecs' encoders (codec/codec.h) */
  pv_resampler *rs;
} worker_ctx;

/* Makes w's encoders; 1 when all of them could be made, else 0 (w is then
 * still to be freed). */
int pv__worker_ctx_init(worker_ctx *w);
void pv__worker_ctx_free(worker_ctx *w);

/* Reads, decodes, resizes and encodes job `job` of plan b into r (zeroed by
 * the caller): r->status PV_OK with a malloc'ed payload, or the reason the
 * file is skipped. Thread-safe (b is only read). */
void pv__encode_job(const pv__plan *b, worker_ctx *w, uint64_t job, job_result *r);

/* ---- write (write.c) ------------------------------------------------------- */

/* What the write stage of a job range produced: records numbered from 0 in
 * job order (skipped jobs leave no record), in shard-00000.pvs onwards. */
typedef struct pv__shards {
  pv_shard_ref *refs;     /* shard_count references, for the index */
  uint32_t shard_count;
  uint64_t records;
  const char **paths;     /* record -> source path (points into the plan's walk) */
  uint32_t *labels;       /* record -> label */
  uint64_t *class_counts; /* records per class (the walk's class_count) */
  char *skipped;          /* "path\treason\n" per skipped job, NUL-terminated */
  uint64_t skipped_count;
  uint64_t bytes_out;     /* bytes of the shards */
} pv__shards;

/* Encodes jobs [first, end) of plan p on the pool (p->o->threads workers,
 * 0 = the CPUs) and writes their records into shards of at most
 * p->o->shard_bytes (a larger record gets a shard of its own) and
 * report.txt in dir, every file fsynced. Adds to sum: images, skipped,
 * bytes_in, codec_records, original_records, and sets shards, bytes_out
 * and threads (also on failure). Returns PV_OK; PV_ERR_SKIPPED (strict);
 * PV_ERR_CANCELLED; PV_ERR_LIMIT (more than PV_MAX_SHARDS shards);
 * PV_ERR_IO; PV_ERR_NOMEM. *out is to be freed with pv__shards_free
 * whatever the status. */
pv_status pv__write_shards(const pv__plan *p, uint64_t first, uint64_t end, const char *dir,
                           pv__shards *out, pv_build_summary *sum, char *err, size_t cap);
void pv__shards_free(pv__shards *s); /* accepts a zeroed struct */

/* ---- index (index.c) ------------------------------------------------------- */

/* Writes dir/index.pvi for plan p and its written shards s (fsynced), and
 * (warn_empty) warns about classes left without a record (a part of a
 * build does not: most classes may lie in other parts). Adds the index's bytes to
 * sum->bytes_out. Returns PV_OK, PV_ERR_LIMIT (the index's limits),
 * PV_ERR_IO, PV_ERR_NOMEM. */
pv_status pv__write_index(const pv__plan *p, const pv__shards *s, const char *dir,
                          int warn_empty, pv_build_summary *sum, char *err, size_t cap);

/* ---- shared by the stages (build.c) ---------------------------------------- */

/* One line to o->log (or stderr when it is NULL). */
void pv__build_log(const pv_build_options *o, pv_log_level lv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Monotonic seconds. */
double pv__build_now(void);

#endif /* PV_BUILD_H */
