/* pv_pack.h - public API of the packer and the verifier.
 *
 * pv_build turns an ImageFolder tree into a dataset directory (spec/FORMAT.md);
 * pv_verify checks every byte such a build wrote. The `pvpack` command is a
 * thin shell over these two calls, and the Python binding calls them too.
 *
 * Depends on: format/, reader/ (public header), libjpeg-turbo, zstd, libspng,
 * libwebp, libtiff. Thread-safety: each call is independent and may run
 * concurrently with others on different outputs; internally each uses its
 * own thread pool.
 */
#ifndef PV_PACK_H
#define PV_PACK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pv_filter.h"
#include "pv_status.h"
#include "pvpack.h"

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
#define PV_PACK_CODEC_AUTO 3

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
} pv_build_options;

void pv_build_options_init(pv_build_options *o);

typedef struct pv_build_summary {
  uint64_t files;        /* candidate files found by the walk */
  uint64_t images;       /* records written */
  uint64_t skipped;      /* files skipped (reasons in report.txt) */
  uint32_t classes;
  uint32_t shards;
  uint64_t bytes_in;     /* bytes of source files read */
  uint64_t bytes_out;    /* bytes of shards and index written */
  uint64_t codec_records[3]; /* records per pv_codec */
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
pv_status pv_build(const char *src, const char *out_dir, const pv_build_options *opts,
                   pv_build_summary *summary, char *err, size_t errcap);

/* Default output directory for src (malloc'ed): "/data/train/" ->
 * "/data/train.pvpack". NULL on allocation failure. */
char *pv_default_output_dir(const char *src);

/* ---- verify -------------------------------------------------------------- */

typedef struct pv_verify_options {
  size_t size;
  int decode;      /* also decode every record */
  int threads;     /* 0 = the CPUs this process may use, as pv_build */
  int max_problems; /* stop listing after this many (still counts); default 100 */
  /* Called once per problem found, from one thread at a time. NULL = stderr. */
  void (*problem)(void *ctx, const char *file, int64_t record, const char *source_path,
                  pv_status status, const char *what);
  void *ctx;
  /* decode: the read-side limits records are decoded within, those of
   * pv_decoder_decode and the loader (default pv_limits_init). A record
   * over one is a problem with status PV_ERR_LIMIT, as the loader would
   * refuse it. */
  pv_limits limits;
} pv_verify_options;

void pv_verify_options_init(pv_verify_options *o);

typedef struct pv_verify_summary {
  uint64_t records_checked;
  uint64_t records_decoded;
  uint64_t bytes_checked;
  uint32_t shards_checked;
  uint64_t problems;     /* all problems found, listed or not */
  double seconds;
  int threads;           /* threads that checked records (0: none ran) */
  /* Why verify stopped before checking everything, for a reason that is
   * not damage ("" otherwise): a resource limit (a shard it could not map:
   * out of mappings or address space; counts over this reader's limits). */
  char error[512];
} pv_verify_summary;

/* Checks the index, each shard's header, table and footer and their
 * agreement with the index, every byte of padding, and every record's
 * checksum (and with decode, that it decodes at the recorded size).
 * Returns PV_OK when clean. When damage was found (summary->problems > 0;
 * a missing index or shard counts as damage), returns the first problem's
 * status (PV_ERR_CHECKSUM, PV_ERR_TRUNCATED, PV_ERR_CORRUPT, ...). When it
 * could not run at all summary->problems is 0 and the status says why:
 * PV_ERR_NOT_FOUND (dir missing), PV_ERR_NOT_PVPACK (dir is not a pvpack
 * dataset: not a directory, or a directory with neither an index.pvi that
 * starts with the index magic nor any shard-NNNNN.pvs, such as an
 * ImageFolder or an empty folder), PV_ERR_IO, PV_ERR_NOMEM or
 * PV_ERR_INVALID_ARG. Problems beyond max_problems are counted in
 * summary->problems but not passed to the callback.
 * When it hit a resource limit (the index counts more than PV_MAX_SHARDS
 * shards, or a shard could not be mapped: mmap ENOMEM, vm.max_map_count or
 * RLIMIT_AS) it stops and returns PV_ERR_LIMIT with summary->error saying
 * why; problems found before still count (summary->problems). At most 64
 * shards are mapped at any time. A file that changes while verify reads it
 * is a problem (PV_ERR_CHANGED), never a signal. */
pv_status pv_verify(const char *dir, const pv_verify_options *opts, pv_verify_summary *summary);

#ifdef __cplusplus
}
#endif
#endif /* PV_PACK_H */
