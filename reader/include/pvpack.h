/* pvpack.h - the public API for reading pvpack datasets.
 *
 * A dataset is a directory written by `pvpack build`: an index file
 * (index.pvi) and shard files (shard-NNNNN.pvs), format in spec/FORMAT.md.
 * Opening maps every file read-only and validates all structure up front
 * (index sections, per-class counts, every shard's header, record table and
 * footer, their agreement with the index, every record's label).
 *
 * Files that change while mapped. The mappings are shared with the files:
 * another process that rewrites or truncates a shard after open changes
 * what the mapping shows, or makes parts of it unreadable. So record
 * access copies a record's table entry out of the mapping once and checks
 * the copy as open checked it (payload inside the payload area, codec,
 * size, label) before using any field, and every read of mapped bytes
 * (table entries, payload checksums, the decoders in pv_decoder_decode and
 * the loader) runs under a fault guard: a page that vanished (SIGBUS) is
 * reported as PV_ERR_CHANGED for that record, never as a signal
 * (pv_dataset_explain_fault says how the file changed). A dataset replaced
 * by renaming (`pvpack build --force`) is unaffected: the old files stay
 * mapped until close. Text returned in place (pv_dataset_source_path,
 * pv_dataset_options_text) is read by the caller, outside any guard: use
 * pv_dataset_source_path_copy where the index may shrink under you.
 *
 * Files must be regular files (symbolic links to them are followed); a
 * FIFO, socket or device by a dataset file's name is refused without
 * blocking in open(2).
 *
 * Thread-safety: a pv_dataset is immutable after open; every function that
 * takes a const pv_dataset* may be called from many threads at once. Many
 * processes may open the same dataset (mappings are read-only and shared).
 * A pv_decoder holds per-thread scratch state: use one per thread.
 *
 * Depends on: format/, libjpeg-turbo, zstd. Never CUDA.
 */
#ifndef PVPACK_H
#define PVPACK_H

#include <stddef.h>
#include <stdint.h>

#include "pv_filter.h"
#include "pv_format.h"
#include "pv_limits.h"
#include "pv_option.h"
#include "pv_status.h"
#include "pv_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's release version, distinct from PV_FORMAT_VERSION_*:
 * PV_VERSION_MAJOR, _MINOR, _PATCH, _NUMBER and _STRING come from
 * pv_version.h (generated from CMakeLists.txt's project(VERSION)); these
 * two return the values the library itself was built with. */
PV_API unsigned pv_version_number(void);   /* PV_VERSION_NUMBER */
PV_API const char *pv_version_string(void); /* PV_VERSION_STRING, "MAJOR.MINOR.PATCH" */

typedef struct pv_dataset pv_dataset;

/* ---- read-side limits: pv_limits, pv_limits_init (pv_limits.h) -------- */

typedef struct pv_open_options {
  size_t size;           /* sizeof(pv_open_options); set by _init */
  int verify_on_read;    /* check a record's XXH3 on every pv_dataset_record
                            call (costs one pass over the payload) */
  pv_limits limits;      /* read-side limits of this dataset: its loaders
                            use them, and decoders take them with
                            pv_decoder_set_limits(d, pv_dataset_limits(ds));
                            default pv_limits_init's. (Callers built against
                            a version without this field pass a smaller
                            size and get the defaults.) */
} pv_open_options;

/* Fills defaults: verify_on_read = 0, limits as pv_limits_init. */
PV_API void pv_open_options_init(pv_open_options *o);

/* Opens the dataset directory dir. opts may be NULL (defaults).
 * On success *out owns the mappings; release with pv_dataset_close.
 * err (may be NULL) receives a one-line reason naming the file and, for a
 * shard, its index ("shard-00003.pvs: record table checksum mismatch").
 * Returns PV_OK, PV_ERR_INVALID_ARG, PV_ERR_NOT_FOUND (no index in dir),
 * PV_ERR_IO (also: a dataset file that is not a regular file),
 * PV_ERR_NOMEM, PV_ERR_NOT_PVPACK, PV_ERR_VERSION, PV_ERR_TRUNCATED,
 * PV_ERR_CORRUPT (also: a class count or a shard label that disagrees with
 * the index's records), PV_ERR_CHECKSUM, PV_ERR_LIMIT (more than
 * PV_MAX_SHARDS shards or another format limit; a shard that cannot be
 * mapped because the process ran out of mappings, vm.max_map_count, or of
 * address space), PV_ERR_CHANGED (a file shrank during open).
 * Cost: O(shards + records) for validation, one mapping per file (index +
 * shard_count), memory O(shards + classes), nothing per record. */
PV_API pv_status pv_dataset_open(const char *dir, const pv_open_options *opts, pv_dataset **out,
                                 char *err, size_t errcap);

/* Unmaps and frees. Accepts NULL. Pointers obtained from the dataset
 * become invalid. */
PV_API void pv_dataset_close(pv_dataset *ds);

/* The read-side limits the dataset was opened with (owned by ds, valid
 * until pv_dataset_close; zero fields already mean "no limit"). */
PV_API const pv_limits *pv_dataset_limits(const pv_dataset *ds);

PV_API uint64_t pv_dataset_record_count(const pv_dataset *ds);
PV_API uint32_t pv_dataset_class_count(const pv_dataset *ds);
PV_API uint32_t pv_dataset_shard_count(const pv_dataset *ds);
PV_API uint64_t pv_dataset_id(const pv_dataset *ds);
/* Name of class c (NUL-terminated, owned by ds), or NULL when out of range. */
PV_API const char *pv_dataset_class_name(const pv_dataset *ds, uint32_t c);
/* Records in class c, 0 when out of range. */
PV_API uint64_t pv_dataset_class_records(const pv_dataset *ds, uint32_t c);
/* The build options text ("key=value\n" lines) and skipped-file list
 * ("path\treason\n"); not NUL-terminated, *len bytes, owned by ds. */
PV_API const char *pv_dataset_options_text(const pv_dataset *ds, size_t *len);
PV_API const char *pv_dataset_skipped_text(const pv_dataset *ds, size_t *len);
PV_API uint64_t pv_dataset_skipped_count(const pv_dataset *ds);

/* A zero-copy view of one record: data points into the shard mapping and
 * stays valid until pv_dataset_close (its bytes are those of the file: if
 * another process rewrites the shard, they change; if it truncates the
 * shard, reading them faults: read them through pv_decoder_decode, which
 * turns that into PV_ERR_CHANGED). */
typedef struct pv_record {
  const uint8_t *data;
  uint32_t length;
  uint32_t label;
  uint32_t width, height; /* decoded size */
  uint8_t codec;          /* pv_codec */
  uint16_t flags;         /* PV_RECORD_FLAG_* */
  uint64_t checksum;      /* stored XXH3-64 of data */
  uint64_t index;         /* global record number */
  uint32_t shard;         /* shard number */
  uint32_t shard_record;  /* position inside the shard */
} pv_record;

/* Record i (0 <= i < record_count) in O(log shards), without trusting
 * the mapping: the entry is copied once and checked (the checks of open:
 * payload inside the shard's payload area, codec, flags, size; its label
 * < class_count and equal to the index's label for record i).
 * On every return out->index, out->shard and out->shard_record are set
 * (so the caller can name the record); the other fields are set on PV_OK
 * and PV_ERR_CHECKSUM only (zero otherwise).
 * Returns PV_OK, PV_ERR_INVALID_ARG (i out of range), PV_ERR_CHECKSUM
 * (only with verify_on_read), PV_ERR_CORRUPT / PV_ERR_LIMIT /
 * PV_ERR_VERSION (the entry fails a check of open now: its file was
 * rewritten after open; or a label that disagrees with the index),
 * PV_ERR_CHANGED (the entry or, with verify_on_read, the payload could not
 * be read: the file shrank while mapped), PV_ERR_IO (a fault on an
 * unchanged file). Thread-safe. */
PV_API pv_status pv_dataset_record(const pv_dataset *ds, uint64_t i, pv_record *out);
/* The same, with a one-line reason naming shard, record and entry in err
 * (may be NULL; "" on PV_OK) ("shard-00003.pvs record 17 (entry 5): label
 * 4294967295 out of range (10 classes)"). */
PV_API pv_status pv_dataset_record_ex(const pv_dataset *ds, uint64_t i, pv_record *out, char *err,
                                      size_t errcap);

/* After a call returned PV_ERR_CHANGED for shard k (k =
 * PV_DATASET_INDEX_FILE for index.pvi): one stat(2) of the file by its
 * name, compared with what was mapped at open, and err receives what
 * happened: "shard-00003.pvs changed size while mapped (was 1048576, now
 * 4096)", "... was rewritten while mapped ...", "... is gone now ...",
 * "... the name now holds another file ...". Returns PV_ERR_CHANGED, or
 * PV_ERR_IO when the file looks unchanged (the fault was a storage error),
 * or PV_ERR_INVALID_ARG (k out of range). Error paths only. */
#define PV_DATASET_INDEX_FILE UINT32_MAX
PV_API pv_status pv_dataset_explain_fault(const pv_dataset *ds, uint32_t k, char *err,
                                         size_t errcap);

/* Source path of record i, relative to the build's source root
 * ("cat/img1.jpg"), NOT NUL-terminated: *len bytes. NULL when out of range. */
PV_API const char *pv_dataset_source_path(const pv_dataset *ds, uint64_t i, uint32_t *len);
/* The same path copied into buf (cap bytes, NUL-terminated, cut to cap - 1)
 * under the fault guard; returns its length, 0 when unavailable. */
PV_API size_t pv_dataset_source_path_copy(const pv_dataset *ds, uint64_t i, char *buf, size_t cap);

/* The validated format view of shard k (for tools such as verify); NULL
 * when out of range. The view itself is a copy made at open, but its file
 * and table pointers lie in the shard's mapping: read entries from it as
 * pv_dataset_record does (copy, then pv_record_entry_decode). */
PV_API const pv_shard_view *pv_dataset_shard_view(const pv_dataset *ds, uint32_t k);

/* ---- record decoding --------------------------------------------------- */

typedef struct pv_decoder pv_decoder;

/* Per-thread decode state (libjpeg decompress object, zstd context), with
 * the default limits (pv_limits_init). Returns PV_OK or PV_ERR_NOMEM. */
PV_API pv_status pv_decoder_create(pv_decoder **out);
PV_API void pv_decoder_destroy(pv_decoder *d); /* accepts NULL */
/* The reason for the last failure of this decoder (never NULL). */
PV_API const char *pv_decoder_last_error(const pv_decoder *d);

/* Sets the limits of d's later decodes (copied; NULL = the defaults). A
 * decoder for a dataset's records takes pv_dataset_limits(ds). Returns
 * PV_OK, PV_ERR_INVALID_ARG (d NULL, or l not filled by pv_limits_init:
 * size 0). */
PV_API pv_status pv_decoder_set_limits(pv_decoder *d, const pv_limits *l);

/* The checks pv_decoder_decode makes before it allocates or writes
 * anything, without decoding: rec against d's limits (pixels, payload
 * bytes; for JPEG the decoder memory its headers imply and its scan count;
 * for zstd the frame rules of spec/FORMAT.md 3.6 and the window), so a
 * caller can refuse a record before allocating width*height*3 bytes for
 * it. Returns PV_OK, PV_ERR_LIMIT, PV_ERR_DECODE (a payload that is
 * malformed already in what is checked), PV_ERR_INVALID_ARG, PV_ERR_CHANGED
 * (as pv_decoder_decode); the reason is in pv_decoder_last_error. */
PV_API pv_status pv_decoder_check(pv_decoder *d, const pv_record *rec);

/* Decodes rec into RGB8 pixels: rec->height rows of rec->width*3 bytes,
 * row stride `stride` bytes (>= width*3), into dst of dst_size bytes.
 * A decoded JPEG whose size differs from the table's width/height, a
 * decoder warning (corrupt data), or a zstd payload that breaks the rules
 * of spec/FORMAT.md 3.6 (exactly one frame declaring width*height*3 bytes
 * of content, nothing after it) is an error. Limits are checked first (see
 * pv_decoder_check), then while decoding (JPEG scans as they are read).
 * Returns PV_OK, PV_ERR_INVALID_ARG (dst too small), PV_ERR_LIMIT,
 * PV_ERR_DECODE, PV_ERR_CHANGED (reading rec->data faulted: the shard
 * shrank while mapped; the decoder has been reset and stays usable;
 * pv_dataset_explain_fault with rec->shard says how the file changed). */
PV_API pv_status pv_decoder_decode(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride,
                                   size_t dst_size);

/* ======================================================================== */
/* The batch loader                                                          */
/* ======================================================================== */
/* A loader turns a dataset into a stream of batches: a fixed-size uint8 (or
 * normalized float32) image tensor plus labels, decoded and augmented on a
 * pool of worker threads, prefetched into a ring of preallocated buffers.
 *
 * Determinism: the sample sequence and every augmentation decision depend
 * only on (seed, epoch, position in the epoch), never on thread timing: the
 * same options give bit-identical batches with 1 or 64 threads, and a
 * loader created at (epoch, start_batch = k) yields exactly what an
 * uninterrupted one yields from batch k on (resume).
 *
 * Memory: prefetch * batch_size * height * width * 3 bytes of batch buffers
 * (x4 for float32), plus per-thread scratch bounded by the largest record;
 * nothing grows with the dataset (the shuffles are computed, not stored).
 */

typedef enum pv_pipeline {
  PV_PIPELINE_TRAIN = 0, /* RandomResizedCrop(size, scale, ratio) + HorizontalFlip(p) */
  PV_PIPELINE_EVAL = 1,  /* Resize(eval_resize) + CenterCrop(size); only the
                            part of the resized image the crop keeps is
                            computed, so memory is bounded by the output
                            size whatever the aspect ratio */
  PV_PIPELINE_NONE = 2   /* whole record resized to size, no augmentation */
} pv_pipeline;

typedef enum pv_order {
  PV_ORDER_SHUFFLE = 0,    /* a fresh full permutation every epoch */
  PV_ORDER_SEQUENTIAL = 1, /* record order */
  PV_ORDER_BLOCKS = 2      /* locality-aware: blocks of block_records
                              neighbouring records, block order shuffled,
                              block_group blocks at a time interleaved in a
                              shuffled order; for data larger than memory */
} pv_order;

typedef enum pv_layout { PV_LAYOUT_NHWC = 0, PV_LAYOUT_NCHW = 1 } pv_layout;
typedef enum pv_dtype { PV_DTYPE_UINT8 = 0, PV_DTYPE_FLOAT32 = 1 } pv_dtype;

typedef enum pv_on_error {
  PV_ON_ERROR_FAIL = 0,   /* pv_loader_next returns the error, naming the
                             shard, record and source path */
  PV_ON_ERROR_REPLACE = 1 /* use the next record of the dataset instead
                             (deterministic) and count it in the batch */
} pv_on_error;

/* How the loader decodes JPEG records (pv_loader_options.jpeg_decode). */
typedef enum pv_jpeg_decode {
  PV_JPEG_DECODE_AUTO = 0,     /* FAST for the TRAIN pipeline, ACCURATE for
                                  EVAL and NONE */
  PV_JPEG_DECODE_ACCURATE = 1, /* TurboJPEG's default: the accurate integer
                                  IDCT and fancy upsampling (PIL's and
                                  torchvision's decode; what verify and
                                  pv_decoder_decode give) */
  PV_JPEG_DECODE_FAST = 2      /* libjpeg's fast integer IDCT and plain
                                  upsampling (TJFLAG_FASTDCT |
                                  TJFLAG_FASTUPSAMPLE; FFCV sets FASTDCT
                                  alone): faster, about 42 dB PSNR from
                                  ACCURATE on photos (bench/jpeg_fast_bench.c);
                                  deterministic as ACCURATE is */
} pv_jpeg_decode;

/* Allocator hook for batch buffers (the CUDA path supplies pinned memory).
 * alloc returns memory aligned to at least `align` bytes or NULL; free gets
 * back the pointer and the size. NULL functions = aligned malloc/free. */
typedef struct pv_allocator {
  void *(*alloc)(void *ctx, size_t size, size_t align);
  void (*free)(void *ctx, void *ptr, size_t size);
  void *ctx;
} pv_allocator;

typedef struct pv_loader_options {
  size_t size;              /* sizeof(pv_loader_options); set by _init */
  uint32_t batch_size;      /* default 256 */
  uint32_t height, width;   /* output size, default 224 x 224 */
  pv_pipeline pipeline;     /* default TRAIN */
  uint32_t eval_resize;     /* EVAL: Resize() target, default 256; 0 = no
                               resize (plain center crop); at most
                               PV_EVAL_RESIZE_MAX(height, width) */
  double scale_min, scale_max; /* TRAIN: default 0.08, 1.0 */
  double ratio_min, ratio_max; /* TRAIN: default 3/4, 4/3 */
  double flip_prob;         /* TRAIN: default 0.5 */
  int filter;               /* pv_filter (pv_filter.h); default bilinear */
  int threads;              /* worker threads; 0 = the CPUs this process may
                               use: its affinity mask, capped by the cgroup
                               CPU quota (cpu.max), at least 1 */
  uint32_t prefetch;        /* batch buffers in the ring, default 4 (>= 1) */
  uint64_t seed;            /* default 0 */
  uint64_t epoch;           /* first epoch, default 0 */
  uint64_t start_batch;     /* resume: first batch of that epoch, default 0 */
  int drop_last;            /* drop this rank's last incomplete batch */
  pv_order order;           /* default SHUFFLE */
  uint32_t block_records;   /* BLOCKS: records per block, default 1024 */
  uint32_t block_group;     /* BLOCKS: blocks interleaved at once, default 16 */
  int rank, world_size;     /* -1 = from RANK / WORLD_SIZE, else 0 and 1 */
  int rank_drop;            /* like DistributedSampler(drop_last=True): drop
                               the tail so every rank gets the same count;
                               default 0 = pad by repeating from the start */
  pv_layout layout;         /* default NHWC */
  pv_dtype dtype;           /* default UINT8 */
  float mean[3], std[3];    /* FLOAT32: (x/255 - mean) / std; default
                               ImageNet's, PV_IMAGENET_MEAN and
                               PV_IMAGENET_STD */
  pv_on_error on_error;     /* default FAIL */
  int verify_checksums;     /* check each record's XXH3 before decoding */
  pv_allocator allocator;
  int rank_unrepeated;      /* every sample exactly once across the ranks,
                               no padding and no drop: rank r gets global
                               positions r, r + world_size, ... < N, so the
                               ranks' counts differ by at most one (Lightning's
                               UnrepeatedDistributedSampler; for evaluation).
                               Not with rank_drop. Default 0 */
  const uint64_t *indices;  /* NULL (default): every record of the dataset.
                               Else the records an epoch visits, indices_count
                               of them (each < the record count; repeats
                               allowed): in this order with order=SEQUENTIAL,
                               shuffled / in blocks of this list otherwise;
                               ranks, padding and on_error=REPLACE work within
                               this list. Copied by pv_loader_create. */
  uint64_t indices_count;
  pv_jpeg_decode jpeg_decode; /* default AUTO: FAST for TRAIN, ACCURATE for
                                 EVAL and NONE */
} pv_loader_options;

/* ImageNet's per-channel mean and standard deviation in the 0..1 scale
 * (torchvision's Normalize), the defaults of mean and std above; written
 * here only (Python's pvpack.IMAGENET_MEAN reads the loader's table). Use
 * as an initializer: float m[3] = {PV_IMAGENET_MEAN}. */
#define PV_IMAGENET_MEAN 0.485, 0.456, 0.406
#define PV_IMAGENET_STD 0.229, 0.224, 0.225

/* The defaults of every option above, from the table that
 * pv_loader_option_info exposes. */
PV_API void pv_loader_options_init(pv_loader_options *o);

/* The options table of pv_loader_options (pv_option.h): entry i or NULL
 * when i >= pv_loader_option_count(). Every field but size and allocator.
 * `pvpack bench` has a flag for the entries flagged PV_OPTION_CLI. */
PV_API size_t pv_loader_option_count(void);
PV_API const pv_option_info *pv_loader_option_info(size_t i);

/* The checks pv_loader_create makes of its options: every field of the
 * table within its range (BOOL fields: any value), then scale 0 < min <=
 * max <= 1, ratio 0 < min <= max, block_records and block_group >= 1 with
 * the BLOCKS order, std > 0 with FLOAT32, eval_resize at most
 * PV_EVAL_RESIZE_MAX(height, width). PV_OK or PV_ERR_INVALID_ARG with err
 * (may be NULL) naming the option. */
PV_API pv_status pv_loader_options_check(const pv_loader_options *o, char *err, size_t errcap);

/* The largest eval_resize pv_loader_create accepts for an output of h x w:
 * 4096, or 4 x the longer output side when that is more. (Resizing the
 * shorter side far beyond the crop only zooms into the image's centre.) */
#define PV_EVAL_RESIZE_MAX(h, w) \
  ((uint64_t)4 * ((h) > (w) ? (h) : (w)) > 4096u ? (uint64_t)4 * ((h) > (w) ? (h) : (w)) : 4096u)

typedef struct pv_loader pv_loader;

/* One batch, owned by the loader until pv_loader_release. The first `count`
 * samples are valid (count < batch_size only for a last partial batch). */
typedef struct pv_batch {
  void *images;            /* batch_size x H x W x 3 (NHWC) or x 3 x H x W
                              (NCHW), uint8 or float32; from the allocator */
  size_t images_bytes;     /* the whole buffer */
  int64_t *labels;         /* count labels */
  uint64_t *records;       /* count record numbers (provenance) */
  uint32_t count, batch_size;
  uint32_t height, width;
  pv_layout layout;
  pv_dtype dtype;
  uint64_t epoch, index;   /* which batch of which epoch */
  uint32_t replaced;       /* samples replaced after an error (REPLACE) */
#ifdef PV_STATIC_LINKING_ONLY
  uint32_t slot;           /* the ring buffer holding the batch, 0 ..
                              prefetch-1, fixed while it is handed out (for
                              a binding that tracks the batches it holds);
                              read only, and not part of the stable API */
#else
  uint32_t internal_;      /* the library's: do not read or write */
#endif
} pv_batch;

/* Creates a loader over ds (which must outlive it) and starts its workers.
 * Every sample is decoded within pv_dataset_limits(ds); a record over a
 * limit fails as a decode error does (PV_ERR_LIMIT with on_error = FAIL,
 * replaced with REPLACE).
 * Returns PV_OK, PV_ERR_INVALID_ARG (bad option; see pv_loader_last_error
 * is not available yet: err receives the reason), PV_ERR_NOMEM,
 * PV_ERR_EMPTY (this rank gets no batch). */
PV_API pv_status pv_loader_create(const pv_dataset *ds, const pv_loader_options *opts,
                                  pv_loader **out, char *err, size_t errcap);

/* Next batch of the current epoch, waiting while the workers fill it.
 * *out = NULL and PV_OK at the end of the epoch (call pv_loader_set_epoch
 * to go on). Returns PV_OK; PV_ERR_DECODE / PV_ERR_CHECKSUM /
 * PV_ERR_CORRUPT (an entry that fails its checks at use) / PV_ERR_CHANGED
 * (a shard changed while mapped) / PV_ERR_LIMIT (a record over the
 * dataset's limits) when a sample failed with on_error = FAIL (last_error
 * names shard, record, source, and how the file changed or which limit);
 * PV_ERR_LIMIT when every ring slot is held by the caller (release one);
 * PV_ERR_INVALID_ARG. Call from one thread at a time. */
PV_API pv_status pv_loader_next(pv_loader *l, pv_batch **out);

/* Hands a batch back; its buffer may be refilled. Batches may be released
 * in any order; holding k batches leaves prefetch - k buffers to fill. */
PV_API void pv_loader_release(pv_loader *l, pv_batch *b);

/* Waits at most timeout_ms milliseconds until pv_loader_next would return
 * without blocking (the next batch is ready, the epoch is over, it failed,
 * or every buffer is held by the caller). Returns true (1) then, false (0)
 * on timeout. Lets a caller that must stay responsive (the Python binding
 * checks for Ctrl-C between waits) block in slices. The time waited counts
 * in pv_loader_stats.wait_s. Call from the thread that calls
 * pv_loader_next. */
PV_API int pv_loader_wait(pv_loader *l, unsigned timeout_ms);

/* Detaches batch b (handed out, not yet released) from the ring: the caller
 * takes ownership of its image buffer, and the ring slot gets a fresh
 * buffer from the allocator so it can be refilled at once. b itself (its
 * labels and records arrays, and the pv_batch struct) goes back to the
 * loader as by pv_loader_release: copy what you need from it first. For
 * callers that keep batches for an unknown time (the Python binding, when
 * user code holds on to tensors): the ring keeps filling, and memory held
 * beyond the ring is exactly the buffers the caller kept.
 * *images receives b->images (b->images_bytes bytes); free it with
 * pv_loader_free_detached while l is alive.
 * Returns PV_OK; PV_ERR_NOMEM (the replacement could not be allocated; b
 * is still handed out, unchanged); PV_ERR_INVALID_ARG (b is not a batch
 * of l currently handed out). Thread-safe against the workers and
 * pv_loader_release. */
PV_API pv_status pv_loader_detach(pv_loader *l, pv_batch *b, void **images);

/* Frees an image buffer obtained from pv_loader_detach through l's
 * allocator. Accepts NULL. */
PV_API void pv_loader_free_detached(pv_loader *l, void *images);

/* Starts epoch `epoch` at batch start_batch (0 = from its beginning),
 * discarding prefetched batches not yet handed out. Batches still held by
 * the caller stay valid until released. */
PV_API pv_status pv_loader_set_epoch(pv_loader *l, uint64_t epoch, uint64_t start_batch);

/* Elastic resume: starts epoch `epoch` at global position `first` of its
 * order, i.e. with the samples at positions [first, N) (N: the records, or
 * indices_count), dealt over this loader's ranks as a full epoch is (rank r:
 * first + r, first + r + world_size, ...; padding by repeating from `first`,
 * or rank_drop / rank_unrepeated; drop_last), from batch start_batch of that
 * deal. Each sample keeps the record and augmentation of its global
 * position, so a run of world size W that handed out b batches on every
 * rank (global positions [0, b * batch_size * W)) continues at any world
 * size with first = b * batch_size * W: every sample of the epoch not yet
 * delivered is delivered once (plus padding), in the same global order.
 * The epoch after it is a full one. PV_ERR_INVALID_ARG when first >= N. */
PV_API pv_status pv_loader_set_epoch_rest(pv_loader *l, uint64_t epoch, uint64_t first,
                                          uint64_t start_batch);

/* Batches of the current epoch for this rank: pv_loader_batches_per_epoch,
 * or fewer in an epoch started by pv_loader_set_epoch_rest. */
PV_API uint64_t pv_loader_epoch_batches(const pv_loader *l);

/* Batches per epoch for this rank, and samples per epoch for this rank. */
PV_API uint64_t pv_loader_batches_per_epoch(const pv_loader *l);
PV_API uint64_t pv_loader_samples_per_epoch(const pv_loader *l);

/* The number of worker threads l runs (options.threads, or the default it
 * resolved to when that was 0); 0 for NULL. */
PV_API int pv_loader_thread_count(const pv_loader *l);

/* The CPUs this process may use, >= 1: its affinity mask, capped by the
 * cgroup CPU quota (what options.threads = 0 resolves to). Re-read at each
 * call (a few small file reads): call it once per loader, not per batch.
 * Thread-safe. */
PV_API int pv_available_cpus(void);

/* The reason for the last error of this loader (never NULL). */
PV_API const char *pv_loader_last_error(const pv_loader *l);

/* Cumulative time spent in each stage, summed over worker threads, and the
 * time the caller waited in pv_loader_next. */
typedef struct pv_loader_stats {
  uint64_t samples, replaced;
  double decode_resize_s; /* read + partial decode + crop + resize + flip */
  double convert_s;       /* layout / dtype conversion into the batch: 0 since
                             issue 13 (the resampler writes the batch's dtype
                             and layout; its time is in decode_resize_s) */
  double wait_s;          /* pv_loader_next waiting for a batch */
  uint64_t claims;        /* runs of samples the workers claimed, each with one
                             round trip of the loader's lock to claim it and one
                             to hand it back: samples / claims samples per
                             lock round trip (up to 16; prefetch x batch_size
                             / (2 x threads) when that is smaller) */
} pv_loader_stats;
PV_API void pv_loader_get_stats(const pv_loader *l, pv_loader_stats *s);

/* Stops the workers and frees the ring (batches still held become
 * invalid). A JPEG decode in progress is abandoned at its next progress
 * step, so this returns promptly even while a worker is inside a slow
 * record (as does pv_loader_set_epoch). Accepts NULL. */
PV_API void pv_loader_destroy(pv_loader *l);

/* The record at position k of this rank's sample sequence for an epoch,
 * exactly as the loader visits it (for tests, tools and resumption checks).
 * Returns UINT64_MAX when k is out of range. */
PV_API uint64_t pv_loader_sample_record(const pv_loader *l, uint64_t epoch, uint64_t k);

#ifdef __cplusplus
}
#endif
#endif /* PVPACK_H */
