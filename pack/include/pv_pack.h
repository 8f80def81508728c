/* pv_pack.h - public API of the packer.
 *
 * pv_build turns an ImageFolder tree into a dataset directory (spec/FORMAT.md);
 * pv_verify (pv_verify.h, the reader's) checks every byte such a build wrote.
 * The `pvpack` command is a thin shell over these calls, and the Python
 * binding calls them too.
 *
 * Depends on: format/, image/, codec/, platform/ (never reader/),
 * libjpeg-turbo, zstd, libspng, libwebp, libtiff. Thread-safety: each call is independent and may run
 * concurrently with others on different outputs; internally each uses its
 * own thread pool.
 */
#ifndef PV_PACK_H
#define PV_PACK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pv_filter.h"
#include "pv_option.h"
#include "pv_status.h"
#include "pv_version.h" /* PV_VERSION_STRING: the options section's tool= line */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pv_resize_policy {
  PV_RESIZE_SHORTER = 0, /* shorter side to N (torchvision Resize(N)) */
  PV_RESIZE_LONGER = 1,  /* longer side to N */
  PV_RESIZE_NONE = 2     /* keep the source resolution */
} pv_resize_policy;

/* Codec choice per record; values of pv_codec plus this one. */
#define PV_PACK_CODEC_JPEG 1
#define PV_PACK_CODEC_RAW 0
#define PV_PACK_CODEC_ZSTD 2
/* auto: per record, zstd (lossless) when the resized image's raw RGB size is
 * at most auto_threshold bytes (small images: JPEG saves little there and
 * costs a lossy generation and decode time), else JPEG. Like FFCV's
 * 'smart' mode, but lossless-compressed instead of raw. */
#define PV_PACK_CODEC_AUTO 255 /* not a codec byte: new codecs never collide */

/* Room for per-codec counts in pv_build_summary: the format's codecs
 * (PV_CODEC_COUNT, pv_format.h) fit, with room for new ones without a
 * change of layout. */
#define PV_PACK_CODEC_SLOTS 8

/* Log levels passed to pv_build_options.log. */
typedef enum pv_log_level { PV_LOG_INFO = 0, PV_LOG_WARN = 1, PV_LOG_SKIP = 2 } pv_log_level;

typedef struct pv_build_options {
  size_t size;                /* sizeof(pv_build_options); set by _init */
  pv_resize_policy resize;    /* default PV_RESIZE_SHORTER */
  uint32_t resize_to;         /* N, default 256 */
  int filter;                 /* pv_filter (pv_filter.h); default bilinear (torchvision's) */
  int codec;                  /* PV_PACK_CODEC_*; default JPEG */
  uint32_t auto_threshold;    /* for PV_PACK_CODEC_AUTO: raw bytes at or
                                 below which zstd is used; default 65536 */
  int jpeg_quality;           /* 1..100, default 90 */
  int zstd_level;             /* 1..22, default 3 */
  int keep_original;          /* store a source JPEG as is when it needs no
                                 resize and no colour conversion; default 1 */
  uint64_t shard_bytes;       /* target shard size, default 256 MiB */
  int shuffle;                /* shuffle record order; default 1 */
  uint64_t seed;              /* shuffle seed; default 0 */
  int threads;                /* workers; 0 = the CPUs this process may use
                                 (affinity mask capped by the cgroup CPU
                                 quota; see README "Threads") */
  uint64_t max_pixels;        /* skip images above this many pixels;
                                 default 178956970 (PIL refuses above it) */
  uint64_t max_file_bytes;    /* skip files larger than this; default 1 GiB */
  int apply_exif_orientation; /* default 0 (torchvision does not) */
  int strict;                 /* any skipped file fails the build */
  int force;                  /* replace an existing output directory, if
                                 it is a pvpack dataset (pv_build) */
  int progress;               /* 0 none, 1 bar on a terminal, 2 plain lines;
                                 default -1 = bar if stderr is a tty, else
                                 plain lines */
  /* Called for warnings and skipped files (one line, no newline); NULL =
   * print to stderr. Called from the writer thread only. */
  void (*log)(void *ctx, pv_log_level level, const char *line);
  void *log_ctx;
  /* When non-NULL and it becomes non-zero (e.g. from a SIGINT handler), the
   * build stops, removes its temporary files and returns PV_ERR_CANCELLED. */
  const volatile sig_atomic_t *cancel;
  /* JPEG records written by the packer carry restart markers every R MCUs,
   * R the largest divisor of the MCUs per row that is <= jpeg_restart, so
   * a reader can decode only the segments a crop covers (spec/FORMAT.md,
   * "JPEG records"). 0 = no restart markers. Default 4. */
  uint32_t jpeg_restart;
  /* When non-NULL: called with (images done, images to do) of the writing
   * stage instead of printing a bar or lines to stderr -- at most every
   * 0.2 s and once when done == total -- unless progress is 0 (none).
   * Called from the writer thread only; for GUIs and notebooks (the Python
   * binding's progress= callback and tqdm). */
  void (*on_progress)(void *ctx, uint64_t done, uint64_t total);
  void *progress_ctx;
} pv_build_options;

/* The defaults of every option below; the table they come from
 * (pv_build_option_info) also gives each option's range, CLI flag and
 * Python keyword. */
PV_API void pv_build_options_init(pv_build_options *o);

/* The options table of pv_build_options (pv_option.h): entry i, in
 * `pvpack build --help` order, or NULL when i >= pv_build_option_count().
 * Every entry names a field of pv_build_options set by a person (not size,
 * log, log_ctx, cancel, on_progress, progress_ctx). */
PV_API size_t pv_build_option_count(void);
PV_API const pv_option_info *pv_build_option_info(size_t i);

/* The checks pv_build makes of its options before anything else: every
 * field of the table within its range (BOOL fields: any value), zstd_level
 * at most ZSTD_maxCLevel(). PV_OK or PV_ERR_INVALID_ARG with err (may be
 * NULL) naming the option ("quality must be 1..100, not 0"). */
PV_API pv_status pv_build_options_check(const pv_build_options *o, char *err, size_t errcap);

typedef struct pv_build_summary {
  uint64_t files;        /* candidate files found by the walk */
  uint64_t images;       /* records written */
  uint64_t skipped;      /* files skipped (reasons in report.txt) */
  uint32_t classes;
  uint32_t shards;
  uint64_t bytes_in;     /* bytes of source files read */
  uint64_t bytes_out;    /* bytes of shards and index written */
  uint64_t codec_records[PV_PACK_CODEC_SLOTS]; /* records per pv_codec byte
                                                  (the first PV_CODEC_COUNT used) */
  uint64_t original_records; /* of which stored as original JPEG bytes */
  double seconds;
  int threads;               /* worker threads started (0 if it failed first) */
} pv_build_summary;

/* Builds a dataset from the ImageFolder tree src into out_dir (when NULL:
 * src with trailing slashes removed plus ".pvpack"). Writes into a temporary
 * sibling directory, fsyncs, writes the index last and renames the
 * directory into place, so out_dir never holds a partial dataset.
 * summary and err (one line) may be NULL.
 * Output rule (pvpack never deletes or overwrites what it did not write):
 * out_dir that is src, a folder above src or a path inside src is refused
 * whatever force says (PV_ERR_INVALID_ARG; compared as resolved paths and
 * by device and inode, so symlinks and bind mounts do not hide it). An
 * existing out_dir is refused without force (PV_ERR_EXISTS), and with force
 * unless it is a real directory holding only index.pvi (starting with the
 * index magic), shard-NNNNN.pvs and report.txt (PV_ERR_EXISTS, err says
 * which entry is foreign). Replacing removes only those files and the
 * directory, after the new dataset is in place. The dataset directory gets
 * mode 0777 and its files 0666, less the umask.
 * Returns PV_OK; PV_ERR_NOT_FOUND (src, or out_dir's parent, missing);
 * PV_ERR_EMPTY (no class folder or no image could be packed);
 * PV_ERR_EXISTS (see above); PV_ERR_SKIPPED (strict and a file was skipped);
 * PV_ERR_CANCELLED; PV_ERR_IO; PV_ERR_NOMEM; PV_ERR_INVALID_ARG. */
PV_API pv_status pv_build(const char *src, const char *out_dir, const pv_build_options *opts,
                          pv_build_summary *summary, char *err, size_t errcap);

/* The most parts a build may be cut into (pv_build_part). */
#define PV_MAX_PARTS 65536u

/* Builds part k of n (0 <= k < n <= PV_MAX_PARTS) of the dataset that
 * pv_build(src, out_dir, opts) would write, for packing on many machines
 * that see the same src and out_dir (then `pvpack merge`, pv_merge). Every
 * part walks the whole tree and makes the same plan; part k packs the
 * contiguous slice [floor(k*jobs/n), floor((k+1)*jobs/n)) of the pack-time
 * order into out_dir/parts/<k>-of-<n>/ (shards numbered from 0, report.txt,
 * a partial index.pvi, and part.txt: the completion record naming the
 * plan's fingerprint: the options text with the seed, n, and every file's
 * path, label, size and modification time). It is written into
 * out_dir/parts/<k>-of-<n>.tmp-XXXXXX and renamed into place, so the part
 * directory exists only complete; temporary directories of killed runs of
 * this part are removed first (only the files pvpack writes in them).
 * Duplicate attempts of one part may run at once, on one machine or on
 * several sharing out_dir (Spark speculation, an engine's retry beside a
 * slow first attempt, a job started twice): each writes its own temporary
 * directory, holding an flock on its attempt.lock; the first to finish
 * renames its copy into place (under the short-held part lock
 * out_dir/parts/<k>-of-<n>.lock, unlinked after use) and the others find
 * the part complete from the same plan, discard their identical copy and
 * return PV_OK (a log line says so); an attempt that finds a merge of
 * out_dir began after it started (parts/merge.txt or index.pvi appeared)
 * stops or discards its copy too, with PV_OK. Only dead
 * attempts' directories (their lock free) are ever removed; on a file
 * system without flock none is, and duplicates still end with PV_OK.
 * out_dir and out_dir/parts are created when missing. out_dir must not be
 * src, above it or inside it (PV_ERR_INVALID_ARG).
 * A part already complete for the same fingerprint is left as it is
 * (PV_OK, a log line says so, summary->images = 0 and summary->threads = 0); one of another
 * fingerprint is refused (PV_ERR_EXISTS) unless opts->force, which repacks
 * it; a <k>-of-<n> that is not a complete part (no readable part.txt) is
 * never replaced (PV_ERR_EXISTS). summary: the part's figures (files and classes: the whole tree's).
 * Returns PV_OK; PV_ERR_INVALID_ARG; PV_ERR_NOT_FOUND; PV_ERR_EMPTY (no
 * image file in the tree); PV_ERR_EXISTS; PV_ERR_SKIPPED (strict);
 * PV_ERR_CANCELLED; PV_ERR_LIMIT; PV_ERR_IO; PV_ERR_NOMEM. A part with no
 * record (more parts than files, or all its files skipped) is complete. */
PV_API pv_status pv_build_part(const char *src, const char *out_dir, const pv_build_options *opts,
                               uint32_t k, uint32_t n, pv_build_summary *summary, char *err,
                               size_t errcap);

/* Lists the tree once for an n-part build (1 <= n <= PV_MAX_PARTS): makes
 * the plan pv_build_part would make and writes, for every part k, the
 * file out_dir/parts/plan/<k>-of-<n>.pvl holding part k's slice (paths,
 * labels, sizes and modification times in pack-time order), the classes,
 * the options text and the plan's fingerprint (spec/FORMAT.md, "Part
 * plans"). pv_build_part then reads its own file instead of walking the
 * tree and stat'ing every file, so N parts cost one listing, not N: what
 * limits packing on many machines over a shared file system. A part built
 * from the plan is the part a walked plan gives (same fingerprint, same
 * bytes); its options must be the plan's (else PV_ERR_INVALID_ARG naming
 * the first option line that differs), and a file that changed, vanished
 * or appeared since the plan fails the part (PV_ERR_CHANGED, naming it).
 * Written into a temporary directory and renamed into place, so the plan
 * exists only complete. A plan already there with the same fingerprint and
 * n is left as it is (PV_OK, summary->threads = 0); another is refused
 * (PV_ERR_EXISTS) unless opts->force, which replaces it (only the plan
 * files pvpack writes). pv_merge removes the plan with the parts.
 * summary: files and classes of the tree. Returns PV_OK; the statuses of
 * pv_build_part before it packs; PV_ERR_EXISTS. */
PV_API pv_status pv_build_plan(const char *src, const char *out_dir, const pv_build_options *opts,
                               uint32_t n, pv_build_summary *summary, char *err, size_t errcap);

/* Merges the N parts of out_dir/parts/ (pv_build_part) into a dataset in
 * out_dir: checks that parts 0..N-1 are all complete, of one N and one
 * plan fingerprint (a missing part: PV_ERR_NOT_FOUND; another N or another
 * plan: PV_ERR_INVALID_ARG, err names the part), then moves the shards
 * into out_dir with global numbering (only their headers and footers are
 * rewritten, never a payload byte), writes report.txt (the parts' reports
 * in part order) and index.pvi last, and removes the emptied parts (and
 * the directories of dead duplicate attempts, pv_build_part). A
 * marker (parts/merge.txt) makes a killed merge resumable: run it again;
 * until the index is renamed into place out_dir holds nothing that opens
 * as a dataset. The result does not depend on the order the parts were
 * built in. summary (may be NULL): images, skipped, classes, shards,
 * bytes_out. Returns PV_OK; PV_ERR_NOT_FOUND; PV_ERR_INVALID_ARG;
 * PV_ERR_EXISTS (out_dir already holds an index.pvi, or a shard name it
 * needs); PV_ERR_EMPTY (no record in any part); PV_ERR_CORRUPT,
 * PV_ERR_CHECKSUM, PV_ERR_TRUNCATED, PV_ERR_VERSION (a part's files);
 * PV_ERR_LIMIT; PV_ERR_IO; PV_ERR_NOMEM. */
PV_API pv_status pv_merge(const char *out_dir, pv_build_summary *summary, char *err,
                          size_t errcap);

/* Parses "K/N" (decimal, 0 <= K < N <= PV_MAX_PARTS). PV_OK or
 * PV_ERR_INVALID_ARG (err, may be NULL, says why). */
PV_API pv_status pv_part_parse(const char *text, uint32_t *k, uint32_t *n, char *err,
                               size_t errcap);

/* K and N from the environment of a job array: SLURM_ARRAY_TASK_ID, less
 * SLURM_ARRAY_TASK_MIN (default 0), with N from SLURM_ARRAY_TASK_COUNT, or
 * MAX - MIN + 1, or parts (a step array is refused); else
 * JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) with N = parts (needed).
 * parts (0 = not given) must agree with what the environment says.
 * Returns PV_OK or PV_ERR_INVALID_ARG (err names the variable). Reads the
 * environment: not thread-safe against setenv. */
PV_API pv_status pv_part_from_env(uint32_t parts, uint32_t *k, uint32_t *n, char *err,
                                  size_t errcap);

/* Default output directory for src (malloc'ed): "/data/train/" ->
 * "/data/train.pvpack". NULL on allocation failure. */
PV_API char *pv_default_output_dir(const char *src);

/* pv_verify (the reader-side check of a built dataset): pv_verify.h. */

#ifdef __cplusplus
}
#endif
#endif /* PV_PACK_H */
