/* merge.c - `pvpack merge OUT`: the parts of OUT/parts/ into one dataset
 * (pv_merge). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void merge_usage(FILE *f) {
  fprintf(f,
          "usage: pvpack merge OUT\n"
          "  merges OUT/parts/K-of-N/ (written by pvpack build --part K/N, K = 0..N-1) into\n"
          "  the dataset OUT; refuses a missing part or parts of other plans; only shard\n"
          "  headers, footers and the index are written; a killed merge is finished by\n"
          "  running it again\n");
}

int cmd_merge(int argc, char **argv) {
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      merge_usage(stdout);
      return 0;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "pvpack merge: unknown option %s\n", argv[i]);
      return EXIT_USAGE;
    } else if (!out) {
      out = argv[i];
    } else {
      fprintf(stderr, "pvpack merge: unexpected argument %s\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (!out) {
    merge_usage(stderr);
    return EXIT_USAGE;
  }
  pv_build_summary s;
  char err[1024] = "";
  pv_status st = pv_merge(out, &s, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "pvpack merge: %s: ", pv_strerror(st));
    pv__put_escaped(stderr, err, strlen(err));
    fputc('\n', stderr);
    return EXIT_USAGE;
  }
  printf("merged %s: %" PRIu64 " records, %" PRIu64 " skipped, %u classes, %u shards\n", out,
         s.images, s.skipped, s.classes, s.shards);
  return 0;
}
