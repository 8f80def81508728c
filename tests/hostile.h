/* hostile.h - hand-built datasets and sandboxed runs for the hostile-dataset
 * suites.
 *
 * pvh_write_dataset writes a dataset straight from a list of records with
 * the format/ encoders, so a test can build what `pvpack build` never would
 * (a label past the class count, a payload that decompresses to 12.9 GB, a
 * JPEG with 10,000 scans) while every checksum agrees: checksums are XXH3,
 * not a MAC, and anyone who can write a dataset can make them agree, so the
 * read side must not rely on them.
 *
 * pvh_run_limited runs one read path in a child process with a memory cap
 * and a time limit, so that a missing limit shows as a failed assertion (an
 * exit status) rather than as the whole suite being killed or hanging. */
#ifndef PV_HOSTILE_H
#define PV_HOSTILE_H

#include <stddef.h>
#include <stdint.h>

#include "pv_format.h"

/* One record of a hand-built dataset. payload is copied; label goes into the
 * shard entry, index_label into the index's record entry (set both equal for
 * a consistent dataset). */
typedef struct pvh_record {
  uint8_t codec; /* PV_CODEC_* */
  uint16_t flags;
  uint8_t channels; /* 0 = 3 */
  uint32_t width, height;
  uint32_t label, index_label;
  const void *payload;
  uint32_t length;
  const char *path; /* source path stored in the index; NULL = "c<label>/<i>.jpg" */
} pvh_record;

typedef struct pvh_spec {
  uint32_t class_count;           /* classes; names "c0".."c<N-1>" unless class_names */
  const char *const *class_names; /* may be NULL */
  const uint64_t *class_counts;   /* may be NULL: counted from the records' index_label */
  const pvh_record *records;
  uint64_t record_count;
  uint32_t records_per_shard; /* 0 = all records in one shard */
  uint64_t dataset_id;        /* 0 = a fixed default */
} pvh_spec;

/* Writes dir/index.pvi and dir/shard-NNNNN.pvs (dir is created if missing)
 * with the format/ encoders, every checksum correct, payloads at 64-byte
 * aligned offsets, the layout `pvpack build` uses. The index encoder's own
 * limits still apply (a class_counts that does not sum to record_count is
 * written anyway: the index is resealed after). Returns 0 on success, -1
 * (with a line on stderr) otherwise. */
int pvh_write_dataset(const char *dir, const pvh_spec *spec);

/* One shard of records r[0..n) (shard shard_index of dataset dataset_id,
 * first global record first_record), laid out by format/'s shard writer
 * (pv_shard_writer): a malloc'ed file of *size bytes; *ref (may be NULL)
 * receives the index's reference to it. Only each record's codec, flags,
 * channels (0 = 3), width, height, label, payload and length are used.
 * NULL when out of memory or the writer refuses (a line on stderr). */
uint8_t *pvh_encode_shard(const pvh_record *r, uint32_t n, uint64_t dataset_id,
                          uint32_t shard_index, uint64_t first_record, size_t *size,
                          pv_shard_ref *ref);

/* Recompute the checksums of a shard or an index after a deliberate edit,
 * so that the edit itself (not a checksum) is what a reader trips over.
 * pvh_reseal_shard: the header checksum, the footer's copy of it, the table
 * checksum (when the footer's table_offset and the header's record_count
 * still place the table inside the file) and the footer checksum, which it
 * returns (for the index's shard reference); f holds n >= 128 bytes.
 * pvh_reseal_index: every section checksum (of the sections inside the
 * file), the header checksum and the trailer's copy; n >= 256 + 16. */
uint64_t pvh_reseal_shard(uint8_t *f, size_t n);
void pvh_reseal_index(uint8_t *f, size_t n);

/* Runs fn(arg) in a forked child whose address space may grow by at most
 * as_bytes beyond what it has at fork (RLIMIT_AS = current VmSize +
 * as_bytes, which works under ASan too: its shadow is already reserved),
 * killed after `seconds` of wall time. fn's return value (0..255) becomes
 * the exit code. Returns the exit code (0..255), PVH_SIGNALED - signo
 * (<= -1000) when the child died of a signal, or PVH_TIMEOUT when it ran
 * out of time. */
#define PVH_TIMEOUT (-1)
#define PVH_SIGNALED (-1000)
int pvh_run_limited(int (*fn)(void *), void *arg, uint64_t as_bytes, double seconds);

/* Encodes a pv_status (<= 0) as an exit code and back: PVH_ST(st) = -st,
 * so a child can report the exact status. */
#define PVH_ST(st) (-(int)(st))

#endif
