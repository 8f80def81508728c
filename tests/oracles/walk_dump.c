/* walk_dump.c - prints pvpack's ImageFolder walk of DIR as TSV, in the format
 * of tests/oracles/walk_compare.py, so the two can be diffed:
 *
 *   #class<TAB><label><TAB><class name>   (label order)
 *   <relative path><TAB><label>            (dataset order)
 *
 * Warnings go to stderr. Exit status: 0 on success, 1 on a walk error,
 * 2 on bad usage.
 *
 * Build (from the repository root):
 *   cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iformat/include -Ipack \
 *      tests/oracles/walk_dump.c pack/walk.c format/status.c -o walk_dump
 */
#include <inttypes.h>
#include <stdio.h>

#include "walk.h"

static void warn_stderr(void *ctx, const char *msg) {
  (void)ctx;
  fprintf(stderr, "warning: %s\n", msg);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  pv_walk_result r;
  char err[1024];
  pv_status st = pv__walk_imagefolder(argv[1], &r, warn_stderr, NULL, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "walk_dump: %s (%s)\n", err, pv_strerror(st));
    return 1;
  }
  fprintf(stderr, "walk_dump: pvpack walk: %" PRIu32 " classes, %zu samples\n", r.class_count,
          r.file_count);
  for (uint32_t c = 0; c < r.class_count; c++) printf("#class\t%" PRIu32 "\t%s\n", c, r.classes[c]);
  for (size_t i = 0; i < r.file_count; i++)
    printf("%s\t%" PRIu32 "\n", r.files[i].relpath, r.files[i].label);
  pv__walk_free(&r);
  return fflush(stdout) == 0 ? 0 : 1;
}
