/* make_hostile.c - writes one hostile dataset for the Python suites (which
 * cannot build payloads whose checksums agree by themselves):
 *   make_hostile slow-jpeg DIR   one progressive JPEG record of 4096x4096
 *                                with 30000 scans: tens of seconds to
 *                                decode without a scan limit, refused at once
 *                                with the default one.
 * Exit 0 on success, 2 on bad usage or failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"
#include "hostile_payloads.h"
#include "pv_format.h"

int main(int argc, char **argv) {
  if (argc != 3 || strcmp(argv[1], "slow-jpeg") != 0) {
    fprintf(stderr, "usage: make_hostile slow-jpeg DIR\n");
    return 2;
  }
  pvhp_buf j = pvhp_jpeg_scans(4096, 4096, 30000, 0);
  pvh_record r;
  memset(&r, 0, sizeof r);
  r.codec = PV_CODEC_JPEG;
  r.width = r.height = 4096;
  r.payload = j.p;
  r.length = (uint32_t)j.n;
  r.path = "c0/slow.jpg";
  pvh_spec s;
  memset(&s, 0, sizeof s);
  s.class_count = 1;
  s.records = &r;
  s.record_count = 1;
  int rc = pvh_write_dataset(argv[2], &s);
  free(j.p);
  return rc == 0 ? 0 : 2;
}
