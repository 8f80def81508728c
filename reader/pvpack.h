/* pvpack.h - the public API for reading pvpack datasets.
 *
 * A dataset is a directory written by `pvpack build`: an index file
 * (index.pvi) and shard files (shard-NNNNN.pvs), format in spec/FORMAT.md.
 * Opening maps every file read-only and validates all structure up front
 * (index sections, every shard's header, record table and footer, and their
 * agreement with the index), so later record access needs no checks that
 * can fail except the optional payload checksum.
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

#include "pv_format.h"
#include "pv_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's release version, distinct from PV_FORMAT_VERSION_*. */
#define PV_VERSION_MAJOR 0
#define PV_VERSION_MINOR 1
#define PV_VERSION_PATCH 0
#define PV_VERSION_NUMBER (PV_VERSION_MAJOR * 10000 + PV_VERSION_MINOR * 100 + PV_VERSION_PATCH)
unsigned pv_version_number(void);
const char *pv_version_string(void); /* "0.1.0" */

typedef struct pv_dataset pv_dataset;

typedef struct pv_open_options {
  size_t size;           /* sizeof(pv_open_options); set by _init */
  int verify_on_read;    /* check a record's XXH3 on every pv_dataset_record
                            call (costs one pass over the payload) */
} pv_open_options;

/* Fills defaults: verify_on_read = 0. */
void pv_open_options_init(pv_open_options *o);

/* Opens the dataset directory dir. opts may be NULL (defaults).
 * On success *out owns the mappings; release with pv_dataset_close.
 * err (may be NULL) receives a one-line reason naming the file and, for a
 * shard, its index ("shard-00003.pvs: record table checksum mismatch").
 * Returns PV_OK, PV_ERR_INVALID_ARG, PV_ERR_NOT_FOUND (no index in dir),
 * PV_ERR_IO, PV_ERR_NOMEM, PV_ERR_NOT_PVPACK, PV_ERR_VERSION,
 * PV_ERR_TRUNCATED, PV_ERR_CORRUPT, PV_ERR_CHECKSUM, PV_ERR_LIMIT.
 * Cost: O(shards + records) for validation, no per-record allocation. */
pv_status pv_dataset_open(const char *dir, const pv_open_options *opts, pv_dataset **out,
                          char *err, size_t errcap);

/* Unmaps and frees. Accepts NULL. Pointers obtained from the dataset
 * become invalid. */
void pv_dataset_close(pv_dataset *ds);

uint64_t pv_dataset_record_count(const pv_dataset *ds);
uint32_t pv_dataset_class_count(const pv_dataset *ds);
uint32_t pv_dataset_shard_count(const pv_dataset *ds);
uint64_t pv_dataset_id(const pv_dataset *ds);
/* Name of class c (NUL-terminated, owned by ds), or NULL when out of range. */
const char *pv_dataset_class_name(const pv_dataset *ds, uint32_t c);
/* Records in class c, 0 when out of range. */
uint64_t pv_dataset_class_records(const pv_dataset *ds, uint32_t c);
/* The build options text ("key=value\n" lines) and skipped-file list
 * ("path\treason\n"); not NUL-terminated, *len bytes, owned by ds. */
const char *pv_dataset_options_text(const pv_dataset *ds, size_t *len);
const char *pv_dataset_skipped_text(const pv_dataset *ds, size_t *len);
uint64_t pv_dataset_skipped_count(const pv_dataset *ds);

/* A zero-copy view of one record: data points into the shard mapping and
 * stays valid until pv_dataset_close. */
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

/* Record i (0 <= i < record_count) in O(log shards).
 * Returns PV_OK, PV_ERR_INVALID_ARG (i out of range), PV_ERR_CHECKSUM
 * (only with verify_on_read; *out is still filled so the caller can name
 * the record). */
pv_status pv_dataset_record(const pv_dataset *ds, uint64_t i, pv_record *out);

/* Source path of record i, relative to the build's source root
 * ("cat/img1.jpg"), NOT NUL-terminated: *len bytes. NULL when out of range. */
const char *pv_dataset_source_path(const pv_dataset *ds, uint64_t i, uint32_t *len);

/* The validated format view of shard k (for tools such as verify); NULL
 * when out of range. */
const pv_shard_view *pv_dataset_shard_view(const pv_dataset *ds, uint32_t k);

/* ---- record decoding --------------------------------------------------- */

typedef struct pv_decoder pv_decoder;

/* Per-thread decode state (TurboJPEG handle, zstd context).
 * Returns PV_OK or PV_ERR_NOMEM. */
pv_status pv_decoder_create(pv_decoder **out);
void pv_decoder_destroy(pv_decoder *d); /* accepts NULL */
/* The reason for the last failure of this decoder (never NULL). */
const char *pv_decoder_last_error(const pv_decoder *d);

/* Decodes rec into RGB8 pixels: rec->height rows of rec->width*3 bytes,
 * row stride `stride` bytes (>= width*3), into dst of dst_size bytes.
 * A decoded JPEG whose size differs from the table's width/height, a
 * decoder warning (corrupt data), or a zstd frame that does not hold
 * exactly width*height*3 bytes is an error.
 * Returns PV_OK, PV_ERR_INVALID_ARG (dst too small), PV_ERR_DECODE. */
pv_status pv_decoder_decode(pv_decoder *d, const pv_record *rec, uint8_t *dst, size_t stride,
                            size_t dst_size);

#ifdef __cplusplus
}
#endif
#endif /* PVPACK_H */
