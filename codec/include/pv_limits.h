/* pv_limits.h - the read-side limits of one record (public; included by
 * pvpack.h, so users of the reader need not include it themselves).
 *
 * Owned by codec/, whose decoders enforce them; the reader, verify and the
 * loader take them through their options. Depends on: pv_api.h and
 * pv_option.h. Thread-safety: pv_limits_init is pure.
 */
#ifndef PV_LIMITS_H
#define PV_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "pv_api.h"
#include "pv_option.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What one record may cost a reader, checked before anything is allocated
 * for it, identically in every read path: pv_decoder_decode (and so `pvpack
 * get`, `pvpack verify --decode`, Python's Dataset[i]) and the batch loader
 * (every pipeline). A record's payload is untrusted even when its checksum
 * matches (XXH3 is not a MAC): a few hundred kilobytes can declare a
 * 65500x65500 image, a progressive JPEG whose decoder needs a coefficient
 * buffer of gigabytes, or thousands of scans that each cost a pass over the
 * image. A record over a limit fails with PV_ERR_LIMIT and a message naming
 * the limit and the values ("65500x65500 = 4290250000 pixels, over
 * max_record_pixels 178956970").
 *
 * The defaults accept every record `pvpack build` writes with its default
 * limits (whatever the resize policy: its --max-pixels default is the same
 * 178956970, its --max-file-size default is 1 GiB, and it refuses source
 * JPEGs with more than 500 scans), so they only refuse what the packer
 * would not have produced. They bound one decode to about 3 bytes per
 * allowed pixel of output plus max_decoder_memory of working memory; the
 * loader holds at most one such decode per worker thread. Lower them to
 * bound a loader on a small machine (`--max-record-pixels` etc. on the
 * command line, keyword arguments in Python).
 *
 * A zero field means "no limit beyond the format's" (spec/FORMAT.md 8).
 * The struct may grow at its end: fill it with pv_limits_init first. */
typedef struct pv_limits {
  size_t size;                 /* sizeof(pv_limits); set by _init */
  uint64_t max_record_pixels;  /* width * height of one record; default
                                  PV_LIMITS_DEFAULT_RECORD_PIXELS */
  uint64_t max_record_bytes;   /* payload bytes of one record; default
                                  PV_LIMITS_DEFAULT_RECORD_BYTES */
  uint64_t max_decoder_memory; /* working memory a decoder may need beyond
                                  the decoded pixels, estimated from the
                                  headers before decoding: a progressive or
                                  multi-scan JPEG's whole-image coefficient
                                  buffer (128 bytes per 8x8 block of each
                                  component) plus its row buffers, a zstd
                                  frame's window; default
                                  PV_LIMITS_DEFAULT_DECODER_MEMORY */
  uint32_t max_scans;          /* scans of one JPEG (progressive files have
                                  about 10; each costs a pass over the whole
                                  image); default PV_LIMITS_DEFAULT_SCANS */
} pv_limits;

#define PV_LIMITS_DEFAULT_RECORD_PIXELS 178956970ull /* 2^30 / 6: the packer's --max-pixels */
#define PV_LIMITS_DEFAULT_RECORD_BYTES (1ull << 30)  /* the packer's --max-file-size */
/* 8 bytes per allowed pixel (4 components of 2-byte coefficients) + 64 MiB
 * of row buffers: what any JPEG within the pixel limit can need. */
#define PV_LIMITS_DEFAULT_DECODER_MEMORY (8ull * PV_LIMITS_DEFAULT_RECORD_PIXELS + (64ull << 20))
#define PV_LIMITS_DEFAULT_SCANS 500u /* TurboJPEG's TJFLAG_LIMITSCANS, the packer's */

/* Fills the defaults above (from the table pv_limits_option_info exposes). */
PV_API void pv_limits_init(pv_limits *l);

/* The options table of pv_limits (pv_option.h): entry i or NULL when i >=
 * pv_limits_option_count(). Every field but size; `pvpack verify`, `get`
 * and `bench` have a flag for each, Python's Dataset and Loader a keyword. */
PV_API size_t pv_limits_option_count(void);
PV_API const pv_option_info *pv_limits_option_info(size_t i);

#ifdef __cplusplus
}
#endif
#endif /* PV_LIMITS_H */
