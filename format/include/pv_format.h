/* pv_format.h - the pvpack on-disk format, version 1 (spec/FORMAT.md).
 *
 * format/ is the only code that reads or writes pvpack bytes. It does no
 * file I/O and holds no policy: callers hand it buffers (usually a read-only
 * mapping of a whole file) and it encodes, decodes and validates them.
 *
 * Every decode/validate function treats its input as hostile: each offset,
 * length and count is checked against the buffer size (in uint64_t, so no
 * multiplication can wrap) and against the limits below before anything is
 * read in place. They never crash, never read out of bounds, and return a
 * status plus a one-line reason in a caller-supplied err buffer (which may
 * be NULL).
 *
 * Depends on: libc and xxHash (XXH3-64, inlined). Thread-safety: all
 * functions are pure (no global state); views are read-only and may be
 * shared between threads.
 */
#ifndef PV_FORMAT_H
#define PV_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "pv_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The format's version, kept apart from the library's release number (as
 * LMDB keeps MDB_DATA_VERSION apart). A reader accepts files whose major
 * version it knows; minor versions only add compatible things. */
#define PV_FORMAT_VERSION_MAJOR 1
#define PV_FORMAT_VERSION_MINOR 0

/* ---- file names inside a dataset directory ------------------------------ */
#define PV_INDEX_FILENAME "index.pvi"
#define PV_REPORT_FILENAME "report.txt"
/* Shard k is named "shard-%05u.pvs" (k zero-padded to at least 5 digits). */
#define PV_SHARD_NAME_FMT "shard-%05u.pvs"

/* ---- sizes and alignment ------------------------------------------------- */
#define PV_SHARD_HEADER_SIZE 64u
#define PV_SHARD_FOOTER_SIZE 64u
#define PV_RECORD_ENTRY_SIZE 40u
/* Every record payload and the record table start at a multiple of this
 * (file offset), so a mapping hands out cache-line aligned payloads. */
#define PV_RECORD_ALIGN 64u
#define PV_INDEX_HEADER_SIZE 256u
#define PV_INDEX_TRAILER_SIZE 16u
/* Index sections start at a multiple of this. */
#define PV_SECTION_ALIGN 8u
#define PV_SHARD_REF_SIZE 32u
#define PV_CLASS_ENTRY_SIZE 24u
#define PV_INDEX_RECORD_SIZE 16u

/* ---- limits (a file beyond them is rejected with PV_ERR_LIMIT) ----------- */
#define PV_MAX_DIM 65500u               /* width and height of a record     */
#define PV_MAX_RECORD_BYTES 0xFFFFFFFFu /* length field is 32-bit           */
/* 2^14 shards: a reader maps every shard while the dataset is open, one
 * mapping each, and Linux allows a process 65530 mappings by default
 * (vm.max_map_count) for everything it maps (libraries, heaps, thread
 * stacks, CUDA). Was 2^20 before 2026-12-04 (spec/FORMAT.md 11). */
#define PV_MAX_SHARDS 16384u
#define PV_MAX_CLASSES 16777216u        /* 2^24 classes                     */
#define PV_MAX_RECORDS (1ull << 40)     /* records in a dataset             */
#define PV_MAX_PATH_BYTES 4096u         /* one source path or class name    */

/* ---- magic numbers (8 bytes, compared as bytes) ------------------------- */
#define PV_SHARD_MAGIC "PVSHARD\x01"
#define PV_SHARD_END_MAGIC "PVSHEND\x01"
#define PV_INDEX_MAGIC "PVINDEX\x01"
#define PV_INDEX_END_MAGIC "PVIXEND\x01"

/* ---- flag words ---------------------------------------------------------
 * incompat_flags: a reader that sees a bit it does not know must refuse the
 * file (PV_ERR_VERSION). compat_flags: unknown bits are ignored. Version 1.0
 * defines no bit in either word (spec/FORMAT.md 5). */
#define PV_INCOMPAT_KNOWN 0u
#define PV_COMPAT_KNOWN 0u
/* Assigned, not known to a 1.0 reader: set by a writer (in the index and
 * every shard header) when a record uses a codec beyond 1.0's raw, jpeg and
 * zstd (spec/FORMAT.md 3.6, "New codecs"). A reader that supports such a
 * codec adds this bit to PV_INCOMPAT_KNOWN, and still rejects any codec it
 * does not know record by record. */
#define PV_INCOMPAT_CODECS 0x00000001u

/* ---- record codecs ------------------------------------------------------ */
/* The codecs of the format: X(SYMBOL, byte value, name), in byte order from
 * 0 with no gap. The byte is a record entry's codec field; the name is how
 * the options section, the CLI and the bindings spell it (pv_codec_name).
 * Each has one entry in codec/'s codec table (codec/codecs.c), which does
 * everything else; a new codec is a line here, its file in codec/, its
 * line in codecs.c and its section in spec/FORMAT.md.
 *   RAW   width*height*3 bytes of RGB8, rows top to bottom
 *   JPEG  a complete JPEG (JFIF/Exif) stream; decodes to RGB
 *   ZSTD  one zstd frame whose content is PV_CODEC_RAW bytes */
#define PV_CODEC_LIST(X) \
  X(RAW, 0, "raw")       \
  X(JPEG, 1, "jpeg")     \
  X(ZSTD, 2, "zstd")

#define PV_CODEC_ENUM_(sym, id, name) PV_CODEC_##sym = id,
typedef enum pv_codec { PV_CODEC_LIST(PV_CODEC_ENUM_) } pv_codec;
#undef PV_CODEC_ENUM_
#define PV_CODEC_ONE_(sym, id, name) +1
#define PV_CODEC_COUNT (0 PV_CODEC_LIST(PV_CODEC_ONE_))

/* Record flag bits. ORIGINAL: the payload is the unmodified source file
 * (a JPEG that needed neither resize nor colour conversion). */
#define PV_RECORD_FLAG_ORIGINAL 0x0001u
#define PV_RECORD_FLAGS_KNOWN 0x0001u

PV_API const char *pv_codec_name(int codec); /* "raw", "jpeg", "zstd", "unknown" */
/* The codec whose pv_codec_name is name; -1 when none is. */
PV_API int pv_codec_by_name(const char *name);

/* XXH3-64 with seed 0 over len bytes: the one checksum of the format. */
PV_API uint64_t pv_checksum(const void *data, size_t len);

/* ---- little-endian load/store (unaligned-safe) --------------------------- */
PV_API uint16_t pv_load16(const uint8_t *p);
PV_API uint32_t pv_load32(const uint8_t *p);
PV_API uint64_t pv_load64(const uint8_t *p);
PV_API void pv_store16(uint8_t *p, uint16_t v);
PV_API void pv_store32(uint8_t *p, uint32_t v);
PV_API void pv_store64(uint8_t *p, uint64_t v);

/* ======================================================================== */
/* Shard files                                                              */
/* ======================================================================== */

typedef struct pv_shard_header {
  uint16_t version_major, version_minor;
  uint32_t incompat_flags, compat_flags;
  uint64_t dataset_id;
  uint32_t shard_index;
  uint32_t record_count;
  uint64_t first_record;
} pv_shard_header;

typedef struct pv_shard_footer {
  uint64_t table_offset;
  uint32_t record_count;
  uint32_t shard_index;
  uint64_t dataset_id;
  uint64_t header_checksum; /* copy of the header's checksum field */
  uint64_t table_checksum;  /* XXH3-64 of the whole record table */
  uint64_t footer_checksum; /* XXH3-64 of footer bytes 0..47 (output) */
} pv_shard_footer;

typedef struct pv_record_entry {
  uint64_t offset; /* file offset of the payload */
  uint32_t length; /* payload bytes */
  uint32_t label;
  uint32_t width, height;
  uint8_t codec;    /* pv_codec */
  uint8_t channels; /* 3 in version 1 */
  uint16_t flags;   /* PV_RECORD_FLAG_* */
  uint64_t checksum; /* XXH3-64 of the payload */
} pv_record_entry;

/* Writes the 64-byte header; computes and stores its checksum. */
PV_API void pv_shard_header_encode(const pv_shard_header *h, uint8_t out[PV_SHARD_HEADER_SIZE]);
/* Checks magic, version, flags, reserved bytes (not the unused ones: spec 1),
 * checksum. len is the number of bytes available at buf (the whole file is
 * fine).
 * Returns PV_OK, PV_ERR_TRUNCATED, PV_ERR_NOT_PVPACK, PV_ERR_VERSION,
 * PV_ERR_CORRUPT (reserved bytes non-zero), PV_ERR_CHECKSUM. *checksum_out
 * (may be NULL) receives the stored header checksum. */
PV_API pv_status pv_shard_header_decode(const uint8_t *buf, uint64_t len, pv_shard_header *h,
                                        uint64_t *checksum_out, char *err, size_t errcap);

/* Writes the 64-byte footer; fills f->footer_checksum. */
PV_API void pv_shard_footer_encode(pv_shard_footer *f, uint8_t out[PV_SHARD_FOOTER_SIZE]);
/* Decodes the footer from the last 64 bytes of a file of file_size bytes
 * mapped at file. Checks end magic, reserved bytes and footer checksum.
 * Returns PV_OK, PV_ERR_TRUNCATED (file too small or end magic missing),
 * PV_ERR_CORRUPT, PV_ERR_CHECKSUM. */
PV_API pv_status pv_shard_footer_decode(const uint8_t *file, uint64_t file_size, pv_shard_footer *f,
                                        char *err, size_t errcap);

PV_API void pv_record_entry_encode(const pv_record_entry *e, uint8_t out[PV_RECORD_ENTRY_SIZE]);
/* Decodes entry i of a table and checks it in isolation: codec and flags
 * known, channels == 3, reserved zero, 1 <= width,height <= PV_MAX_DIM,
 * length consistent with the codec (raw: exactly w*h*3), payload inside
 * [PV_SHARD_HEADER_SIZE, table_offset) and aligned to PV_RECORD_ALIGN.
 * Returns PV_OK, PV_ERR_CORRUPT, PV_ERR_VERSION (unknown codec or flag),
 * PV_ERR_LIMIT. */
PV_API pv_status pv_record_entry_decode(const uint8_t *entry, uint64_t table_offset,
                                        pv_record_entry *e, char *err, size_t errcap);

/* A validated shard: pointers into the caller's buffer. */
typedef struct pv_shard_view {
  const uint8_t *file;
  uint64_t file_size;
  pv_shard_header header;
  pv_shard_footer footer;
  const uint8_t *table; /* record_count * PV_RECORD_ENTRY_SIZE bytes */
} pv_shard_view;

/* Validates the whole structure of a shard held in file[0..file_size):
 * header, footer, their agreement, the table's placement and checksum, and
 * every entry (in isolation and in order: payloads ascending, not
 * overlapping). Payload checksums are NOT checked here (that reads every
 * byte; see pv_shard_check_record). Cost: O(record_count), one pass over
 * the table. Returns the statuses of the decoders above. */
PV_API pv_status pv_shard_validate(const uint8_t *file, uint64_t file_size, pv_shard_view *view,
                                   char *err, size_t errcap);

/* Entry i of a validated view (i < record_count; not checked again).
 * Reads the table in place: only for a buffer nobody can change after
 * validation. A mapping of a file another process may rewrite needs
 * pv_shard_entry_bytes + a private copy + pv_record_entry_decode. */
PV_API void pv_shard_entry(const pv_shard_view *v, uint32_t i, pv_record_entry *e);

/* Where entry i (i < record_count) of a validated view lies: the
 * PV_RECORD_ENTRY_SIZE bytes at the returned pointer. For readers that
 * copy the entry out of a mapping and check the copy with
 * pv_record_entry_decode(copy, v->footer.table_offset, ...), so that
 * every field used is read once and checked (spec/FORMAT.md 9.4). */
PV_API const uint8_t *pv_shard_entry_bytes(const pv_shard_view *v, uint32_t i);

/* Checks record i's payload checksum. PV_OK or PV_ERR_CHECKSUM. */
PV_API pv_status pv_shard_check_record(const pv_shard_view *v, const pv_record_entry *e);

/* ======================================================================== */
/* Index file                                                               */
/* ======================================================================== */

typedef enum pv_section_id {
  PV_SEC_SHARDS = 0,  /* shard_count * 32-byte shard references */
  PV_SEC_CLASSES = 1, /* class_count * 24-byte class entries */
  PV_SEC_RECORDS = 2, /* record_count * 16-byte record entries */
  PV_SEC_STRINGS = 3, /* UTF-8 bytes referenced by classes and records */
  PV_SEC_OPTIONS = 4, /* "key=value\n" lines: build options, tool version */
  PV_SEC_SKIPPED = 5, /* "path\treason\n" lines: inputs the build skipped */
  PV_SEC_COUNT = 6
} pv_section_id;

typedef struct pv_section {
  uint64_t offset, size, checksum;
} pv_section;

typedef struct pv_index_header {
  uint16_t version_major, version_minor;
  uint32_t incompat_flags, compat_flags;
  uint64_t file_size;
  uint64_t dataset_id;
  uint64_t record_count;
  uint32_t shard_count;
  uint32_t class_count;
  uint64_t skipped_count;
  pv_section sections[PV_SEC_COUNT];
} pv_index_header;

typedef struct pv_shard_ref {
  uint64_t file_size;
  uint64_t first_record;
  uint32_t record_count;
  uint64_t footer_checksum; /* the shard footer's footer_checksum */
} pv_shard_ref;

/* Everything an index encoder needs; arrays are borrowed. */
typedef struct pv_index_input {
  uint64_t dataset_id;
  uint32_t shard_count;
  const pv_shard_ref *shards;
  uint32_t class_count;
  const char *const *class_names;
  const uint64_t *class_record_counts;
  uint64_t record_count;
  const char *const *record_paths; /* source path of record i */
  const uint32_t *record_labels;
  const char *options;  /* NUL-terminated text */
  const char *skipped;  /* NUL-terminated text */
  uint64_t skipped_count;
} pv_index_input;

/* Size in bytes of the encoded index, or 0 when the input breaks a limit
 * (too many shards/classes/records, a path longer than PV_MAX_PATH_BYTES). */
PV_API uint64_t pv_index_encoded_size(const pv_index_input *in);
/* Encodes into out (exactly pv_index_encoded_size bytes). Deterministic:
 * the same input gives the same bytes. Returns PV_OK, PV_ERR_INVALID_ARG,
 * PV_ERR_LIMIT. */
PV_API pv_status pv_index_encode(const pv_index_input *in, uint8_t *out, uint64_t out_size);

/* A validated index: pointers into the caller's buffer. */
typedef struct pv_index_view {
  const uint8_t *file;
  uint64_t file_size;
  pv_index_header header;
  uint64_t header_checksum;
  const uint8_t *sec[PV_SEC_COUNT]; /* start of each section */
} pv_index_view;

/* Validates an index held in file[0..file_size): header and trailer,
 * every section's bounds, alignment, size and checksum, the shard list
 * (contiguous record ranges summing to record_count), class and record
 * entries (strings in bounds, labels < class_count, per-class counts that
 * sum to record_count). The unused header bytes and the extension area
 * between the last section and the trailer (a later minor version's
 * sections) are ignored (spec/FORMAT.md 1 and 4.1). O(records + classes +
 * shards).
 * Returns PV_OK, PV_ERR_TRUNCATED, PV_ERR_NOT_PVPACK, PV_ERR_VERSION,
 * PV_ERR_CORRUPT, PV_ERR_CHECKSUM, PV_ERR_LIMIT. */
PV_API pv_status pv_index_validate(const uint8_t *file, uint64_t file_size, pv_index_view *v,
                                   char *err, size_t errcap);

/* Checks the classes' record_count fields against the labels of the
 * records section: class c must count exactly the records whose label is
 * c. One pass over the records. counts is caller scratch of class_count
 * uint64_t (overwritten; may be NULL when class_count is 0). v must have
 * passed pv_index_validate. Returns PV_OK or PV_ERR_CORRUPT (err names the
 * first class that disagrees). */
PV_API pv_status pv_index_check_class_counts(const pv_index_view *v, uint64_t *counts, char *err,
                                             size_t errcap);

/* Checks that every entry's label equals the label the index gives its
 * record (global record first_record + j), which bounds it by class_count
 * too (spec/FORMAT.md 9.2 check 23). v must be a validated view of the
 * shard the index names (its record range inside the index's). One pass
 * over the table and the index's records. Returns PV_OK or PV_ERR_CORRUPT
 * (err: "record 17 (entry 5): label 4294967295 out of range (10 classes)"
 * or "... label 2 in the shard, 1 in the index"). */
PV_API pv_status pv_shard_check_labels(const pv_shard_view *v, const pv_index_view *ix,
                                       char *err, size_t errcap);

/* One entry of the records section, decoded from bytes the caller copied
 * (PV_INDEX_RECORD_SIZE of them, from pv_index_record_bytes) and checked
 * against v's validated header alone: path inside the strings section,
 * path_length <= PV_MAX_PATH_BYTES, label < class_count. For readers
 * whose index mapping another process could rewrite after validation.
 * Returns PV_OK or PV_ERR_CORRUPT. */
typedef struct pv_index_record {
  uint64_t path_offset; /* from the start of the strings section */
  uint32_t path_length;
  uint32_t label;
} pv_index_record;
PV_API pv_status pv_index_record_decode(const pv_index_view *v, const uint8_t *entry,
                                        pv_index_record *out);
/* Where record i's entry (i < record_count) lies in a validated view. */
PV_API const uint8_t *pv_index_record_bytes(const pv_index_view *v, uint64_t i);

/* Accessors on a validated view; indices must be in range (callers check
 * against header counts). Strings are NOT NUL-terminated: use the length.
 * Like pv_shard_entry they read the buffer in place. */
PV_API void pv_index_shard(const pv_index_view *v, uint32_t k, pv_shard_ref *out);
PV_API const char *pv_index_class_name(const pv_index_view *v, uint32_t c, uint32_t *len);
PV_API uint64_t pv_index_class_records(const pv_index_view *v, uint32_t c);
PV_API const char *pv_index_record_path(const pv_index_view *v, uint64_t i, uint32_t *len,
                                        uint32_t *label);
PV_API const char *pv_index_section_text(const pv_index_view *v, pv_section_id s, uint64_t *len);
/* The shard holding global record i (i < record_count): binary search over
 * the shard list, O(log shards). */
PV_API uint32_t pv_index_find_shard(const pv_index_view *v, uint64_t i);

/* ---- a shard against the index's reference to it ------------------------
 * spec/FORMAT.md 9.2 checks 20-22: what pv_dataset_open and pvpack verify
 * both check once a shard's structure is valid. Pure: they read only their
 * arguments (copies, never a mapping). */

/* Check 20: a shard file of file_size bytes against ref->file_size.
 * Returns PV_OK, PV_ERR_TRUNCATED (the file is smaller), PV_ERR_CORRUPT
 * (larger); err: "file is 336 bytes, the index says 400". */
PV_API pv_status pv_shard_matches_ref_size(uint64_t file_size, const pv_shard_ref *ref, char *err,
                                           size_t errcap);

/* Checks 20-22, in that order, for a view that passed pv_shard_validate,
 * as shard k of the index whose header is ix and whose reference to shard
 * k is ref: the file size (pv_shard_matches_ref_size), the footer checksum
 * (PV_ERR_CHECKSUM: "footer checksum differs from the one the index
 * records (a shard of another build?)"), and the header's shard index,
 * first record, record count and dataset id (PV_ERR_CORRUPT: "header says
 * shard 2, records [2, +2), dataset 0123456789abcdef; the index expects
 * shard 1, [2, +2), dataset 0123456789abcdef"). Returns the first
 * disagreement's status, PV_OK when there is none. */
PV_API pv_status pv_shard_matches_ref(const pv_shard_view *v, const pv_shard_ref *ref,
                                      const pv_index_header *ix, uint32_t k, char *err,
                                      size_t errcap);

/* ======================================================================== */
/* Writing a shard                                                          */
/* ======================================================================== */

/* pv_shard_writer lays a shard out as spec/FORMAT.md 3.2 says (payload 0
 * at 64, each next one at align64(end of the previous), zero padding, the
 * table at align64(end of the last payload), the footer right after it)
 * and encodes its header, entries and footer. It does no I/O: each call
 * says which bytes the caller writes where, in file order but for the
 * header, which is rewritten at the end (its record count is known then):
 *
 *   pv_shard_writer_begin   write `header` (64 zero bytes) at offset 0
 *   pv_shard_writer_append  write `pad` zero bytes, then the payload (it
 *                           lands at entry->offset), once per record
 *   pv_shard_writer_finish  write tail.pad zero bytes, tail.table,
 *                           tail.footer (the end of the file), then
 *                           tail.header over offset 0; tail.ref is the
 *                           index's reference to the shard
 *
 * then begin the next shard with the same writer, or destroy it. The
 * placeholder header has no magic, so a file whose writing stopped before
 * finish is never taken for a shard.
 *
 * Memory: the writer owns the record table of the open shard, 40 bytes a
 * record (PV_RECORD_ENTRY_SIZE), grown by doubling and kept for the next
 * shard: a caller bounds it by bounding the shard (pv_shard_writer_bound).
 * Entries are encoded as given (offset and checksum excepted): the writer
 * checks layout limits, not codecs, dimensions or labels, so a test can
 * write a shard that a reader must refuse. Thread-safety: one writer per
 * thread; writers share nothing. */
typedef struct pv_shard_writer pv_shard_writer;

/* *out = a new writer (no shard open). PV_OK, PV_ERR_INVALID_ARG,
 * PV_ERR_NOMEM. */
PV_API pv_status pv_shard_writer_create(pv_shard_writer **out);
PV_API void pv_shard_writer_destroy(pv_shard_writer *w); /* accepts NULL */

/* Opens shard shard_index of dataset dataset_id, whose first record is
 * global record first_record; a shard still open is dropped. header
 * receives the placeholder to write at offset 0; the first payload goes
 * at PV_SHARD_HEADER_SIZE. PV_OK, or PV_ERR_INVALID_ARG (w NULL). */
PV_API pv_status pv_shard_writer_begin(pv_shard_writer *w, uint64_t dataset_id,
                                       uint32_t shard_index, uint64_t first_record,
                                       uint8_t header[PV_SHARD_HEADER_SIZE]);

/* Adds a record. e gives length, label, width, height, codec, channels and
 * flags; the writer sets e->offset (where the payload goes) and
 * e->checksum (XXH3-64 of the length bytes at payload, which may be NULL
 * only when length is 0) and records the entry. *pad receives the number
 * of zero bytes (< PV_RECORD_ALIGN) to write before the payload.
 * PV_OK; PV_ERR_INVALID_ARG (no shard open, payload NULL); PV_ERR_LIMIT
 * (the shard already holds UINT32_MAX records, or its size would pass
 * 2^63); PV_ERR_NOMEM (the table could not grow; the shard is unchanged). */
PV_API pv_status pv_shard_writer_append(pv_shard_writer *w, pv_record_entry *e,
                                        const void *payload, uint32_t *pad);

/* Bytes of the open shard so far: the offset its next byte goes to. */
PV_API uint64_t pv_shard_writer_offset(const pv_shard_writer *w);
/* Records in the open shard. */
PV_API uint32_t pv_shard_writer_count(const pv_shard_writer *w);
/* An upper bound on the size the open shard would have if a payload of
 * length bytes were appended next and the shard then finished: offset,
 * padding and payload, PV_RECORD_ALIGN for the table's padding, the table
 * with one more entry, the footer. The packer cuts a shard where this
 * would pass its shard size. */
PV_API uint64_t pv_shard_writer_bound(const pv_shard_writer *w, uint32_t length);

/* What pv_shard_writer_finish gives, in the order it is written. */
typedef struct pv_shard_tail {
  uint32_t pad;          /* zero bytes (< PV_RECORD_ALIGN) after the last payload */
  const uint8_t *table;  /* the record table: the writer's memory, valid until the
                            next begin or destroy */
  size_t table_size;     /* record_count * PV_RECORD_ENTRY_SIZE bytes */
  uint8_t footer[PV_SHARD_FOOTER_SIZE]; /* the last 64 bytes of the file */
  uint8_t header[PV_SHARD_HEADER_SIZE]; /* the final header, for offset 0 */
  pv_shard_ref ref;      /* file_size, first_record, record_count, footer_checksum */
} pv_shard_tail;

/* Closes the open shard: the table's padding, the table, the footer and
 * the final header, and the index's reference to it. An empty shard is
 * valid (128 bytes). Then no shard is open (tail->table stays valid until
 * the next begin). PV_OK or PV_ERR_INVALID_ARG (no shard open). */
PV_API pv_status pv_shard_writer_finish(pv_shard_writer *w, pv_shard_tail *tail);

#ifdef __cplusplus
}
#endif
#endif /* PV_FORMAT_H */
