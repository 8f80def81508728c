/* hostile_codecs.h - hostile (and a few good) record payloads of every
 * codec of the codec table, each with the status every read path must give
 * it: shared by test_codec.c (the table's entries side by side),
 * test_hostile_decode.c (pv_decoder_*, the loader's pipelines, `pvpack get`
 * and `verify --decode`) and make_hostile's codec-cases (python/tests:
 * Dataset[i] and Loader). Every builder aborts on out of memory. */
#ifndef PV_HOSTILE_CODECS_H
#define PV_HOSTILE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#include "hostile_payloads.h"
#include "pv_limits.h"
#include "pv_status.h"

typedef struct pvhc_case {
  char name[48];
  uint8_t codec;          /* PV_CODEC_* */
  uint32_t width, height; /* what the record table declares */
  pvhp_buf payload;
  int limited;            /* 1: read with `limits`; 0: the defaults */
  pv_limits limits;
  pv_status want;         /* in every read path */
} pvhc_case;

/* Every case, malloc'ed (*out), and their number. For each codec of the
 * table there are payloads that decode (PV_OK), that break its rules
 * (PV_ERR_DECODE) and that are over a limit (PV_ERR_LIMIT). */
size_t pvhc_cases(pvhc_case **out);
void pvhc_free(pvhc_case *c, size_t n);

#endif
